from django.contrib import admin
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from .. import services
from ..models import Customer, Entitlement
from . import impacts
from .actions import ObjectAction, ObjectActionsMixin, model_permission
from .base import LicensingAdmin, ReadOnlyInline
from .display import (
    EffectiveStatusMixin,
    change_link,
    count_link,
    entitlement_label,
    floating_use,
    moment_column,
    status_badge,
)
from .portal import CustomerContactInline


class DisabledFilter(admin.SimpleListFilter):
    title = "status"  # "By status"; the parameter stays, for the links that use it
    parameter_name = "disabled"

    def lookups(self, request, model_admin):
        return [("yes", "Disabled"), ("no", "Enabled")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.disabled()
        if self.value() == "no":
            return queryset.enabled()
        return queryset


class EntitlementInline(EffectiveStatusMixin, ReadOnlyInline):
    """The customer's entitlements with their effective status, so that disabling the
    customer visibly disables every one of them."""

    model = Entitlement
    fields = ["entitlement", "seats", "valid_until_display", "effective_status_badge"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("customer", "product").with_effective_status()

    @admin.display(description="Entitlement")
    def entitlement(self, obj: Entitlement) -> str:
        return change_link(obj, entitlement_label(obj))

    valid_until_display = moment_column("valid_until", "Valid until")


@admin.register(Customer)
class CustomerAdmin(ObjectActionsMixin, LicensingAdmin):
    list_display = [
        "name",
        "kind",
        "email",
        "external_id",
        "status_badge",
        "entitlement_count",
        "floating_display",
    ]
    list_filter = [DisabledFilter, "kind"]
    search_fields = ["name", "email", "external_id"]
    readonly_fields = ["status_badge", "status_reason", "status_changed", "created"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "email", "external_id"]}),
        ("Status", {"fields": ["status_badge", "status_reason", "status_changed", "created"]}),
    ]
    inlines = [EntitlementInline, CustomerContactInline]
    create_service = staticmethod(services.customer_create)
    update_service = staticmethod(services.customer_update)
    service_argument = "customer"
    object_actions = [
        ObjectAction(
            name="disable",
            label="Disable customer",
            done="disabled",
            transition=services.CUSTOMER_DISABLE,
            service=services.customer_disable,
            permission="disable",
            consequence="Every entitlement of this customer stops working at its client's next check. "
            "Enabling the customer again restores exactly the earlier state.",
            danger=True,
            impact=impacts.customer_disable,
        ),
        ObjectAction(
            name="enable",
            label="Enable customer",
            done="enabled",
            transition=services.CUSTOMER_ENABLE,
            service=services.customer_enable,
            permission="disable",
            consequence="Entitlements work again at their clients' next check, except those disabled on their own "
            "or suspended by their transaction.",
            impact=impacts.customer_enable,
        ),
    ]
    has_disable_permission = model_permission("licensing.disable_customer")

    def get_queryset(self, request):
        # Counted for each row of the page (a subquery), not for every customer before
        # the page is cut (a JOIN and GROUP BY over all their entitlements).
        entitlements = Entitlement.objects.filter(customer=OuterRef("pk")).order_by().values("customer")
        total = Subquery(entitlements.annotate(n=Count("pk")).values("n"))
        return super().get_queryset(request).annotate(entitlement_total=Coalesce(total, 0)).with_floating_use()

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Customer) -> str:
        return status_badge(obj.status)

    @admin.display(description="Floating")
    def floating_display(self, obj: Customer) -> str:
        return floating_use(obj.floating_in_use, obj.floating_seats)

    @admin.display(description="Entitlements", ordering="entitlement_total")
    def entitlement_count(self, obj: Customer) -> str:
        return count_link(obj.entitlement_total, Entitlement, customer__id__exact=obj.pk)

    status_changed = moment_column("status_changed_at", "Status changed at")
    created = moment_column("created_at", "Created at")
