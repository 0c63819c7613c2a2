"""Inputs of the client API, validated, and its outputs, described for the schema."""

from __future__ import annotations

import functools
from typing import Any

from django.core import validators
from django.core.validators import ProhibitNullCharactersValidator
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from ...errors import Refusal
from ...models import ProductFeature, ResetPeriod

MISSING_CODES = {"required", "blank", "null"}


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """The valid input, or a Refusal naming the first field that is missing or wrong:
    `missing_parameters` for an absent field, `invalid_parameters` for a malformed one."""
    # Clients often send null or "" for fields they leave unset: both mean absent.
    present = {key: value for key, value in data.items() if value is not None and value != ""}
    serializer = _validator(serializer_class)
    plain = _plain_text_fields(serializer_class)
    if plain is not None:
        accepted = _plainly_valid(serializer, plain, present)
        if accepted is not None:
            return accepted
    try:
        return serializer.run_validation(present)
    except serializers.ValidationError as invalid:
        errors = invalid.detail
    field, details = next(iter(errors.items()))
    error = details[0] if isinstance(details, list) else details
    if error.code in MISSING_CODES:
        raise Refusal("missing_parameters", f"{field} is required.")
    raise Refusal("invalid_parameters", f"{field}: {error}")


@functools.cache
def _validator(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    """One instance per class, reused: a new serializer deep-copies its fields, which
    would be the largest cost of a check-in. These fields keep no state between calls."""
    return serializer_class()


# What a CharField checks besides its lengths, which plain input passes by construction.
_TEXT_VALIDATORS = (
    validators.MaxLengthValidator,
    validators.MinLengthValidator,
    ProhibitNullCharactersValidator,
    ProhibitSurrogateCharactersValidator,
)


@functools.cache
def _plain_text_fields(serializer_class: type[serializers.Serializer]) -> dict[str, tuple] | None:
    """(required, min_length, max_length) of each field, if every field of the class is
    a plain CharField (no other validators, no source renames, no validate_<field>
    method) and the class has no validators of its own; None otherwise."""
    serializer = _validator(serializer_class)
    if serializer.validators:
        return None
    fields = {}
    for name, field in serializer.fields.items():
        plain = (
            type(field) is serializers.CharField
            and field.source == name
            and not hasattr(serializer, f"validate_{name}")
            and field.trim_whitespace
            and all(isinstance(v, _TEXT_VALIDATORS) for v in field.validators)
        )
        if not plain:
            return None
        fields[name] = (field.required, field.min_length or 0, field.max_length or float("inf"))
    return fields


def _plainly_valid(serializer: serializers.Serializer, fields: dict[str, tuple], data: dict) -> dict | None:
    """The validated data without running every field, when each value is text that
    the field would take exactly as it is: within its lengths, printable (so no NUL and
    no surrogates), nothing to trim. None sends the input down the full path, which
    also words the errors. Requests are mostly well formed, and the check is the hot
    path: the full path costs a check a tenth of its time."""
    accepted = {}
    for name, (required, shortest, longest) in fields.items():
        value = data.get(name)
        if value is None:
            if required:
                return None
            continue
        if not (isinstance(value, str) and shortest <= len(value) <= longest and value.isprintable()):
            return None
        if not value or value[0].isspace() or value[-1].isspace():
            return None
        accepted[name] = value
    try:
        return serializer.validate(accepted)
    except serializers.ValidationError:
        return None


class IdentitySerializer(serializers.Serializer):
    product = serializers.CharField(max_length=50, help_text="The product's short code.")
    hardware_id = serializers.CharField(max_length=255)
    license_key = serializers.CharField(max_length=64, required=False, help_text="For key-based products.")
    username = serializers.CharField(max_length=254, required=False, help_text="For user-based products.")

    def validate(self, attrs):
        if not attrs.get("license_key") and not attrs.get("username"):
            raise serializers.ValidationError({"license_key": "license_key or username is required."}, code="required")
        return attrs


class NonceMixin(serializers.Serializer):
    nonce = serializers.CharField(
        max_length=128, required=False, help_text="Echoed in the signed answer, so a captured answer can't be replayed."
    )


class ActivateRequestSerializer(NonceMixin, IdentitySerializer):
    password = serializers.CharField(max_length=128, required=False, trim_whitespace=False)
    hostname = serializers.CharField(max_length=255, required=False, allow_blank=True)
    os_ver = serializers.CharField(max_length=255, required=False, allow_blank=True)
    is_vm = serializers.BooleanField(required=False)
    vm_info = serializers.CharField(max_length=255, required=False, allow_blank=True)
    mac_address = serializers.CharField(max_length=64, required=False, allow_blank=True)
    ip = serializers.IPAddressField(required=False)
    app_ver = serializers.CharField(max_length=64, required=False, allow_blank=True)
    sdk_ver = serializers.CharField(max_length=64, required=False, allow_blank=True)


class CheckQuerySerializer(NonceMixin, IdentitySerializer):
    pass


class DeactivateRequestSerializer(NonceMixin, IdentitySerializer):
    license_id = serializers.UUIDField(required=False)


class FloatingReleaseRequestSerializer(DeactivateRequestSerializer):
    pass


class BorrowRequestSerializer(NonceMixin, IdentitySerializer):
    borrowed_until = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="Hold the slot until then (ISO 8601), at most max_borrow_time seconds from now; "
        "null or absent for the longest allowed.",
    )


