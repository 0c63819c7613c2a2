from django.contrib import admin
from django.urls import path

from .. import services
from ..models import ActivationCode, Entitlement, LicenseTransaction
from ..models.features import METERING_FIELDS
from .actions import ObjectAction, ObjectActionsMixin, model_permission
from .base import LicensingAdmin, ReadOnlyInline
from .display import EffectiveStatusFilter, EffectiveStatusMixin, floating_use, status_badge
from .features import FeatureGrantInline, correct_usage_view, usage_bars, usage_by_day_table
from .floating import FloatingSlotInline
from .lifecycle import EndOfValidityFilter, EntitlementLifecycleMixin, TrialFilter

STATUS_FIELDS = ["status_reason", "status_changed_at"]


@admin.register(LicenseTransaction)
class LicenseTransactionAdmin(ObjectActionsMixin, LicensingAdmin):
    list_display = ["external_id", "customer", "status_badge", "processed_at"]
    list_select_related = ["customer"]
    list_filter = ["status"]
    search_fields = ["external_id", "customer__name"]
    autocomplete_fields = ["customer"]
    fixed_after_creation = ("customer",)
    readonly_fields = ["status_badge", *STATUS_FIELDS]
    fieldsets = [
        (None, {"fields": ["external_id", "customer", "processed_at"]}),
        ("Status", {"fields": ["status_badge", *STATUS_FIELDS]}),
    ]
    create_service = staticmethod(services.transaction_create)
    update_service = staticmethod(services.transaction_update)
    service_argument = "license_transaction"
    object_actions = [
        ObjectAction(
            name="suspend",
            label="Suspend licenses",
            done="suspended",
            transition=services.TRANSACTION_SUSPEND,
            service=services.transaction_suspend,
            permission="suspend",
            consequence="Every license provisioned by this transaction stops working at its client's next check.",
            danger=True,
        ),
        ObjectAction(
            name="resume",
            label="Resume licenses",
            done="resumed",
            transition=services.TRANSACTION_RESUME,
            service=services.transaction_resume,
            permission="suspend",
        ),
    ]
    has_suspend_permission = model_permission("licensing.suspend_licensetransaction")

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: LicenseTransaction) -> str:
        return status_badge(obj.status)


