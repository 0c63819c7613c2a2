from django import forms
from django.contrib import admin
from django.db.models import OuterRef, Subquery

from .. import services
from ..actors import Actor
from ..models import Device, License, LicenseUser
from .actions import ObjectAction, ObjectActionsMixin, model_permission
from .base import LicensingAdmin
from .display import EffectiveStatusFilter, EffectiveStatusMixin
from .floating import held, release_action, slot_text


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
    list_display = ["hostname", "hardware_id", "customer", "os_ver", "is_vm", "app_ver", "last_check_in"]
    list_select_related = ["customer"]
    list_filter = ["is_vm"]
    search_fields = ["=hardware_id", "hostname", "mac_address", "customer__name"]
    autocomplete_fields = ["customer"]
    fixed_after_creation = ("customer",)
    readonly_fields = ["last_check_in", "created_at"]
    fieldsets = [
        (None, {"fields": ["customer", "hardware_id", "hostname", "os_ver", "is_vm", "vm_info", "mac_address", "ip"]}),
        ("Client", {"fields": ["app_ver", "sdk_ver", "last_check_in", "created_at"]}),
    ]

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
    def last_check_in(self, obj: Device):
        return obj.last_check_in_at


@admin.register(License)
class LicenseAdmin(ObjectActionsMixin, EffectiveStatusMixin, LicensingAdmin):
    list_display = [
        "device",
        "entitlement",
        "activated_through",
        "effective_status_badge",
        "activated_at",
        "lease_expires_at",
        "last_check_in_at",
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
        "status_changed_at",
        "activated_at",
        "deactivated_at",
        "lease_expires_at",
        "last_check_in_at",
        "floating_slot_display",
    ]
    fieldsets = [
        (None, {"fields": ["entitlement", "device", "activation_code", "license_user"]}),
        ("Status", {"fields": ["effective_status_badge", "status_reason", "status_changed_at"]}),
        (
            "Activity",
            {
                "fields": [
                    "activated_at",
                    "deactivated_at",
                    "lease_expires_at",
                    "last_check_in_at",
                    "floating_slot_display",
                ]
            },
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
            danger=True,
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

    @admin.display(description="Activated through")
    def activated_through(self, obj: License) -> str:
        return str(obj.activation_code or obj.license_user)
