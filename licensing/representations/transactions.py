"""A license transaction in the shape of 10Duke's suspend/resume answers: an item per
entitlement the order provisioned, each with its seats."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from .. import rules
from ..models import LicenseTransaction


def transaction_licenses(transaction: LicenseTransaction) -> dict[str, Any]:
    """`{"transaction": {"id", "externalId", "processed", "status", "items": [...]}}`."""
    entitlements = transaction.entitlements.with_effective_status().order_by("created_at", "pk")
    return {
        "transaction": {
            "id": str(transaction.pk),
            "externalId": transaction.external_id,
            "processed": transaction.processed_at,
            "status": transaction.status,
            "items": [
                {
                    "id": str(entitlement.pk),
                    "productId": str(entitlement.product_id),
                    "quantity": entitlement.seats,
                    "licenseValidFrom": entitlement.valid_from,
                    "licenseValidUntil": entitlement.valid_until,
                    "licenses": [
                        {
                            "id": str(entitlement.pk),
                            "active": entitlement.effective_status == rules.EffectiveStatus.ACTIVE,
                            "seatsTaken": entitlement.seats_used,
                            "seatsTotal": entitlement.seats,
                            "effectiveStatus": entitlement.effective_status,
                            "effectiveReason": entitlement.effective_reason or None,
                        }
                    ],
                }
                for entitlement in entitlements
            ],
        }
    }


# The same shape for the OpenAPI schema.
TRANSACTION_LICENSES_SCHEMA = inline_serializer(
    "TransactionLicenses",
    {
        "transaction": inline_serializer(
            "Transaction",
            {
                "id": serializers.UUIDField(),
                "externalId": serializers.CharField(),
                "processed": serializers.DateTimeField(),
                "status": serializers.ChoiceField(choices=LicenseTransaction.Status.choices),
                "items": inline_serializer(
                    "TransactionItem",
                    {
                        "id": serializers.UUIDField(),
                        "productId": serializers.UUIDField(),
                        "quantity": serializers.IntegerField(),
                        "licenseValidFrom": serializers.DateTimeField(),
                        "licenseValidUntil": serializers.DateTimeField(allow_null=True),
                        "licenses": inline_serializer(
                            "TransactionLicense",
                            {
                                "id": serializers.UUIDField(),
                                "active": serializers.BooleanField(),
                                "seatsTaken": serializers.IntegerField(),
                                "seatsTotal": serializers.IntegerField(),
                                "effectiveStatus": serializers.ChoiceField(choices=rules.EffectiveStatus.choices),
                                "effectiveReason": serializers.ChoiceField(
                                    choices=rules.Reason.choices, allow_null=True
                                ),
                            },
                            many=True,
                        ),
                    },
                    many=True,
                ),
            },
        )
    },
)
