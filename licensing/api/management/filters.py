"""Filters of the list endpoints (django-filter). A value that is not one the field
takes (an unknown status, a malformed id or date, a boolean other than true or false) is
a 400, never an empty page; an id of the right form that names no row finds nothing.
An empty value (`?status=`) is no filter."""

from __future__ import annotations

import datetime as dt

import django_filters as filters
from django import forms
from django.db import models
from drf_spectacular.utils import extend_schema_field

from ... import rules
from ...models import (
    ActivationCode,
    AuditEvent,
    Customer,
    Device,
    Entitlement,
    EntitlementFeature,
    License,
    LicenseTransaction,
    LicenseUser,
    Product,
    ProductFeature,
)
from ...models.base import normalize_address
from ...models.entitlements import MAX_TERM


class TrueOrFalse(forms.NullBooleanField):
    """`true` or `false` (`True`/`1`, `False`/`0` too); anything else is refused, where
    django-filter's own field reads it as no filter."""

    widget = forms.TextInput
    VALUES = {"true": True, "True": True, "1": True, "false": False, "False": False, "0": False}

    def to_python(self, value: str | None) -> bool | None:
        if value in (None, ""):
            return None
        if value not in self.VALUES:
            raise forms.ValidationError("Either true or false.", code="invalid")
        return self.VALUES[value]


class BooleanFilter(filters.BooleanFilter):
    field_class = TrueOrFalse


class Filters(filters.FilterSet):
    """The base of every list's filters: a relation is filtered by the id of the row
    it names (a `UUIDFilter`, no query to check the row exists), and booleans strictly."""

    FILTER_DEFAULTS = {
        **filters.FilterSet.FILTER_DEFAULTS,
        models.ForeignKey: {"filter_class": filters.UUIDFilter},
        models.OneToOneField: {"filter_class": filters.UUIDFilter},
        models.BooleanField: {"filter_class": BooleanFilter},
    }


class TimestampedFilters(Filters):
    """`created_after`, `created_before`, `updated_after`, `updated_before` (ISO 8601)."""

    created = filters.IsoDateTimeFromToRangeFilter(field_name="created_at")
    updated = filters.IsoDateTimeFromToRangeFilter(field_name="updated_at")


class EffectiveStatusFilters(TimestampedFilters):
    """`effective_status` and `effective_reason`, on the list query's annotation, through
    the indexes of the facts that decide them (`effectively`)."""

    effective_status = filters.ChoiceFilter(choices=rules.EffectiveStatus.choices, method="effectively")
    effective_reason = filters.ChoiceFilter(choices=rules.Reason.choices, method="effectively")

    def effectively(self, queryset, name, value):
        by = {"reason": value} if name == "effective_reason" else {"status": value}
        return queryset.effectively(**by)


class ProductFilters(TimestampedFilters):
    class Meta:
        model = Product
        fields = ["code", "authorization_method"]


class ProductFeatureFilters(TimestampedFilters):
    class Meta:
        model = ProductFeature
        fields = ["product", "code", "feature_type"]


class EntitlementFeatureFilters(TimestampedFilters):
    feature = filters.CharFilter(field_name="feature__code", help_text="The feature's code.")

    class Meta:
        model = EntitlementFeature
        fields = ["entitlement", "feature"]


class CustomerFilters(EffectiveStatusFilters):
    class Meta:
        model = Customer
        fields = ["status", "kind", "external_id", "email"]


class LicenseTransactionFilters(TimestampedFilters):
    processed = filters.IsoDateTimeFromToRangeFilter(field_name="processed_at")

    class Meta:
        model = LicenseTransaction
        fields = ["status", "customer", "external_id"]


class DaysFilter(filters.NumberFilter):
    """A whole number of days, 1 to MAX_TERM's: anything else is refused (400)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, min_value=1, max_value=MAX_TERM.days, **kwargs)
        # The schema of this filter, bounds and words (drf-spectacular takes a filter's
        # description from its help text only when it guesses the type itself).
        schema = {"type": "integer", "minimum": 1, "maximum": MAX_TERM.days}
        extend_schema_field({**schema, "description": self.extra.get("help_text", "")})(self)


class EntitlementFilters(EffectiveStatusFilters):
    product_code = filters.CharFilter(field_name="product__code")
    customer_external_id = filters.CharFilter(field_name="customer__external_id")
    transaction_external_id = filters.CharFilter(field_name="transaction__external_id")
    valid_until = filters.IsoDateTimeFromToRangeFilter()
    is_trial = BooleanFilter(
        help_text="true: trials only (handed out to client applications and not converted yet); false: the others."
    )
    expiring_within = DaysFilter(
        method="expiring",
        help_text="Only entitlements whose end of validity is between now and this many days from now: those "
        "that will end, not those that ended (in grace or expired).",
    )

    class Meta:
        model = Entitlement
        fields = ["status", "customer", "product", "transaction", "is_trial"]

    def expiring(self, queryset, name: str, days: int):
        return queryset.ending_within(dt.timedelta(days=days))


class ActivationCodeFilters(EffectiveStatusFilters):
    customer = filters.UUIDFilter(field_name="entitlement__customer")
    product = filters.UUIDFilter(field_name="entitlement__product")

    class Meta:
        model = ActivationCode
        fields = ["status", "entitlement"]


class LicenseUserFilters(TimestampedFilters):
    entitlement = filters.UUIDFilter(field_name="entitlements")
    username = filters.CharFilter(method="by_username", help_text="Matches whatever the case.")

    class Meta:
        model = LicenseUser
        fields = ["customer", "username"]

    def by_username(self, queryset, name: str, value: str):
        return queryset.filter(username=normalize_address(value))  # stored normalized


class DeviceFilters(TimestampedFilters):
    class Meta:
        model = Device
        fields = ["customer", "hardware_id", "is_vm"]


class LicenseFilters(EffectiveStatusFilters):
    customer = filters.UUIDFilter(field_name="entitlement__customer")
    product = filters.UUIDFilter(field_name="entitlement__product")
    hardware_id = filters.CharFilter(field_name="device__hardware_id")
    last_check_in = filters.IsoDateTimeFromToRangeFilter(field_name="last_check_in_at")

    class Meta:
        model = License
        fields = ["status", "entitlement", "device", "activation_code", "license_user"]


class AuditEventFilters(Filters):
    occurred = filters.IsoDateTimeFromToRangeFilter(field_name="occurred_at")

    class Meta:
        model = AuditEvent
        fields = ["action", "actor_type", "target_type", "target_id"]
