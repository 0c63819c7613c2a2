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
