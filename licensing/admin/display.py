"""Shared admin display: status badges and the audit history panel."""

from __future__ import annotations

import json

from django.contrib import admin
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.forms.models import model_to_dict
from django.template.loader import render_to_string
from django.utils.html import format_html

from .. import rules
from ..audit import Actor, record_event
from ..models import AuditEvent

AUDIT_HISTORY_ROWS = 25


def status_badge(status: str, reason: str | None = None) -> str:
    """A coloured badge with the text people read: "Disabled: customer disabled"."""
    return format_html('<span class="status-badge status-{}">{}</span>', status, rules.describe(status, reason))


class EffectiveStatusMixin:
    """For admins whose queryset carries `with_effective_status()`."""

    @admin.display(description="Effective status", ordering="effective_status")
    def effective_status_badge(self, obj) -> str:
        return status_badge(obj.effective_status, obj.effective_reason)


class AuditedAdminMixin:
    """Show each object's audit history on its page, and audit field edits made here.

    Status switches are audited by their services; this covers plain edits (seats,
    validity, names) so that the history is complete.
    """

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "audit_history"] if obj is not None else fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None:
            fieldsets = [
                (name, {**options, "fields": [f for f in options["fields"] if f != "audit_history"]})
                for name, options in fieldsets
            ]
            fieldsets.append(("Audit history", {"fields": ["audit_history"], "classes": ["audit-history"]}))
        return fieldsets

    @admin.display(description="Recent changes")
    def audit_history(self, obj) -> str:
        events = AuditEvent.objects.for_target(obj)[:AUDIT_HISTORY_ROWS]
        return render_to_string("admin/licensing/audit_history.html", {"events": events})

    def save_model(self, request, obj, form, change):
        before = _snapshot(type(obj).objects.get(pk=obj.pk), form.changed_data) if change else {}
        super().save_model(request, obj, form, change)
        if change and not form.changed_data:
            return
        # ModelAdmin.changeform_view runs inside transaction.atomic, so the edit and
        # its audit event commit together.
        record_event(
            actor=Actor.staff(request),
            action=f"{obj._meta.model_name}.{'updated' if change else 'created'}",
            target=obj,
            before=before,
            after=_snapshot(obj, form.changed_data),
        )


def _snapshot(obj: models.Model, fields: list[str]) -> dict:
    concrete = {f.name for f in obj._meta.concrete_fields}
    values = model_to_dict(obj, fields=[f for f in fields if f in concrete])
    # Round-trip through the JSON encoder so dates, durations and UUIDs store as text.
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder)) if values else {}


class EffectiveStatusFilter(admin.SimpleListFilter):
    """Filter on the annotated effective status (the queryset must carry it)."""

    title = "effective status"
    parameter_name = "effective_status"

    def lookups(self, request, model_admin):
        return rules.EffectiveStatus.choices

    def queryset(self, request, queryset):
        if self.value() in rules.EffectiveStatus.values:
            return queryset.filter(effective_status=self.value())
        return queryset
