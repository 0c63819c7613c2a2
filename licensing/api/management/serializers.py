"""What the management API takes. Input serializers check the shape of a request (types,
lengths, choices, that referenced rows exist); the services check the rules across rows
and write; the answer is the row's representation (licensing/representations/).

Nothing here saves anything: a view hands `validated_data` to a service."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import relations, serializers

from ...models import (
    ActivationCode,
    Customer,
    Device,
    Entitlement,
    EntitlementFeature,
    LicenseTransaction,
    LicenseUser,
    Product,
    ProductFeature,
)
from ...models.base import normalize_address
from ...models.catalog import TRIAL_FIELDS
from ...models.entitlements import MAX_GRACE, MAX_TERM, MIN_LEASE
from ...models.features import GRANT_FIELDS, METERING_FIELDS, value_problem
from ...representations.fields import Seconds
from ...services.renewals import MAX_RENEWAL_DAYS, RENEWAL_STARTS

# JSON values of the documented type only. DRF reads 5 as "5", "true" as True and {} as an
# empty list; the schema says what each field takes, and a request that sends something
# else is refused (400), not read as something it did not say.


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictEmailField(StrictCharField, serializers.EmailField):
    pass


class StrictSlugField(StrictCharField, serializers.SlugField):
    pass


class StrictURLField(StrictCharField, serializers.URLField):
    pass


class StrictIPAddressField(StrictCharField, serializers.IPAddressField):
    pass


class StrictChoiceField(serializers.ChoiceField):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictListField(serializers.ListField):
    """A JSON list, no longer than `max_length`, counted before any item is checked: a
    body of a million items is refused at once, not item by item."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, list) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


