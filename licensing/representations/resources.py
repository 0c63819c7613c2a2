"""The licensing records as the management API answers them and webhook events carry
them. Every serializer here is read-only: what may be written, and how, is the input
serializers' and the services' business."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from ..models import (
    ActivationCode,
    AuditEvent,
    Customer,
    Device,
    Entitlement,
    EntitlementFeature,
    FloatingSlot,
    License,
    LicenseTransaction,
    LicenseUser,
    Product,
    ProductFeature,
)
from ..models.catalog import TRIAL_FIELDS
from ..models.features import GRANT_FIELDS, METERING_FIELDS
from .fields import EFFECTIVE_FIELDS, SWITCH_FIELDS, EffectiveStatusFields, JSONObject, Seconds


class Representation(serializers.ModelSerializer):
    """A read-only view of a row: every field it names is output only. Fields keep what
    they say about the values they show (blank, null), which the schema documents."""

    def build_field(self, field_name, info, model_class, nested_depth):
        field_class, kwargs = super().build_field(field_name, info, model_class, nested_depth)
        for writing_only in ("required", "default", "validators", "queryset", "min_length", "max_length"):
            kwargs.pop(writing_only, None)
        return field_class, {**kwargs, "read_only": True}


class ProductSerializer(Representation):
    trial_features = serializers.SlugRelatedField(
        slug_field="code", many=True, read_only=True, help_text="Codes of the features a trial grants."
    )

    class Meta:
        model = Product
        fields = ["id", "code", "name", "authorization_method", *TRIAL_FIELDS, "created_at", "updated_at"]


class CustomerSerializer(EffectiveStatusFields, Representation):
    class Meta:
        model = Customer
        fields = [
            "id",
            "name",
            "kind",
            "email",
            "external_id",
            *SWITCH_FIELDS,
            *EFFECTIVE_FIELDS,
            "created_at",
            "updated_at",
        ]


class LicenseTransactionSerializer(Representation):
    class Meta:
        model = LicenseTransaction
        fields = ["id", "customer", "external_id", "processed_at", *SWITCH_FIELDS, "created_at", "updated_at"]


class EntitlementSerializer(EffectiveStatusFields, Representation):
    lease_period = Seconds(read_only=True)
    offline_grace = Seconds(read_only=True)
    grace_period = Seconds(read_only=True, help_text="Seconds licenses keep working after valid_until.")
    grace_until = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="valid_until plus the grace period; null without either."
    )
    in_grace = serializers.SerializerMethodField(help_text="Past valid_until, within the grace period.")
    seats_used = serializers.IntegerField(
        read_only=True, help_text="Licenses holding a seat; for a floating entitlement, devices registered."
    )
    floating_in_use = serializers.IntegerField(
        read_only=True, help_text="Devices holding a floating slot now (0 for a node-locked entitlement)."
    )
    features = serializers.SerializerMethodField(
        help_text='The features granted now, code to value (true where none is set): {"export": true, "seats_pro": 5}.'
    )

    class Meta:
        model = Entitlement
        fields = [
            "id",
            "customer",
            "product",
            "transaction",
            "license_model",
            "seats",
            "seats_used",
            "max_activations",
            "floating_timeout",
            "max_borrow_time",
            "floating_in_use",
            "valid_from",
            "valid_until",
            "grace_period",
            "grace_until",
            "in_grace",
            "is_trial",
            "features",
            *METERING_FIELDS,
            "lease_period",
            "offline_grace",
            *SWITCH_FIELDS,
            *EFFECTIVE_FIELDS,
            "created_at",
            "updated_at",
        ]

    def get_features(self, entitlement: Entitlement) -> dict[str, bool | int | str]:
        return entitlement.features(timezone.now())

    def get_in_grace(self, entitlement: Entitlement) -> bool:
        return entitlement.in_grace(timezone.now())


class ProductFeatureSerializer(Representation):
    class Meta:
        model = ProductFeature
        fields = ["id", "product", "code", "name", "feature_type", "created_at", "updated_at"]


class EntitlementFeatureSerializer(Representation):
    """A grant: the feature by its code, as clients name it."""

    feature = serializers.SlugRelatedField(slug_field="code", read_only=True)
    feature_type = serializers.CharField(source="feature.feature_type", read_only=True)

    class Meta:
        model = EntitlementFeature
        fields = [
            "id",
            "entitlement",
            "feature_type",
            *GRANT_FIELDS,
            "created_at",
            "updated_at",
        ]


class ActivationCodeSerializer(EffectiveStatusFields, Representation):
    """The code itself is a secret: here only its last characters. The answer that
    creates a code carries it in full, once."""

    code = serializers.CharField(source="masked_code", read_only=True)
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
            *EFFECTIVE_FIELDS,
            "created_at",
            "updated_at",
        ]


class LicenseUserSerializer(Representation):
    """A person who activates user-based entitlements with username and password."""

    class Meta:
        model = LicenseUser
        fields = ["id", "customer", "username", "name", "entitlements", "created_at", "updated_at"]


class DeviceSerializer(Representation):
    class Meta:
        model = Device
        fields = [
            "id",
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
            "created_at",
            "updated_at",
        ]


class DeviceBriefSerializer(Representation):
    class Meta:
        model = Device
        fields = ["id", "hardware_id", "hostname"]


class FloatingSlotSerializer(Representation):
    license = serializers.UUIDField(source="license_id", read_only=True)
    entitlement = serializers.UUIDField(source="entitlement_id", read_only=True)
    device = DeviceBriefSerializer(source="license.device", read_only=True)
    is_borrowed = serializers.SerializerMethodField()

    class Meta:
        model = FloatingSlot
        fields = ["license", "entitlement", "device", "taken_at", "ends_at", "borrowed_until", "is_borrowed"]

    def get_is_borrowed(self, slot: FloatingSlot) -> bool:
        return slot.is_borrowed(self.context.get("now") or timezone.now())


class SlotBriefSerializer(Representation):
    class Meta:
        model = FloatingSlot
        fields = ["taken_at", "ends_at", "borrowed_until"]


class LicenseSerializer(EffectiveStatusFields, Representation):
    device = DeviceBriefSerializer(read_only=True)
    floating_slot = SlotBriefSerializer(
        read_only=True, allow_null=True, help_text="The floating slot the device holds or last held; null if none."
    )

    class Meta:
        model = License
        fields = [
            "id",
            "entitlement",
            "device",
            "activation_code",
            "license_user",
            *SWITCH_FIELDS,
            *EFFECTIVE_FIELDS,
            "activated_at",
            "deactivated_at",
            "lease_expires_at",
            "last_check_in_at",
            "floating_slot",
            "created_at",
            "updated_at",
        ]


class AuditEventSerializer(Representation):
    before = JSONObject(read_only=True, help_text="The changed fields' values before the change.")
    after = JSONObject(read_only=True, help_text="The changed fields' values after it.")

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
