"""Fields that more than one representation shows in the same way."""

from __future__ import annotations

import datetime as dt

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .. import rules


class Seconds(serializers.IntegerField):
    """A duration as whole seconds: what every integration can compute with."""

    def to_representation(self, value: dt.timedelta) -> int:
        return int(value.total_seconds())


@extend_schema_field({"type": "object", "additionalProperties": {}})
class JSONObject(serializers.JSONField):
    """A stored JSON object (features, audit values), shown as it is stored: rows saved
    before objects were enforced are shown too, never turned into a server error."""


class EffectiveStatusFields(serializers.Serializer):
    """The effective status of the access rules, read from the annotation of
    `with_effective_status()`, so that a page costs no query per row."""

    effective_status = serializers.ChoiceField(choices=rules.EffectiveStatus.choices, read_only=True)
    effective_reason = serializers.SerializerMethodField()
    effective_status_text = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ChoiceField(choices=rules.Reason.choices, allow_null=True))
    def get_effective_reason(self, obj) -> str | None:
        return obj.effective_reason or None

    def get_effective_status_text(self, obj) -> str:
        """For people: "Disabled: customer disabled"."""
        return rules.describe(obj.effective_status, obj.effective_reason or None)


SWITCH_FIELDS = ("status", "status_reason", "status_changed_at")
EFFECTIVE_FIELDS = ("effective_status", "effective_reason", "effective_status_text")
