from django import forms
from django.contrib import admin
from django.db.models import Max

from .. import services
from ..models import Device, License, LicenseUser
from .base import LicensingAdmin
from .display import EffectiveStatusFilter, EffectiveStatusMixin
from .switches import AdminSwitch, SwitchAdminMixin


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
        # On change the customer is read-only (fixed at creation), so it is not in the form.
        customer = cleaned.get("customer") if adding else self.instance.customer
        for problem in LicenseUser.entitlement_problems(customer, cleaned.get("entitlements") or ()):
            self.add_error("entitlements", problem)
        return cleaned

    def save(self, commit=True):
        user = super().save(commit=False)
        if self.cleaned_data.get("new_password"):
            user.set_password(self.cleaned_data["new_password"])
        if commit:
            user.save()
            self.save_m2m()
        return user


@admin.register(LicenseUser)
class LicenseUserAdmin(LicensingAdmin):
    form = LicenseUserForm
    list_display = ["username", "name", "customer", "last_login", "created_at"]
    list_select_related = ["customer"]
    search_fields = ["username", "name", "customer__name"]
    autocomplete_fields = ["customer", "entitlements"]
    fixed_after_creation = ("customer",)
    fieldsets = [(None, {"fields": ["customer", "username", "name", "new_password", "entitlements"]})]


@admin.register(Device)
class DeviceAdmin(LicensingAdmin):
    list_display = ["hostname", "hardware_id", "os_ver", "is_vm", "app_ver", "last_check_in"]
    list_filter = ["is_vm"]
    search_fields = ["=hardware_id", "hostname", "mac_address"]
    readonly_fields = ["last_check_in", "created_at"]
    fieldsets = [
        (None, {"fields": ["hardware_id", "hostname", "os_ver", "is_vm", "vm_info", "mac_address", "ip"]}),
        ("Client", {"fields": ["app_ver", "sdk_ver", "last_check_in", "created_at"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(last_check_in_at=Max("licenses__last_check_in_at"))

    @admin.display(description="Last check-in", ordering="last_check_in_at")
    def last_check_in(self, obj: Device):
        return obj.last_check_in_at


@admin.register(License)
class LicenseAdmin(SwitchAdminMixin, EffectiveStatusMixin, LicensingAdmin):
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
    ]
    fieldsets = [
        (None, {"fields": ["entitlement", "device", "activation_code", "license_user"]}),
        ("Status", {"fields": ["effective_status_badge", "status_reason", "status_changed_at"]}),
        ("Activity", {"fields": ["activated_at", "deactivated_at", "lease_expires_at", "last_check_in_at"]}),
    ]
    service_argument = "license"
    switches = [
        AdminSwitch(
            name="suspend",
            label="Suspend license",
            done="suspended",
            transition=services.LICENSE_SUSPEND,
            service=services.license_suspend,
            permission="licensing.suspend_license",
            consequence="The license stops working at its client's next check; it keeps its seat.",
            danger=True,
        ),
        AdminSwitch(
            name="resume",
            label="Resume license",
            done="resumed",
            transition=services.LICENSE_RESUME,
            service=services.license_resume,
            permission="licensing.suspend_license",
        ),
        AdminSwitch(
            name="deactivate",
            label="Deactivate license",
            done="deactivated",
            transition=services.LICENSE_DEACTIVATE,
            service=services.license_deactivate,
            permission="licensing.deactivate_license",
            consequence="The seat is freed at once; the device must activate again to run.",
        ),
        AdminSwitch(
            name="revoke",
            label="Revoke license",
            done="revoked",
            transition=services.LICENSE_REVOKE,
            service=services.license_revoke,
            permission="licensing.revoke_license",
            consequence="Revocation is final: this device can never activate this entitlement again.",
            danger=True,
        ),
    ]

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).with_effective_status()

    @admin.display(description="Activated through")
    def activated_through(self, obj: License) -> str:
        return str(obj.activation_code or obj.license_user)