class WholeNumber(serializers.Field):
    """A JSON whole number, as sent: not text, not a fraction, not true or false."""

    default_error_messages = {"invalid": "A whole number is required."}

    def to_internal_value(self, data):
        if type(data) is not int:
            self.fail("invalid")
        return data

    def to_representation(self, value):
        return value


class FeatureQuerySerializer(NonceMixin, IdentitySerializer):
    feature = serializers.CharField(max_length=100, help_text="The feature's code.")


class ConsumptionRequestSerializer(NonceMixin, IdentitySerializer):
    consumptions = WholeNumber(
        required=False,
        default=1,
        help_text="How many units to count (default 1); negative to give some back, where the license allows it.",
    )
    request_id = serializers.CharField(
        max_length=128,
        required=False,
        help_text="Your id of this request: sent again (a retry), it is answered as the first time and counts nothing.",
    )


class FeatureConsumptionRequestSerializer(ConsumptionRequestSerializer):
    feature = serializers.CharField(max_length=100, help_text="The consumption feature's code.")


class TrialQuerySerializer(NonceMixin, serializers.Serializer):
    product = serializers.CharField(max_length=50, help_text="The product's short code.")
    hardware_id = serializers.CharField(max_length=255)
    email = serializers.EmailField(max_length=254, help_text="The person trying the product.")


class TrialKeySerializer(serializers.Serializer):
    """Documentation of the trial_key answer."""

    license_key = serializers.CharField(help_text="Activate with it as with any key.")
    is_trial = serializers.BooleanField(help_text="Always true here.")
    product = serializers.CharField(help_text="The product's short code.")
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField(help_text="When the trial ends.")
    is_expired = serializers.BooleanField(help_text="The trial ended: the key will not activate.")
    max_activations = serializers.IntegerField(help_text="Devices the key activates.")
    features = serializers.DictField(help_text="The features the trial grants, code to value.")
    server_time = serializers.DateTimeField()
    hardware_id = serializers.CharField(help_text="The machine this answer is about: check that it is yours.")
    nonce = serializers.CharField(required=False, help_text="The request's nonce, echoed.")


class ProductDetailsSerializer(serializers.Serializer):
    short_code = serializers.CharField()
    authorization_method = serializers.ChoiceField(choices=["license_key", "user"])


class CustomerRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class LicenseBodySerializer(serializers.Serializer):
    """Documentation of the license body; the view builds it in
    `licensing.license_body`."""

    id = serializers.UUIDField()
    license_key = serializers.CharField(allow_null=True)
    user = serializers.CharField(allow_null=True)
    product_details = ProductDetailsSerializer()
    customer = CustomerRefSerializer()
    license_enabled = serializers.BooleanField()
    license_active = serializers.BooleanField()
    is_expired = serializers.BooleanField()
    status = serializers.CharField(help_text="Effective status: active, disabled, suspended, expired, ...")
    reason = serializers.CharField(allow_null=True)
    validity_period = serializers.DateTimeField(allow_null=True, help_text="End of validity; null if perpetual.")
    valid_from = serializers.DateTimeField()
    in_grace = serializers.BooleanField(
        help_text="Past the end of validity but within the grace period: the license works; ask the user to renew."
    )
    grace_until = serializers.DateTimeField(
        allow_null=True, help_text="When the grace period after validity_period ends; null without one."
    )
    is_trial = serializers.BooleanField(help_text="A trial (from trial_key), not yet converted to a paid license.")
    license_model = serializers.ChoiceField(choices=["node_locked", "floating"])
    max_activations = serializers.IntegerField(
        allow_null=True,
        help_text="Node-locked: seats of the entitlement. Floating: devices that may be registered (null: any).",
    )
    times_activated = serializers.IntegerField(help_text="Seats in use (floating: devices registered).")
    key_max_activations = serializers.IntegerField(required=False, help_text="The key's own cap, when it has one.")
    key_times_activated = serializers.IntegerField(required=False)
    features = serializers.DictField()
    lease_expires_at = serializers.DateTimeField(allow_null=True, help_text="Check in again before this.")
    refresh_interval = serializers.IntegerField(help_text="Seconds between check-ins.")
    offline_grace = serializers.IntegerField(help_text="Seconds a license file works offline.")
    server_time = serializers.DateTimeField()
    hardware_id = serializers.CharField(help_text="The device this answer is about: check that it is yours.")
    nonce = serializers.CharField(required=False, help_text="The request's nonce, echoed.")
    floating_seats = serializers.IntegerField(required=False, help_text="Floating: devices that may run at once.")
    floating_timeout = serializers.IntegerField(
        required=False, help_text="Floating: seconds a check-in holds the slot; check in again well before."
    )
    floating_until = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Floating: when this device's slot ends unless renewed."
    )
    floating_in_use_devices = serializers.IntegerField(
        required=False, allow_null=True, help_text="Floating: devices holding slots, as last counted."
    )
    max_borrow_time = serializers.IntegerField(
        required=False, help_text="Floating: the longest borrow, in seconds; 0 when borrowing is not allowed."
    )
    is_borrowed = serializers.BooleanField(required=False)
    borrowed_until = serializers.DateTimeField(required=False, allow_null=True)
    product_features = serializers.ListField(
        child=serializers.DictField(), help_text="Each feature granted now, in full (as check_license_feature answers)."
    )
    max_consumptions = serializers.IntegerField(
        required=False, allow_null=True, help_text="Metered licenses: consumptions allowed per period."
    )
    total_consumptions = serializers.IntegerField(required=False, help_text="Metered: counted this period.")
    allow_overages = serializers.BooleanField(required=False)
    max_overages = serializers.IntegerField(required=False, allow_null=True, help_text="Null: no cap on overages.")
    reset_period = serializers.ChoiceField(required=False, choices=ResetPeriod.choices)
    period_ends_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="When the counter starts again; null if it never does."
    )


class FeatureSerializer(serializers.Serializer):
    """Documentation of a feature answer (check_license_feature, add_feature_consumption)."""

    code = serializers.CharField()
    name = serializers.CharField()
    feature_type = serializers.ChoiceField(choices=ProductFeature.FeatureType.choices)
    value = serializers.JSONField(help_text="true, a whole number or text; true where none is set.")
    expires_at = serializers.DateTimeField(allow_null=True)
    max_consumptions = serializers.IntegerField(allow_null=True)
    total_consumptions = serializers.IntegerField(allow_null=True, help_text="Consumption: counted this period.")
    allow_overages = serializers.BooleanField()
    max_overages = serializers.IntegerField(allow_null=True)
    reset_period = serializers.ChoiceField(choices=ResetPeriod.choices)
    period_ends_at = serializers.DateTimeField(allow_null=True)
    license_id = serializers.UUIDField()
    server_time = serializers.DateTimeField()
    hardware_id = serializers.CharField(help_text="The device this answer is about: check that it is yours.")
    nonce = serializers.CharField(required=False, help_text="The request's nonce, echoed.")


class ErrorSerializer(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    reason = serializers.CharField(required=False)
    retry_after = serializers.IntegerField(required=False, help_text="Seconds to wait, for a refusal that passes.")
    next_slot_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="floating_not_available: when the earliest slot ends, unless its holder renews it.",
    )
    hardware_id = serializers.CharField(required=False, help_text="The request's hardware_id, echoed.")
    nonce = serializers.CharField(required=False, help_text="The request's nonce, echoed.")
