"""Who runs floating entitlements now: the live slots, and releasing one."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from .. import selectors, services
from ..models import FloatingSlot, License
from .actions import ObjectAction, ObjectActionsMixin, model_permission
from .base import LicensingAdmin, ReadOnlyInline
from .display import change_link, moment_column, when

RELEASE_CONSEQUENCE = (
    "The device gives up its floating slot now, so another device can take it. It stays activated, and takes "
    "a slot again at its next check if one is free."
)


def held(obj: License) -> bool:
    """Whether a license holds a floating slot now (read once per page)."""
    slot = getattr(obj, "floating_slot", None) if obj.entitlement.is_floating else None
    return slot is not None and slot.is_live(timezone.now())


def slot_text(slot: FloatingSlot | None) -> str:
    now = timezone.now()
    if slot is None or not slot.is_live(now):
        return "No slot held"
    text = f"Held since {when(slot.taken_at)}, until {when(slot.ends_at)}"
    if slot.is_borrowed(now):
        text += f" (borrowed until {when(slot.borrowed_until)})"
    return text


def release_action(service, applies=None) -> ObjectAction:
    return ObjectAction(
        name="release-floating",
        label="Release floating slot",
        done="released",
        service=service,
        permission="deactivate",
        consequence=RELEASE_CONSEQUENCE,
        asks_reason=True,
        applies=applies,
        message="Floating slot of “{obj}” released.",
        bulk_label="Release floating slots of selected %(verbose_name_plural)s",
        bulk_done="Released the floating slots of {count} {nouns}.",
    )


@admin.register(FloatingSlot)
class FloatingSlotAdmin(ObjectActionsMixin, LicensingAdmin):
    """Slots held now, across every floating entitlement; lapsed ones are free and not listed."""

    list_display = ["device", "hostname", "entitlement", "taken", "ends", "borrowed"]
    list_select_related = ["license__device", "entitlement__customer", "entitlement__product"]
    search_fields = ["=license__device__hardware_id", "license__device__hostname", "entitlement__customer__name"]
    fields = ["license", "entitlement", "device", "hostname", "taken", "ends", "borrowed"]
    readonly_fields = fields
    service_argument = "floating_slot"
    object_actions = [release_action(services.floating_slot_release)]
    has_deactivate_permission = model_permission("licensing.deactivate_license")

    def get_queryset(self, request):
        return selectors.floating_slots()

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_fieldsets(self, request, obj=None):
        return [(None, {"fields": self.fields})]  # no audit history: the license's page has it

    @admin.display(description="Device", ordering="license__device__hardware_id")
    def device(self, obj: FloatingSlot) -> str:
        return obj.license.device.hardware_id

    @admin.display(description="Hostname", ordering="license__device__hostname")
    def hostname(self, obj: FloatingSlot) -> str:
        return obj.license.device.hostname

    @admin.display(description="Borrowed until")
    def borrowed(self, obj: FloatingSlot) -> str:
        return when(obj.borrowed_until) if obj.is_borrowed(timezone.now()) else "—"

    taken = moment_column("taken_at", "Taken at")
    ends = moment_column("ends_at", "Ends at")


class FloatingSlotInline(ReadOnlyInline):
    """On a floating entitlement's page: who holds its slots now, each with Release."""

    model = FloatingSlot
    verbose_name_plural = "Floating slots in use now"
    fields = ["license_link", "hostname", "taken", "ends", "borrowed", "release"]
    see_all_filter = "entitlement__id__exact"

    def get_queryset(self, request):
        return selectors.floating_slots()

    @admin.display(description="Device")
    def license_link(self, obj: FloatingSlot) -> str:
        return change_link(obj.license, obj.license.device.hardware_id)

    hostname = FloatingSlotAdmin.hostname
    borrowed = FloatingSlotAdmin.borrowed
    taken = FloatingSlotAdmin.taken
    ends = FloatingSlotAdmin.ends

    @admin.display(description="")
    def release(self, obj: FloatingSlot) -> str:
        url = reverse("admin:licensing_license_action", args=[obj.license_id, "release-floating"])
        return format_html('<a class="button" href="{}">Release</a>', url)
