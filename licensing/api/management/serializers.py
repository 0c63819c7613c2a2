"""Representations of the management API. Writes go through `services.save_edits`
(see `AuditedModelSerializer`); status fields are read-only here, since only the switch
endpoints change them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ... import rules, services
from ...models import (
    ActivationCode,
    AuditEvent,
    Customer,
    Device,
    Entitlement,
    License,
    LicenseTransaction,
    LicenseUser,
    Product,
)
from ...models.base import normalize_address
from ...models.entitlements import MAX_TERM, MIN_LEASE

SWITCH_FIELDS = ("status", "status_reason", "status_changed_at")


class EffectiveStatusMixin(serializers.Serializer):
    """The effective status of DESIGN.md §2, computed by the list query's annotation
    (`with_effective_status`), so a page costs no query per row."""

    effective_status = serializers.ChoiceField(choices=rules.EffectiveStatus.choices, read_only=True)
    effective_reason = serializers.SerializerMethodField()
    effective_status_text = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ChoiceField(choices=rules.Reason.choices, allow_null=True))
    def get_effective_reason(self, obj) -> str | None:
        return obj.effective_reason or None

    def get_effective_status_text(self, obj) -> str:
        """For people: "Disabled: customer disabled"."""
        return rules.describe(obj.effective_status, obj.effective_reason or None)


class AuditedModelSerializer(serializers.ModelSerializer):
    """Creates and updates through `services.save_edits`, after the model's own `clean()`
    (rules across fields and rows, as the admin applies them)."""

    many_to_many: tuple[str, ...] = ()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        candidate = self._candidate(attrs)
        try:
            candidate.clean()
        except DjangoValidationError as error:
            detail = error.message_dict if hasattr(error, "error_dict") else error.messages
            raise serializers.ValidationError(detail) from None
        return attrs

    def _candidate(self, attrs: dict[str, Any]):
        """The row as it would be saved, without touching `self.instance`."""
        model = self.Meta.model
        values = {k: v for k, v in attrs.items() if k not in self.many_to_many}
        if self.instance is None:
            return model(**values)
        candidate = model.objects.get(pk=self.instance.pk)
        for name, value in values.items():
            setattr(candidate, name, value)
        return candidate

    def create(self, validated_data: dict[str, Any]):
        related = {name: validated_data.pop(name) for name in self.many_to_many if name in validated_data}
        instance = self.Meta.model(**validated_data)
        self.prepare(instance, validated_data)
        return self._save(instance, list(validated_data), related)

    def update(self, instance, validated_data: dict[str, Any]):
        related = {name: validated_data.pop(name) for name in self.many_to_many if name in validated_data}
        for name, value in validated_data.items():
            setattr(instance, name, value)
        self.prepare(instance, validated_data)
        return self._save(instance, list(validated_data), related)

    def prepare(self, instance, validated_data: dict[str, Any]) -> None:
        """Anything to do to the row before it is saved (a password to hash)."""

    def _save(self, instance, fields: list[str], related: dict[str, Any]):
        return services.save_edits(instance=instance, fields=fields, actor=self.context["actor"], links=related)


class SecondsField(serializers.IntegerField):
    """A duration as whole seconds: what every integration can compute with."""

    def __init__(self, *, minimum: dt.timedelta, maximum: dt.timedelta, **kwargs):
        super().__init__(min_value=int(minimum.total_seconds()), max_value=int(maximum.total_seconds()), **kwargs)
        # The bounds are checked on the number below: validators would see the duration.
        self.validators = []

    def to_representation(self, value: dt.timedelta) -> int:
        return int(value.total_seconds())

    def to_internal_value(self, data) -> dt.timedelta:
        seconds = super().to_internal_value(data)
        if seconds < self.min_value:
            self.fail("min_value", min_value=self.min_value)
        if seconds > self.max_value:
            self.fail("max_value", max_value=self.max_value)
        return dt.timedelta(seconds=seconds)


class ProductSerializer(AuditedModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "code", "name", "authorization_method", "created_at", "updated_at"]


class CustomerSerializer(EffectiveStatusMixin, AuditedModelSerializer):
    class Meta:
        model = Customer
        fields = [
            "id",
            "name",
            "kind",
            "email",
            "external_id",
            *SWITCH_FIELDS,
            "effective_status",
            "effective_reason",
            "effective_status_text",
            "created_at",
            "updated_at",
        ]


class LicenseTransactionSerializer(AuditedModelSerializer):
    class Meta:
        model = LicenseTransaction
        fields = ["id", "customer", "external_id", "processed_at", *SWITCH_FIELDS, "created_at", "updated_at"]

    def validate_customer(self, customer: Customer) -> Customer:
        if self.instance is not None and customer.pk != self.instance.customer_id:
            raise serializers.ValidationError("A transaction cannot move to another customer.")
        return customer


class EntitlementSerializer(EffectiveStatusMixin, AuditedModelSerializer):
    lease_period = SecondsField(minimum=MIN_LEASE, maximum=MAX_TERM, required=False)
    offline_grace = SecondsField(minimum=dt.timedelta(0), maximum=MAX_TERM, required=False)
    seats_used = serializers.IntegerField(read_only=True)

    class Meta:
        model = Entitlement
        fields = [
            "id",
            "customer",
            "product",
            "transaction",
            "seats",
            "seats_used",
            "valid_from",
            "valid_until",
            "features",
            "lease_period",
            "offline_grace",
            *SWITCH_FIELDS,
            "effective_status",
            "effective_reason",
            "effective_status_text",
            "created_at",
            "updated_at",
        ]

    def validate_customer(self, customer: Customer) -> Customer:
        if self.instance is not None and customer.pk != self.instance.customer_id:
            raise serializers.ValidationError("An entitlement cannot move to another customer.")
        return customer


class ActivationCodeSerializer(EffectiveStatusMixin, AuditedModelSerializer):
    """The code itself is a secret: it appears in full only in the answer that created
    it; afterwards only its last characters."""

    code = serializers.SerializerMethodField()
    seats_used = serializers.IntegerField(read_only=True)

    class Meta:
        model = ActivationCode
        fields = [
            "id",
            "entitlement",
            "code",
            "max_activations",
            "seats_used",
            *SWITCH_FIELDS,
            "effective_status",
            "effective_reason",
            "effective_status_text",
            "created_at",
            "updated_at",
        ]

    def get_code(self, obj: ActivationCode) -> str:
        return obj.code if self.context.get("reveal_code") else obj.masked_code

    def validate_entitlement(self, entitlement: Entitlement) -> Entitlement:
        if self.instance is not None and entitlement.pk != self.instance.entitlement_id:
            raise serializers.ValidationError("A code cannot move to another entitlement.")
        return entitlement


def password_field(**kwargs) -> serializers.CharField:
    """A license user's password, as creating and updating both take it."""
    return serializers.CharField(
        write_only=True, min_length=8, max_length=128, trim_whitespace=False, style={"input_type": "password"}, **kwargs
    )