@extend_schema_field({"type": "object", "additionalProperties": True})
class JSONObjectField(serializers.JSONField):
    """A JSON object (features): not a list, a number or text that would parse as one."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError('A JSON object, for example {"export": true}.')
        return super().to_internal_value(data)


class StrictManyRelatedField(relations.ManyRelatedField):
    """A JSON list of ids, at most MAX_ITEMS of them: each costs a query to find."""

    MAX_ITEMS = 1000
    default_error_messages = {"too_many": f"At most {MAX_ITEMS} ids."}

    def to_internal_value(self, data: Any) -> list:
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        if len(data) > self.MAX_ITEMS:
            self.fail("too_many")
        return super().to_internal_value(data)


class StrictPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)

    @classmethod
    def many_init(cls, *args: Any, **kwargs: Any) -> StrictManyRelatedField:
        child = cls(*args, **{k: v for k, v in kwargs.items() if k not in relations.MANY_RELATION_KWARGS})
        return StrictManyRelatedField(
            child_relation=child, **{k: v for k, v in kwargs.items() if k in relations.MANY_RELATION_KWARGS}
        )


class ClosedInput:
    # Refuses a body naming a field the request does not take (a typo such as `seat`, a
    # read-only field), rather than ignoring it and answering as if the change were made.
    # (Comments, not a docstring, here and below: the schema shows a docstring as the
    # description of every input.)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(name) for name in data if name not in writable)
            if unknown:
                # A few names, shortened: a body of a million keys is not echoed back.
                refused = {name[:100]: ["Not a field of this request."] for name in unknown[:10]}
                raise serializers.ValidationError(refused)
        return super().to_internal_value(data)


class InputSerializer(ClosedInput, serializers.ModelSerializer):
    # Checks the shape of what a request sends. Saving is the resource's service's.

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.EmailField: StrictEmailField,
        models.SlugField: StrictSlugField,
        models.URLField: StrictURLField,
        models.GenericIPAddressField: StrictIPAddressField,
        models.BooleanField: StrictBooleanField,
        models.IntegerField: StrictIntegerField,
        models.PositiveIntegerField: StrictIntegerField,
        models.PositiveSmallIntegerField: StrictIntegerField,
        models.PositiveBigIntegerField: StrictIntegerField,
        models.JSONField: JSONObjectField,
    }
    serializer_choice_field = StrictChoiceField
    serializer_related_field = StrictPrimaryKeyRelatedField

    def create(self, validated_data: dict[str, Any]):
        raise NotImplementedError("Input serializers never save: hand validated_data to the resource's service.")

    def update(self, instance, validated_data: dict[str, Any]):
        raise NotImplementedError("Input serializers never save: hand validated_data to the resource's service.")


class BoundedSeconds(StrictIntegerField, Seconds):
    """A duration given as whole seconds, within bounds (input serializers use it)."""

    def __init__(self, *, minimum: dt.timedelta, maximum: dt.timedelta, **kwargs) -> None:
        super().__init__(min_value=int(minimum.total_seconds()), max_value=int(maximum.total_seconds()), **kwargs)
        # The bounds are checked on the number below: validators would see the duration.
        self.validators = []

    def to_internal_value(self, data) -> dt.timedelta:
        seconds = StrictIntegerField.to_internal_value(self, data)
        if seconds < self.min_value:
            self.fail("min_value", min_value=self.min_value)
        if seconds > self.max_value:
            self.fail("max_value", max_value=self.max_value)
        return dt.timedelta(seconds=seconds)


class ProductInputSerializer(InputSerializer):
    # By code, as the product representation shows them. Left out, the trial's features stay.
    trial_features = StrictListField(
        child=StrictCharField(max_length=100),
        max_length=StrictManyRelatedField.MAX_ITEMS,
        required=False,
        help_text="Codes of the product's own features that a trial grants (an empty list: none). A new product "
        "has no features yet: add them (product-features), then list them here by editing the product.",
    )

    class Meta:
        model = Product
        fields = ["code", "name", "authorization_method", *TRIAL_FIELDS]

    def validate_trial_features(self, codes: list[str]) -> list[ProductFeature]:
        codes = list(dict.fromkeys(codes))  # a code named twice is granted once
        found = {}
        if self.instance is not None and codes:  # a new product has no features to name
            found = {f.code: f for f in ProductFeature.objects.filter(product=self.instance, code__in=codes)}
        unknown = [code for code in codes if code not in found]
        if unknown:
            raise serializers.ValidationError([f"The product has no feature {code}." for code in unknown[:10]])
        return [found[code] for code in codes]


class CustomerInputSerializer(InputSerializer):
    class Meta:
        model = Customer
        fields = ["name", "kind", "email", "external_id"]


class LicenseTransactionInputSerializer(InputSerializer):
    class Meta:
        model = LicenseTransaction
        fields = ["customer", "external_id", "processed_at"]


class EntitlementInputSerializer(InputSerializer):
    lease_period = BoundedSeconds(minimum=MIN_LEASE, maximum=MAX_TERM, required=False)
    offline_grace = BoundedSeconds(minimum=dt.timedelta(0), maximum=MAX_TERM, required=False)
    grace_period = BoundedSeconds(
        minimum=dt.timedelta(0),
        maximum=MAX_GRACE,
        required=False,
        help_text="Seconds licenses keep working after valid_until, while the customer renews "
        f"(at most {MAX_GRACE.days} days). 0: none.",
    )

    class Meta:
        model = Entitlement
        fields = [
            "customer",
            "product",
            "transaction",
            "license_model",
            "seats",
            "max_activations",
            "floating_timeout",
            "max_borrow_time",
            "valid_from",
            "valid_until",
            *METERING_FIELDS,
            "lease_period",
            "offline_grace",
            "grace_period",
        ]


class ProductFeatureInputSerializer(InputSerializer):
    class Meta:
        model = ProductFeature
        fields = ["product", "code", "name", "feature_type"]


class FeatureValueField(serializers.JSONField):
    # true or false, a whole number or short text: what a client compares or shows.

    def to_internal_value(self, data: Any) -> Any:
        if problem := value_problem(data):
            raise serializers.ValidationError(problem)
        return data


class EntitlementFeatureInputSerializer(InputSerializer):
    # The feature by its code, among the entitlement's product's features.
    feature = StrictCharField(max_length=100)
    value = FeatureValueField(required=False, allow_null=True)

    class Meta:
        model = EntitlementFeature
        fields = ["entitlement", *GRANT_FIELDS]
        # Once per entitlement and feature: the service says so (the feature is a code here).
        validators = []

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        entitlement = attrs.get("entitlement") or getattr(self.instance, "entitlement", None)
        code = attrs.get("feature")
        if code is not None and entitlement is not None:
            feature = ProductFeature.objects.filter(product_id=entitlement.product_id, code=code).first()
            if feature is None:
                raise serializers.ValidationError({"feature": [f"The product has no feature {code}."]})
            attrs["feature"] = feature
        return attrs


class UsageQuerySerializer(ClosedInput, serializers.Serializer):
    feature = StrictCharField(max_length=100, required=False, help_text="Only this feature's usage (its code).")
    start = serializers.DateField(required=False, help_text="From this day (UTC), included.")
    end = serializers.DateField(required=False, help_text="To this day (UTC), included.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("start") and attrs.get("end") and attrs["end"] < attrs["start"]:
            raise serializers.ValidationError({"end": ["Must not be before start."]})
        return attrs


class UsageCorrectionSerializer(ClosedInput, serializers.Serializer):
    feature = StrictCharField(
        max_length=100, required=False, allow_null=True, help_text="The feature's code; null for the entitlement's own."
    )
    amount = StrictIntegerField(help_text="How much to add (negative: to take away), not 0.")
    reason = StrictCharField(max_length=1000, help_text="Why: kept in the usage history and the audit trail.")

    def validate_feature(self, code: str | None) -> ProductFeature | None:
        if code is None:
            return None
        feature = ProductFeature.objects.filter(product_id=self.context["entitlement"].product_id, code=code).first()
        if feature is None:
            raise serializers.ValidationError(f"The product has no feature {code}.")
        return feature


class ActivationCodeInputSerializer(InputSerializer):
    class Meta:
        model = ActivationCode
        fields = ["entitlement", "max_activations"]


def password_field(**kwargs) -> serializers.CharField:
    """A license user's password, as creating and updating both take it."""
    return StrictCharField(
        write_only=True, min_length=8, max_length=128, trim_whitespace=False, style={"input_type": "password"}, **kwargs
    )


