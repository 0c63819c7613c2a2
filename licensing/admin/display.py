"""Shared admin display: effective-status badges and filters."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from .. import rules


def status_badge(status: str, reason: str | None = None) -> str:
    """A coloured badge with the text people read: "Disabled: customer disabled"."""
    return format_html('<span class="status-badge status-{}">{}</span>', status, rules.describe(status, reason))


class EffectiveStatusMixin:
    """For admins whose queryset carries `with_effective_status()`."""

    @admin.display(description="Effective status", ordering="effective_status")
    def effective_status_badge(self, obj) -> str:
        return status_badge(obj.effective_status, obj.effective_reason)


class EffectiveStatusFilter(admin.SimpleListFilter):
    """Filter on the annotated effective status (the queryset must carry it)."""

    title = "effective status"
    parameter_name = "effective_status"

    def lookups(self, request, model_admin):
        return rules.EffectiveStatus.choices

    def queryset(self, request, queryset):
        if self.value() in rules.EffectiveStatus.values:
            return queryset.effectively(self.value())
        return queryset


def floating_use(in_use: int, seats: int | None, *, registered: int | None = None) -> str:
    """ "3 of 5 in use": floating slots held now of those there are."""
    if seats is None:
        return "—"
    text = f"{in_use} of {seats} in use"
    if registered is not None:
        text += f" ({registered} registered)"
    return text