class LicenseUserSerializer(AuditedModelSerializer):
    """A person who activates user-based entitlements with username and password."""

    password = password_field(required=False, help_text="A new password; left out, the current one stays.")
    many_to_many = ("entitlements",)

    class Meta:
        model = LicenseUser
        fields = ["id", "customer", "username", "name", "entitlements", "password", "created_at", "updated_at"]

    def validate_username(self, value: str) -> str:
        value = normalize_address(value)  # as the model stores it: one spelling per person
        taken = LicenseUser.objects.filter(username=value)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError("A license user with this username already exists.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        customer = attrs.get("customer") or (self.instance.customer if self.instance else None)
        if self.instance is not None and "customer" in attrs and attrs["customer"].pk != self.instance.customer_id:
            raise serializers.ValidationError({"customer": "A license user cannot move to another customer."})
        problems = LicenseUser.entitlement_problems(customer, attrs.get("entitlements", []))
        if problems:
            raise serializers.ValidationError({"entitlements": problems})
        return super().validate(attrs)

    def prepare(self, instance: LicenseUser, validated_data: dict[str, Any]) -> None:
        password = validated_data.pop("password", None)
        if password:
            instance.set_password(password)

    def _save(self, instance, fields, related):
        # The hash never goes into the audit record.
        return super()._save(instance, [f for f in fields if f != "password"], related)


class LicenseUserCreateSerializer(LicenseUserSerializer):
    """A new license user: the same fields, and a password is required."""

    password = password_field()


class DeviceSerializer(AuditedModelSerializer):
    class Meta:
        model = Device
        fields = [
            "id",
            "hardware_id",
            "hostname",
            "os_ver",
            "is_vm",
            "vm_info",
            "mac_address",
            "ip",
            "app_ver",
            "sdk_ver",
            "created_at",
            "updated_at",
        ]


class DeviceBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Device
        fields = ["id", "hardware_id", "hostname"]


class LicenseSerializer(EffectiveStatusMixin, serializers.ModelSerializer):
    device = DeviceBriefSerializer(read_only=True)

    class Meta:
        model = License
        fields = [
            "id",
            "entitlement",
            "device",
            "activation_code",
            "license_user",
            *SWITCH_FIELDS,
            "effective_status",
            "effective_reason",
            "effective_status_text",
            "activated_at",
            "deactivated_at",
            "lease_expires_at",
            "last_check_in_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


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


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "occurred_at",
            "actor_type",
            "actor_id",
            "actor_label",
            "ip",
            "action",
            "target_type",
            "target_id",
            "target_repr",
            "reason",
            "before",
            "after",
        ]
        read_only_fields = fields