class LicenseUserInputSerializer(InputSerializer):
    password = password_field(required=False, help_text="A new password; left out, the current one stays.")

    class Meta:
        model = LicenseUser
        fields = ["customer", "username", "name", "entitlements", "password"]

    def validate_username(self, value: str) -> str:
        value = normalize_address(value)  # as the model stores it: one spelling per person
        taken = LicenseUser.objects.filter(username=value)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError("A license user with this username already exists.")
        return value


class LicenseUserCreateInputSerializer(LicenseUserInputSerializer):
    """A new license user: the same fields, and a password is required."""

    password = password_field()


class DeviceInputSerializer(InputSerializer):
    # Required here, though the column allows devices no license has used to keep none.
    customer = StrictPrimaryKeyRelatedField(queryset=Customer.objects.all())

    class Meta:
        model = Device
        fields = [
            "customer",
            "hardware_id",
            "hostname",
            "os_ver",
            "is_vm",
            "vm_info",
            "mac_address",
            "ip",
            "app_ver",
            "sdk_ver",
        ]


class LicenseSwitchSerializer(ClosedInput, serializers.Serializer):
    """`PATCH /licenses/{id}`: exactly one of the two switches."""

    suspended = StrictBooleanField(required=False)
    revoked = StrictBooleanField(required=False)
    reason = StrictCharField(required=False, allow_blank=True, max_length=2000)

    schema_rules = {
        "oneOf": [
            {"required": ["suspended"], "not": {"required": ["revoked"]}},
            {"required": ["revoked"], "not": {"required": ["suspended"]}, "properties": {"revoked": {"enum": [True]}}},
        ]
    }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        switches = [name for name in ("suspended", "revoked") if name in attrs]
        if len(switches) != 1:
            raise serializers.ValidationError('Send exactly one of {"suspended": true|false} or {"revoked": true}.')
        if attrs.get("revoked") is False:
            raise serializers.ValidationError({"revoked": "Revocation is final: it cannot be undone."})
        return attrs


class ReasonSerializer(ClosedInput, serializers.Serializer):
    reason = StrictCharField(required=False, allow_blank=True, max_length=2000, default="")


class RenewalSerializer(ReasonSerializer):
    """A renewal: either the new end of validity or a number of days to add, and why."""

    valid_until = serializers.DateTimeField(
        required=False, help_text="The new end of validity (ISO 8601): later than now and than the current end."
    )
    days = StrictIntegerField(
        required=False,
        min_value=1,
        max_value=MAX_RENEWAL_DAYS,
        help_text="Days to add, counted from where `from` says.",
    )

    schema_rules = {
        "oneOf": [
            {"required": ["valid_until"], "not": {"anyOf": [{"required": ["days"]}, {"required": ["from"]}]}},
            {"required": ["days"], "not": {"required": ["valid_until"]}},
        ]
    }

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # `from` is a Python keyword: it cannot be a class attribute.
        fields["from"] = StrictChoiceField(
            choices=RENEWAL_STARTS,
            required=False,
            help_text="With `days` only: where to count them from. `expiry` (the default) loses nothing by "
            "renewing early; `now` suits an entitlement that ended long ago.",
        )
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("valid_until" in attrs) == ("days" in attrs):
            raise serializers.ValidationError('Send exactly one of {"valid_until": ...} or {"days": ...}.')
        if "from" in attrs and "valid_until" in attrs:
            raise serializers.ValidationError({"from": ["Goes with days only: valid_until is the end itself."]})
        return attrs


class TrialConversionSerializer(ReasonSerializer):
    """A trial made a paid entitlement: optionally of another customer, with a new end, and why."""

    customer = StrictPrimaryKeyRelatedField(
        queryset=Customer.objects.all(),
        required=False,
        help_text="The id of the (existing) customer who bought it; left out, the trial's customer keeps it.",
    )
    valid_until = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="The new end of validity, in the future; null: it never ends. Left out, the trial's end stays.",
    )


class MeterUsageSerializer(serializers.Serializer):
    feature = serializers.CharField(allow_null=True, help_text="The feature's code; null for the entitlement's own.")
    period_start = serializers.DateTimeField()
    period_ends_at = serializers.DateTimeField(allow_null=True, help_text="Null: the counter never restarts.")
    max_consumptions = serializers.IntegerField(allow_null=True, help_text="Null: no limit.")
    total_consumptions = serializers.IntegerField(help_text="Counted this period.")
    allow_overages = serializers.BooleanField()
    max_overages = serializers.IntegerField(allow_null=True)
    reset_period = serializers.CharField()


class DayUsageSerializer(serializers.Serializer):
    date = serializers.DateField(help_text="The day (UTC).")
    feature = serializers.CharField(allow_null=True, help_text="The feature's code; null for the entitlement's own.")
    consumed = serializers.IntegerField(help_text="Net consumption that day, corrections included.")
    entries = serializers.IntegerField(help_text="Consumptions and corrections counted that day.")


class UsageSerializer(serializers.Serializer):
    current = MeterUsageSerializer(many=True)
    days = DayUsageSerializer(many=True)
