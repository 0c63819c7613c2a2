from django import forms
from django.contrib import admin, messages
from django.urls import path
from django.utils.html import format_html

from .. import services
from ..actors import Actor
from ..models import ActivationCode, Entitlement, License, LicenseTransaction, LicenseUser, Product
from ..models.features import METERING_FIELDS
from . import impacts
from .actions import ObjectAction, ObjectActionsMixin, model_permission
from .base import LicensingAdmin, ReadOnlyFormSet, ReadOnlyInline
from .customers import EntitlementInline
from .display import (
    EffectiveStatusFilter,
    EffectiveStatusMixin,
    change_link,
    changelist_url,
    entitlement_label,
    floating_use,
    moment_column,
    status_badge,
)
from .features import FeatureGrantInline, correct_usage_view, usage_bars, usage_by_day_table
from .floating import FloatingSlotInline
from .licenses import CodeLicenseInline, EntitlementLicenseInline
from .lifecycle import EndOfValidityFilter, EntitlementLifecycleMixin, TrialFilter

STATUS_FIELDS = ["status_reason", "status_changed"]
# The most codes made with a new entitlement (each is a service call with its audit event).
MAX_CODES_AT_CREATION = 100
ADD_CODE_PERMISSION = "licensing.add_activationcode"


def uses_codes(entitlement: Entitlement) -> bool:
    """Whether devices activate the entitlement with codes (not with license users)."""
    return entitlement.product.authorization_method == Product.AuthorizationMethod.LICENSE_KEY


def generate_code(*, entitlement: Entitlement, actor: Actor) -> ActivationCode:
    """The Generate code button's service: a new code of the entitlement, made as every
    code is (and audited as `activation_code.created`)."""
    return services.activation_code_create(activation_code=ActivationCode(entitlement=entitlement), actor=actor)


class StatusTimesMixin:
    status_changed = moment_column("status_changed_at", "Status changed at")


@admin.register(LicenseTransaction)
class LicenseTransactionAdmin(ObjectActionsMixin, StatusTimesMixin, LicensingAdmin):
    list_display = ["external_id", "customer", "status_badge", "processed"]
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
    inlines = [EntitlementInline]
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
            consequence="Every license provisioned by this transaction stops working at its client's next check. "
            "Resuming the transaction restores exactly the earlier state.",
            danger=True,
            impact=impacts.transaction_suspend,
        ),
        ObjectAction(
            name="resume",
            label="Resume licenses",
            done="resumed",
            transition=services.TRANSACTION_RESUME,
            service=services.transaction_resume,
            permission="suspend",
            consequence="Licenses provisioned by this transaction work again at their clients' next check, except "
            "those stopped for another reason: their customer or entitlement disabled, their code or license "
            "switched off on its own, or their validity ended.",
            impact=impacts.transaction_resume,
        ),
    ]
    has_suspend_permission = model_permission("licensing.suspend_licensetransaction")

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: LicenseTransaction) -> str:
        return status_badge(obj.status)

    processed = moment_column("processed_at", "Processed at")


class ActivationCodeInline(EffectiveStatusMixin, ReadOnlyInline):
    model = ActivationCode
    fields = ["code_link", "max_activations", "effective_status_badge", "created"]

    def get_queryset(self, request):
        return super().get_queryset(request).with_effective_status()

    @admin.display(description="Code")
    def code_link(self, obj: ActivationCode) -> str:
        return change_link(obj, obj.masked_code)

    created = moment_column("created_at", "Created at")


class LicenseUsersFormSet(ReadOnlyFormSet):
    @classmethod
    def get_default_prefix(cls) -> str:
        return "license_users"  # not the link table's own name ("LicenseUser_entitlements")


class LicenseUserInline(ReadOnlyInline):
    """Who may activate a user-based entitlement (the license users it is linked to)."""

    model = LicenseUser.entitlements.through
    formset = LicenseUsersFormSet
    verbose_name = "license user"
    verbose_name_plural = "License users"
    fields = ["license_user", "name"]
    see_all_model = LicenseUser
    see_all_filter = "entitlements__id__exact"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("licenseuser").order_by("licenseuser__username")

    @admin.display(description="License user")
    def license_user(self, obj) -> str:
        return change_link(obj.licenseuser)

    @admin.display(description="Name")
    def name(self, obj) -> str:
        return obj.licenseuser.name or "—"


class EntitlementForm(forms.ModelForm):
    activation_codes_to_create = forms.IntegerField(
        label="Activation codes to create",
        min_value=0,
        max_value=MAX_CODES_AT_CREATION,
        initial=1,
        required=False,
        help_text="Made as soon as the entitlement is saved. Each activates devices up to the entitlement's seats. "
        "Products activated by license users get none.",
    )
    # No Meta: the admin builds the form's own (model, fields) from its fieldsets.