class ActivationCodeInline(EffectiveStatusMixin, ReadOnlyInline):
    model = ActivationCode
    fields = ["masked_code", "max_activations", "effective_status_badge", "created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).with_effective_status()


@admin.register(Entitlement)
class EntitlementAdmin(ObjectActionsMixin, EntitlementLifecycleMixin, EffectiveStatusMixin, LicensingAdmin):
    list_display = [
        "__str__",
        "trial_badge",
        "customer",
        "product",
        "seats_display",
        "valid_from",
        "valid_until",
        "effective_status_badge",
    ]
    list_select_related = ["customer", "product", "transaction"]
    list_filter = [EffectiveStatusFilter, TrialFilter, EndOfValidityFilter, "status", "product"]
    search_fields = ["customer__name", "customer__email", "customer__external_id", "product__name", "product__code"]
    autocomplete_fields = ["customer", "transaction"]
    fixed_after_creation = ("customer", "product")
    readonly_fields = [
        "effective_status_badge",
        "seats_display",
        "usage",
        "usage_days",
        "validity_state",
        "expiry_notices_sent",
        "trial_state",
        *STATUS_FIELDS,
    ]
    fieldsets = [
        (None, {"fields": ["customer", "product", "transaction", "license_model", "seats"]}),
        (
            "Validity",
            {
                "fields": ["valid_from", "valid_until", "grace_period", "validity_state", "expiry_notices_sent"],
                "description": "The end of validity moves later with Renew (counted from the end or from now). "
                "A grace period keeps licenses working after the end while the customer renews.",
            },
        ),
        (
            "Metering",
            {
                "fields": list(METERING_FIELDS),
                "description": "Count consumption of the whole entitlement (add_consumption). Leave the limit empty "
                "for an entitlement that is not metered; features are metered on their grants.",
            },
        ),
        (
            "Usage this period",
            {
                "fields": ["usage", "usage_days"],
                "description": "What the entitlement and its consumption features counted in their current "
                "periods, and what was counted each day. A count is corrected with a reason (Correct usage, "
                "or POST /api/v1/entitlements/{id}/correct-usage), never edited in place.",
            },
        ),
        ("Floating", {"fields": ["max_activations", "floating_timeout", "max_borrow_time"]}),
        ("Client terms", {"fields": ["lease_period", "offline_grace"]}),
        ("Status", {"fields": ["effective_status_badge", "seats_display", *STATUS_FIELDS]}),
    ]
    inlines = [FeatureGrantInline, ActivationCodeInline, FloatingSlotInline]
    create_service = staticmethod(services.entitlement_create)
    update_service = staticmethod(services.entitlement_update)
    service_argument = "entitlement"
    object_actions = [
        ObjectAction(
            name="disable",
            label="Disable entitlement",
            done="disabled",
            transition=services.ENTITLEMENT_DISABLE,
            service=services.entitlement_disable,
            permission="disable",
            consequence="Every license of this entitlement stops working at its client's next check.",
            danger=True,
        ),
        ObjectAction(
            name="enable",
            label="Enable entitlement",
            done="enabled",
            transition=services.ENTITLEMENT_ENABLE,
            service=services.entitlement_enable,
            permission="disable",
        ),
    ]
    has_disable_permission = model_permission("licensing.disable_entitlement")

    def get_queryset(self, request):
        # customer and product: __str__ prints them (change page, autocomplete results).
        return (
            super()
            .get_queryset(request)
            .select_related("customer", "product")
            .with_effective_status()
            .with_floating_use()
        )

    def get_inline_instances(self, request, obj=None):
        # Slots only where there are any to hold.
        return [
            inline
            for inline in super().get_inline_instances(request, obj)
            if not isinstance(inline, FloatingSlotInline) or (obj is not None and obj.is_floating)
        ]

    @admin.display(description="Usage")
    def usage(self, obj: Entitlement) -> str:
        return usage_bars(obj) if obj.pk else "—"

    @admin.display(description="By day")
    def usage_days(self, obj: Entitlement) -> str:
        return usage_by_day_table(obj) if obj.pk else "—"

    def get_urls(self):
        view = self.admin_site.admin_view(lambda request, object_id: correct_usage_view(self, request, object_id))
        route = path("<path:object_id>/correct-usage/", view, name="licensing_entitlement_correct_usage")
        return [route, *super().get_urls()]

    @admin.display(description="Seats used")
    def seats_display(self, obj: Entitlement) -> str:
        if obj.is_floating:
            return floating_use(obj.floating_in_use, obj.seats, registered=obj.seats_used)
        return f"{obj.seats_used} / {obj.seats}"


@admin.register(ActivationCode)
class ActivationCodeAdmin(ObjectActionsMixin, EffectiveStatusMixin, LicensingAdmin):
    list_display = ["masked_code", "entitlement", "max_activations", "effective_status_badge", "created_at"]
    list_select_related = ["entitlement__customer", "entitlement__product"]
    list_filter = [EffectiveStatusFilter, "status"]
    # Exact match only: a code is a secret, so a partial match must not list neighbours.
    search_fields = ["=code", "entitlement__customer__name"]
    autocomplete_fields = ["entitlement"]
    fixed_after_creation = ("entitlement",)
    readonly_fields = ["code", "effective_status_badge", *STATUS_FIELDS]
    fieldsets = [
        (None, {"fields": ["entitlement", "code", "max_activations"]}),
        ("Status", {"fields": ["effective_status_badge", *STATUS_FIELDS]}),
    ]
    create_service = staticmethod(services.activation_code_create)
    update_service = staticmethod(services.activation_code_update)
    service_argument = "activation_code"
    object_actions = [
        ObjectAction(
            name="disable",
            label="Disable code",
            done="disabled",
            transition=services.CODE_DISABLE,
            service=services.activation_code_disable,
            permission="disable",
            consequence="Licenses activated with this code stop working at their clients' next check, "
            "and the code cannot activate new devices until it is enabled again.",
            danger=True,
        ),
        ObjectAction(
            name="enable",
            label="Enable code",
            done="enabled",
            transition=services.CODE_ENABLE,
            service=services.activation_code_enable,
            permission="disable",
        ),
        ObjectAction(
            name="revoke",
            label="Revoke code",
            done="revoked",
            transition=services.CODE_REVOKE,
            service=services.activation_code_revoke,
            permission="revoke",
            consequence="Revocation is final: the code and every license activated with it stop working "
            "for good and can never activate again.",
            danger=True,
        ),
    ]
    has_disable_permission = model_permission("licensing.disable_activationcode")
    has_revoke_permission = model_permission("licensing.revoke_activationcode")

    def get_queryset(self, request):
        return super().get_queryset(request).with_effective_status()
