"""What the management API takes. Input serializers check the shape of a request (types,
lengths, choices, that referenced rows exist); the services check the rules across rows
and write; the answer is the row's representation (licensing/representations/).

Nothing here saves anything: a view hands `validated_data` to a service."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rest_framework import serializers

from ...models import ActivationCode, Customer, Device, Entitlement, LicenseTransaction, LicenseUser, Product
from ...models.base import normalize_address
from ...models.entitlements import MAX_TERM, MIN_LEASE
from ...representations.fields import Seconds


class InputSerializer(serializers.ModelSerializer):
    """Checks the shape of what a request sends. Saving is the resource's service's."""

    def create(self, validated_data: dict[str, Any]):
        raise NotImplementedError("Input serializers never save: hand validated_data to the resource's service.")

    def update(self, instance, validated_data: dict[str, Any]):
        raise NotImplementedError("Input serializers never save: hand validated_data to the resource's service.")


class BoundedSeconds(Seconds):
    """A duration given as whole seconds, within bounds (input serializers use it)."""

    def __init__(self, *, minimum: dt.timedelta, maximum: dt.timedelta, **kwargs) -> None:
        super().__init__(min_value=int(minimum.total_seconds()), max_value=int(maximum.total_seconds()), **kwargs)
        # The bounds are checked on the number below: validators would see the duration.
        self.validators = []

    def to_internal_value(self, data) -> dt.timedelta:
        seconds = super().to_internal_value(data)
        if seconds < self.min_value:
            self.fail("min_value", min_value=self.min_value)
        if seconds > self.max_value:
            self.fail("max_value", max_value=self.max_value)
        return dt.timedelta(seconds=seconds)


class ProductInputSerializer(InputSerializer):
    class Meta:
        model = Product
        fields = ["code", "name", "authorization_method"]


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

    class Meta:
        model = Entitlement
        fields = [
            "customer",
            "product",
            "transaction",
            "seats",
            "valid_from",
            "valid_until",
            "features",
            "lease_period",
            "offline_grace",
        ]


class ActivationCodeInputSerializer(InputSerializer):
    class Meta:
        model = ActivationCode
        fields = ["entitlement", "max_activations"]


def password_field(**kwargs) -> serializers.CharField:
    """A license user's password, as creating and updating both take it."""
    return serializers.CharField(
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
    customer = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.all())

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


class LicenseSwitchSerializer(serializers.Serializer):
    """`PATCH /licenses/{id}`: exactly one of the two switches."""

    suspended = serializers.BooleanField(required=False)
    revoked = serializers.BooleanField(required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        switches = [name for name in ("suspended", "revoked") if name in attrs]
        if len(switches) != 1:
            raise serializers.ValidationError('Send exactly one of {"suspended": true|false} or {"revoked": true}.')
        if attrs.get("revoked") is False:
            raise serializers.ValidationError({"revoked": "Revocation is final: it cannot be undone."})
        return attrs


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
