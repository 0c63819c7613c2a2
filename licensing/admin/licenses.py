from django import forms
from django.contrib import admin
from django.db.models import OuterRef, Subquery

from .. import services
from ..actors import Actor
from ..models import Device, License, LicenseUser
from .actions import ObjectAction, ObjectActionsMixin, model_permission
from .base import LicensingAdmin, ReadOnlyInline
from .display import (
    EMPTY,
    EffectiveStatusFilter,
    EffectiveStatusMixin,
    change_link,
    entitlement_label,
    moment_column,
    when,
)
from .floating import held, release_action, slot_text

# A license's lease ends with it: a deactivated or revoked one runs on no lease.
LEASELESS = (License.Status.DEACTIVATED, License.Status.REVOKED)


class LicenseColumnsMixin:
    """Columns a license shows in lists: its own list and those on other records' pages."""

    @admin.display(description="Device", ordering="device__hostname")
    def device_link(self, obj: License) -> str:
        return change_link(obj, obj.device)

    @admin.display(description="Activated through")
    def activated_through(self, obj: License) -> str:
        # A code by its last characters (as its masked form ends), short enough for a column.
        if obj.activation_code is not None:
            return f"Code …{obj.activation_code.code[-4:]}"
        return str(obj.license_user or EMPTY)

    @admin.display(description="Lease expires at", ordering="lease_expires_at")
    def lease_expires(self, obj: License) -> str:
        return EMPTY if obj.status in LEASELESS else when(obj.lease_expires_at)

    last_check_in = moment_column("last_check_in_at", "Last check-in")
    activated = moment_column("activated_at", "Activated at")


class EntitlementLicenseInline(LicenseColumnsMixin, EffectiveStatusMixin, ReadOnlyInline):
    """An entitlement's licenses: which devices hold it, through what, and whether they work."""

    model = License
    fields = ["device_link", "hardware_id", "activated_through", "effective_status_badge", "last_check_in"]

    def get_queryset(self, request):
        related = ("device", "activation_code", "license_user")
        return super().get_queryset(request).select_related(*related).with_effective_status()

    @admin.display(description="Hardware id")
    def hardware_id(self, obj: License) -> str:
        return obj.device.hardware_id


class CodeLicenseInline(EntitlementLicenseInline):
    """The licenses an activation code activated."""

    fields = ["device_link", "hardware_id", "effective_status_badge", "last_check_in", "lease_expires"]


class DeviceLicenseInline(LicenseColumnsMixin, EffectiveStatusMixin, ReadOnlyInline):
    """A device's licenses: what it runs."""

    model = License
    fields = ["entitlement_link", "activated_through", "effective_status_badge", "last_check_in"]

    def get_queryset(self, request):
        related = ("entitlement__product", "entitlement__customer", "activation_code", "license_user")
        return super().get_queryset(request).select_related(*related).with_effective_status()

    @admin.display(description="Entitlement")
    def entitlement_link(self, obj: License) -> str:
        return change_link(obj, entitlement_label(obj.entitlement))


class LicenseUserForm(forms.ModelForm):
    new_password = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Set a new password. Leave empty to keep the current one.",
    )

    class Meta:
        model = LicenseUser
        fields = ["customer", "username", "name", "entitlements"]

    def clean(self):
        cleaned = super().clean()
        # A new row already has its UUID, so `_state.adding`, not the pk, says it is new.
        adding = self.instance._state.adding
        if adding and not cleaned.get("new_password"):
            self.add_error("new_password", "A new license user needs a password.")
        # Said here, beside the field, before the service refuses it too (under its lock).
        # On change the customer is read-only (fixed at creation), so it is not in the form.
        customer = cleaned.get("customer") if adding else self.instance.customer
        for problem in LicenseUser.entitlement_problems(customer, cleaned.get("entitlements") or ()):
            self.add_error("entitlements", problem)
        return cleaned


@admin.register(LicenseUser)
class LicenseUserAdmin(LicensingAdmin):
    form = LicenseUserForm
    list_display = ["username", "name", "customer", "last_login", "created_at"]
    list_select_related = ["customer"]
    search_fields = ["username", "name", "customer__name"]
    autocomplete_fields = ["customer", "entitlements"]
    fixed_after_creation = ("customer",)
    fieldsets = [(None, {"fields": ["customer", "username", "name", "new_password", "entitlements"]})]
    update_service = staticmethod(services.license_user_update)
    service_argument = "license_user"

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        services.license_user_create(
            license_user=obj,
            password=form.cleaned_data["new_password"],
            entitlements=form.cleaned_data["entitlements"],
            actor=Actor.staff(request),
        )
        return None

    def changed_values(self, form) -> dict:
        values = super().changed_values(form)
        if "new_password" in values:
            values["password"] = values.pop("new_password")
        return values