@admin.register(Entitlement)
class EntitlementAdmin(
    ObjectActionsMixin, EntitlementLifecycleMixin, EffectiveStatusMixin, StatusTimesMixin, LicensingAdmin
):
    form = EntitlementForm
    # The product (with a Trial badge) names the entitlement beside its customer's column.
    list_display = [
        "label",
        "customer",
        "seats_display",
        "valid_from_display",
        "valid_until_display",
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
    inlines = [
        FeatureGrantInline,
        ActivationCodeInline,
        EntitlementLicenseInline,
        LicenseUserInline,
        FloatingSlotInline,
    ]
    create_service = staticmethod(services.entitlement_create)
    update_service = staticmethod(services.entitlement_update)
    service_argument = "entitlement"
    object_actions = [
        ObjectAction(
            name="generate-code",
            label="Generate code",
            done="given a new activation code",
            service=generate_code,
            permission="add_code",
            consequence="A new activation code is made for this entitlement and shown in full in the message that "
            "follows. It activates devices up to the entitlement's seats.",
            asks_reason=False,
            bulk=False,
            applies=uses_codes,
            message="Activation code {result.code} created for “{obj}”.",
        ),
        ObjectAction(
            name="disable",
            label="Disable entitlement",
            done="disabled",
            transition=services.ENTITLEMENT_DISABLE,
            service=services.entitlement_disable,
            permission="disable",
            consequence="Every license of this entitlement stops working at its client's next check. "
            "Enabling it again restores exactly the earlier state.",
            danger=True,
            impact=impacts.entitlement_disable,
        ),
        ObjectAction(
            name="enable",
            label="Enable entitlement",
            done="enabled",
            transition=services.ENTITLEMENT_ENABLE,
            service=services.entitlement_enable,
            permission="disable",
            consequence="Its licenses work again at their clients' next check, except those stopped for another "
            "reason: the customer disabled, the transaction suspended, a code or license switched off on its own.",
            impact=impacts.entitlement_enable,
        ),
    ]
    has_disable_permission = model_permission("licensing.disable_entitlement")
    has_add_code_permission = model_permission(ADD_CODE_PERMISSION)

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
        # Slots only where there are any to hold, license users only where they activate.
        shown = {
            FloatingSlotInline: obj is not None and obj.is_floating,
            LicenseUserInline: obj is not None and not uses_codes(obj),
        }
        return [inline for inline in super().get_inline_instances(request, obj) if shown.get(type(inline), True)]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None and request.user.has_perm(ADD_CODE_PERMISSION):
            (name, options), *rest = fieldsets
            fieldsets = [(name, {**options, "fields": [*options["fields"], "activation_codes_to_create"]}), *rest]
        return fieldsets

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if obj is not None or not request.user.has_perm(ADD_CODE_PERMISSION):
            form.base_fields.pop("activation_codes_to_create", None)
        return form

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        count = form.cleaned_data.get("activation_codes_to_create") or 0
        if change or not count or not request.user.has_perm(ADD_CODE_PERMISSION):
            return
        if not uses_codes(obj):
            text = f"No activation codes were made: {obj.product} is activated by license users."
            self.message_user(request, text, messages.INFO)
            return
        # In the add view's transaction: the entitlement and its codes are saved together.
        for _ in range(count):
            generate_code(entitlement=obj, actor=Actor.staff(request))
        self.message_user(request, f"{count} activation code{'s' if count != 1 else ''} created.", messages.SUCCESS)

    @admin.display(description="Entitlement", ordering="product__name")
    def label(self, obj: Entitlement) -> str:
        return entitlement_label(obj)

    valid_from_display = moment_column("valid_from", "Valid from")
    valid_until_display = moment_column("valid_until", "Valid until")

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
        if obj._state.adding:
            return "—"
        if obj.is_floating:
            text = floating_use(obj.floating_in_use, obj.seats, registered=obj.seats_used)
        else:
            text = f"{obj.seats_used} / {obj.seats}"
        # Seats are held by licenses: the count leads to them.
        return format_html('<a href="{}">{}</a>', changelist_url(License, entitlement__id__exact=obj.pk), text)


@admin.register(ActivationCode)
class ActivationCodeAdmin(ObjectActionsMixin, EffectiveStatusMixin, StatusTimesMixin, LicensingAdmin):
    list_display = ["masked_code", "entitlement", "max_activations", "effective_status_badge", "created"]
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
    inlines = [CodeLicenseInline]
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
            impact=impacts.code_stop,
        ),
        ObjectAction(
            name="enable",
            label="Enable code",
            done="enabled",
            transition=services.CODE_ENABLE,
            service=services.activation_code_enable,
            permission="disable",
            consequence="Licenses activated with this code work again at their clients' next check (unless stopped "
            "for another reason), and the code activates new devices again.",
            impact=impacts.code_enable,
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
            final=True,
            impact=impacts.code_stop,
        ),
    ]
    has_disable_permission = model_permission("licensing.disable_activationcode")
    has_revoke_permission = model_permission("licensing.revoke_activationcode")

    def get_queryset(self, request):
        return super().get_queryset(request).with_effective_status()

    created = moment_column("created_at", "Created at")
