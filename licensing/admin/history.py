"""The audit trail in words: what each record's page, its History page and the audit log
show of an `AuditEvent` ("Seats: 5 → 8", "License transaction", "1 day"), where the rows
store field names, model labels and JSON."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils.dateparse import parse_datetime, parse_duration
from django.utils.text import Truncator, capfirst

from ..models import AuditEvent
from .display import EMPTY, duration_words, for_display, when

# Kept with every switch, but shown in their own columns (When, Reason): not again as changes.
SHOWN_APART = frozenset({"status_reason", "status_changed_at"})
# Changes listed in full; a longer list (a record's creation) is folded.
CHANGES_UNFOLDED = 4
VALUE_CHARS = 120

ISO_MOMENT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")
ISO_DURATION = re.compile(r"^-?P(\d+D)?(T[\dHMS.]+)?$")


def target_model(target_type: str) -> type[models.Model] | None:
    """The model an event's `target_type` ("licensing.licensetransaction") names."""
    try:
        return apps.get_model(target_type) if target_type else None
    except (LookupError, ValueError):
        return None


def target_label(target_type: str) -> str:
    """ "License transaction" for "licensing.licensetransaction"."""
    model = target_model(target_type)
    if model is None:
        return target_type or EMPTY
    return capfirst(model._meta.verbose_name)


def target_url(event: AuditEvent) -> str | None:
    """The admin page of what the event is about, if it names a record with a page."""
    model = target_model(event.target_type)
    if model is None or event.target_id is None or not admin.site.is_registered(model):
        return None
    try:
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[event.target_id])
    except NoReverseMatch:
        return None


def who(event: AuditEvent) -> str:
    """ "root", "load_demo (System)": the actor's name, and what it is when that says more."""
    label = event.actor_label or event.get_actor_type_display()
    if event.actor_type != AuditEvent.ActorType.STAFF and event.actor_label:
        label = f"{label} ({event.get_actor_type_display()})"
    return f"{label}, {event.ip}" if event.ip else label


@dataclass(frozen=True)
class Change:
    label: str
    before: str | None  # None: the event has no "before" (a creation): only the value set
    after: str


@dataclass
class HistoryRow:
    event: AuditEvent
    when: str
    who: str
    changes: list[Change] = field(default_factory=list)

    @property
    def folded(self) -> bool:
        return len(self.changes) > CHANGES_UNFOLDED


def history_rows(events: Iterable[AuditEvent]) -> list[HistoryRow]:
    """The events in words. Records the events name by id (a customer, the entitlements
    of a license user) are read once per model for all the rows, not once per value."""
    events = list(events)
    names = _names(events)
    return [
        HistoryRow(event=event, when=when(event.occurred_at), who=who(event), changes=changes(event, names))
        for event in events
    ]


def changes(event: AuditEvent, names: dict[type[models.Model], dict[str, str]] | None = None) -> list[Change]:
    model = target_model(event.target_type)
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    rows = []
    for key in dict.fromkeys([*before, *after]):
        if key in SHOWN_APART:
            continue
        model_field = _field(model, key)
        # Without any "before" (a creation, an activation) only the values set are listed.
        old = words(before.get(key), model_field, names) if before else None
        rows.append(Change(_label(model_field, key), old, words(after.get(key), model_field, names)))
    return rows


def words(value: Any, model_field: models.Field | None = None, names: dict | None = None) -> str:
    """One stored value as people read it."""
    if value is None or value == "" or value == []:
        return EMPTY
    if _names_rows(model_field) and names is not None:
        model = model_field.related_model
        known = names.get(model, {})
        if isinstance(value, list):
            return _short(", ".join(known.get(str(item), "a removed record") for item in value))
        return _short(known.get(str(value), "a removed record"))
    if model_field is not None and model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return _short(_text(value))
    if isinstance(value, list):
        # Feature grants and the like: their codes say which.
        items = [item.get("code", item) if isinstance(item, dict) else item for item in value]
        return _short(", ".join(words(item) for item in items))
    if isinstance(value, dict):
        return _short(", ".join(f"{_label(None, key).lower()}: {words(item)}" for key, item in value.items()))
    return str(value)


def _text(value: str) -> str:
    if ISO_MOMENT.match(value) and (moment := parse_datetime(value)) is not None:
        return when(moment)
    if ISO_DURATION.match(value) and (duration := parse_duration(value)) is not None:
        return duration_words(duration)
    return value


def _short(text: str) -> str:
    return Truncator(text).chars(VALUE_CHARS)


def _field(model: type[models.Model] | None, name: str) -> models.Field | None:
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def _label(model_field: models.Field | None, key: str) -> str:
    name = getattr(model_field, "verbose_name", None) or key.replace("_", " ")
    return capfirst(str(name))


def _names(events: Sequence[AuditEvent]) -> dict[type[models.Model], dict[str, str]]:
    """{model: {id: str(row)}} for every related record the events name."""
    wanted: dict[type[models.Model], set[uuid.UUID]] = defaultdict(set)
    for event in events:
        model = target_model(event.target_type)
        for values in (event.before, event.after):
            for key, value in (values or {}).items() if isinstance(values, dict) else ():
                model_field = _field(model, key)
                if not _names_rows(model_field) or value in (None, ""):
                    continue
                for item in value if isinstance(value, list) else [value]:
                    if pk := _uuid(item):
                        wanted[model_field.related_model].add(pk)
    return {
        model: {str(row.pk): str(row) for row in for_display(model).filter(pk__in=pks)} for model, pks in wanted.items()
    }


def _names_rows(model_field: models.Field | None) -> bool:
    """Whether a field holds ids of rows this app names (every one of them has a UUID)."""
    return (
        model_field is not None
        and model_field.is_relation
        and isinstance(model_field.related_model._meta.pk, models.UUIDField)
    )


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