@admin.register(Device)
class DeviceAdmin(LicensingAdmin):
    list_display = ["__str__", "hardware_id", "customer", "os_ver", "is_vm", "app_ver", "last_check_in"]
    list_select_related = ["customer"]
    list_filter = ["is_vm"]
    search_fields = ["=hardware_id", "hostname", "mac_address", "customer__name"]
    autocomplete_fields = ["customer"]
    fixed_after_creation = ("customer",)
    readonly_fields = ["last_check_in", "created"]
    fieldsets = [
        (None, {"fields": ["customer", "hardware_id", "hostname", "os_ver", "is_vm", "vm_info", "mac_address", "ip"]}),
        ("Client", {"fields": ["app_ver", "sdk_ver", "last_check_in", "created"]}),
    ]
    inlines = [DeviceLicenseInline]

    create_service = staticmethod(services.device_create)
    update_service = staticmethod(services.device_update)
    service_argument = "device"

    def get_queryset(self, request):
        # The latest of the device's licenses' check-ins, read for each row of the page
        # (a subquery), not grouped over every device's licenses before the page is cut.
        latest = License.objects.filter(device=OuterRef("pk"), last_check_in_at__isnull=False)
        return (
            super()
            .get_queryset(request)
            .annotate(last_check_in_at=Subquery(latest.order_by("-last_check_in_at").values("last_check_in_at")[:1]))
        )

    @admin.display(description="Last check-in", ordering="last_check_in_at")
    def last_check_in(self, obj: Device) -> str:
        # Annotated on lists; a page reads it from the licenses shown below.
        return when(getattr(obj, "last_check_in_at", None))

    created = moment_column("created_at", "Created at")


@admin.register(License)
class LicenseAdmin(ObjectActionsMixin, LicenseColumnsMixin, EffectiveStatusMixin, LicensingAdmin):
    # The entitlement by its product, beside its customer's own column.
    list_display = [
        "device",
        "entitlement_short",
        "customer",
        "activated_through",
        "effective_status_badge",
        "last_check_in",
        "lease_expires",
    ]
    list_select_related = [
        "device",
        "entitlement__customer",
        "entitlement__product",
        "activation_code",
        "license_user",
    ]
    list_filter = [EffectiveStatusFilter, "status"]
    search_fields = [
        "=device__hardware_id",
        "device__hostname",
        "entitlement__customer__name",
        "=activation_code__code",
    ]
    # Licenses come from activations (client API, portal), never from a blank form.
    readonly_fields = [
        "entitlement",
        "device",
        "activation_code",
        "license_user",
        "effective_status_badge",
        "status_reason",
        "status_changed",
        "activated",
        "deactivated",
        "lease_expires",
        "last_check_in",
        "floating_slot_display",
    ]
    fieldsets = [
        (None, {"fields": ["entitlement", "device", "activation_code", "license_user"]}),
        ("Status", {"fields": ["effective_status_badge", "status_reason", "status_changed"]}),
        (
            "Activity",
            {"fields": ["activated", "deactivated", "lease_expires", "last_check_in", "floating_slot_display"]},
        ),
    ]
    service_argument = "license"
    object_actions = [
        ObjectAction(
            name="suspend",
            label="Suspend license",
            done="suspended",
            transition=services.LICENSE_SUSPEND,
            service=services.license_suspend,
            permission="suspend",
            consequence="The license stops working at its client's next check; it keeps its seat.",
            danger=True,
        ),
        ObjectAction(
            name="resume",
            label="Resume license",
            done="resumed",
            transition=services.LICENSE_RESUME,
            service=services.license_resume,
            permission="suspend",
            consequence="The license works again at its client's next check, unless its customer, entitlement, "
            "transaction or code is switched off.",
        ),
        ObjectAction(
            name="deactivate",
            label="Deactivate license",
            done="deactivated",
            transition=services.LICENSE_DEACTIVATE,
            service=services.license_deactivate,
            permission="deactivate",
            consequence="The seat is freed at once; the device must activate again to run.",
        ),
        ObjectAction(
            name="revoke",
            label="Revoke license",
            done="revoked",
            transition=services.LICENSE_REVOKE,
            service=services.license_revoke,
            permission="revoke",
            consequence="Revocation is final: this device can never activate this entitlement again.",
            final=True,
        ),
        release_action(services.license_floating_release, applies=held),
    ]
    has_suspend_permission = model_permission("licensing.suspend_license")
    has_deactivate_permission = model_permission("licensing.deactivate_license")
    has_revoke_permission = model_permission("licensing.revoke_license")

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).with_effective_status()

    @admin.display(description="Floating slot")
    def floating_slot_display(self, obj: License) -> str:
        if not obj.entitlement.is_floating:
            return "Node-locked: no floating slot"
        return slot_text(getattr(obj, "floating_slot", None))

    @admin.display(description="Entitlement", ordering="entitlement__product__name")
    def entitlement_short(self, obj: License) -> str:
        return entitlement_label(obj.entitlement)

    @admin.display(description="Customer", ordering="entitlement__customer__name")
    def customer(self, obj: License) -> str:
        return obj.entitlement.customer.name

    status_changed = moment_column("status_changed_at", "Status changed at")
    deactivated = moment_column("deactivated_at", "Deactivated at")
