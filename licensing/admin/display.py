"""Shared admin display: effective-status badges and filters, moments, durations and links,
each written one way on every page."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.dateparse import parse_duration
from django.utils.duration import duration_string
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from .. import rules
from ..models import Entitlement, License

# Every moment the admin's lists and pages print, to the minute, in the admin's time zone
# (UTC, as the audit history). Django's default ("Dec. 2, 2026, 2:51 p.m.") sat beside
# this on the same pages.
MOMENT_FORMAT = "Y-m-d H:i"
EMPTY = "—"


# Relations each model's __str__ reads; lists, choice widgets and histories that print
# these rows load them in the same query instead of one query per row.
STR_RELATIONS = {
    Entitlement: ("customer", "product"),
    License: ("device", "entitlement__customer", "entitlement__product"),
}


def for_display(model: type[models.Model], queryset: models.QuerySet | None = None) -> models.QuerySet:
    rows = queryset if queryset is not None else model._default_manager.all()
    related = STR_RELATIONS.get(model)
    return rows.select_related(*related) if related else rows


def when(moment: dt.datetime | None) -> str:
    return formats.date_format(timezone.localtime(moment), MOMENT_FORMAT) if moment else EMPTY


def moment_column(field: str, description: str) -> Callable[[Any, Any], str]:
    """A ModelAdmin (or inline) method showing the date-time `field` as `when` does, sorted
    by it. Given its own name in the class (a model field's name would make Django print
    the field itself, in its own format)."""

    @admin.display(description=description, ordering=field)
    def column(self, obj) -> str:
        moment = getattr(obj, field)
        if moment is None:
            return EMPTY
        # A narrow column breaks between the date and the time, never inside the date.
        day, time = when(moment).split(" ")
        return format_html('<span class="nowrap">{}</span> <span class="nowrap">{}</span>', day, time)

    return column


def status_badge(status: str, reason: str | None = None) -> str:
    """A coloured badge with the text people read: "Disabled: customer disabled"."""
    return format_html('<span class="status-badge status-{}">{}</span>', status, rules.describe(status, reason))


def trial_badge(entitlement: Entitlement) -> str:
    return mark_safe('<span class="status-badge trial-badge">Trial</span>') if entitlement.is_trial else ""


def entitlement_label(entitlement: Entitlement) -> str:
    """An entitlement where its customer has a column (or is the page) of its own: its
    product, and whether it is a trial. Its `str()` ("Studio Desktop for Acme
    Corporation") repeated both columns and wrapped onto four lines."""
    return format_html("{} {}", entitlement.product.name, trial_badge(entitlement))


def change_link(obj: models.Model | None, text: object = None) -> str:
    """A link to `obj`'s admin page, reading `text` (default: the row itself)."""
    if obj is None:
        return EMPTY
    return format_html('<a href="{}">{}</a>', change_url(obj), obj if text is None else text)


def change_url(obj: models.Model) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def changelist_url(model: type[models.Model], **filters: object) -> str:
    """The admin list of `model`, filtered by its own query parameters
    (`entitlement__id__exact=<pk>`: a foreign key to a primary key, which the admin
    accepts without a declared filter)."""
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def count_link(count: int, model: type[models.Model], **filters: object) -> str:
    """A count on a list page, leading to the list of exactly the rows it counts."""
    try:
        return format_html('<a href="{}">{}</a>', changelist_url(model, **filters), count)
    except NoReverseMatch:  # a model without an admin list
        return str(count)


class EffectiveStatusMixin:
    """For admins whose queryset carries `with_effective_status()`."""

    @admin.display(description="Effective status", ordering="effective_status")
    def effective_status_badge(self, obj) -> str:
        return status_badge(obj.effective_status, obj.effective_reason)


class EffectiveStatusFilter(admin.SimpleListFilter):
    """Filter on the annotated effective status (the queryset must carry it). Offers only
    the statuses a rule can give this model's rows: an entitlement is never revoked or
    deactivated (those are a code's and a license's), so those would always list nothing."""

    title = "effective status"
    parameter_name = "effective_status"

    def lookups(self, request, model_admin):
        paths = model_admin.model._default_manager.none().chain_paths
        possible = {rules.EffectiveStatus.ACTIVE} | {rule.status for rule in rules.RULES if rule.fact in paths}
        return [(status.value, status.label) for status in rules.EffectiveStatus if status in possible]

    def queryset(self, request, queryset):
        if self.value() in rules.EffectiveStatus.values:
            return queryset.effectively(self.value())
        return queryset


def floating_use(in_use: int, seats: int | None, *, registered: int | None = None) -> str:
    """ "3 of 5 in use": floating slots held now of those there are."""
    if seats is None:
        return EMPTY
    text = f"{in_use} of {seats} in use"
    if registered is not None:
        text += f" ({registered} registered)"
    return text


# --- Durations -----------------------------------------------------------------------------

DURATION_UNITS = (("week", 7 * 86_400), ("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1))
UNIT_NAMES = {
    "w": "week", "week": "week", "weeks": "week",
    "d": "day", "day": "day", "days": "day",
    "h": "hour", "hr": "hour", "hrs": "hour", "hour": "hour", "hours": "hour",
    "m": "minute", "min": "minute", "mins": "minute", "minute": "minute", "minutes": "minute",
    "s": "second", "sec": "second", "secs": "second", "second": "second", "seconds": "second",
}  # fmt: skip
SECONDS = dict(DURATION_UNITS)
DURATION_PART = re.compile(r"(\d+)\s*([a-z]+)")
DURATION_WORDS = re.compile(r"^\s*(\d+\s*[a-z]+[\s,]*(and\s+)?)+$")


def duration_words(value: dt.timedelta | None) -> str:
    """ "1 day", "6 hours", "1 day 6 hours": a duration as people say it (Django writes
    "1 00:00:00"). Weeks are left to days: "14 days" reads as the contract does."""
    if value is None:
        return EMPTY
    if value.microseconds or value < dt.timedelta(0):
        return duration_string(value)  # never set by people; shown exactly
    seconds, parts = int(value.total_seconds()), []
    for unit, size in DURATION_UNITS[1:]:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}{'s' if count != 1 else ''}")
    return " ".join(parts) or "0"


def parse_duration_words(text: str) -> dt.timedelta | None:
    """The inverse of `duration_words`, forgiving of abbreviations ("6h", "2 days 3 hrs");
    None for text that is not in words (Django's own formats are tried next)."""
    text = text.strip().lower()
    if len(text) > 100 or not DURATION_WORDS.match(text):
        return None
    total = 0
    for count, unit in DURATION_PART.findall(text):
        if unit not in UNIT_NAMES:
            return None
        total += int(count) * SECONDS[UNIT_NAMES[unit]]
    return dt.timedelta(seconds=total)


class DurationWordsField(forms.DurationField):
    """A duration typed and shown in words ("1 day", "6 hours"); Django's "1 00:00:00"
    and ISO 8601 are still accepted."""

    def prepare_value(self, value):
        return duration_words(value) if isinstance(value, dt.timedelta) else value

    def to_python(self, value):
        if isinstance(value, str):
            try:
                words = parse_duration_words(value)
            except OverflowError:
                message = self.error_messages["overflow"].format(
                    min_days=dt.timedelta.min.days, max_days=dt.timedelta.max.days
                )
                raise forms.ValidationError(message, code="overflow") from None
            if words is not None:
                return words
        return super().to_python(value)


# “1 00:00:00” in a model's help text, as Django writes a day.
DJANGO_DURATION = re.compile(r"“(-?\d+ \d\d:\d\d:\d\d|\d\d:\d\d:\d\d)”")


def duration_help(text: str) -> str:
    """A help text's examples of durations, in the words the field takes."""
    return DJANGO_DURATION.sub(lambda match: f"“{duration_words(parse_duration(match[1]))}”", str(text))
