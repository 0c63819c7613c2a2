"""An entitlement's life outside its switches: trials handed out to machines, and the
notices sent as its end comes near."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from .base import PublicModel


class Trial(PublicModel):
    """A trial key handed out to a machine (GET /api/v4/trial_key). The row stays after
    the trial ends or is converted: it is what keeps the machine, and the address, from
    a second trial of the product."""

    resource_name = "trial"

    product = models.ForeignKey("licensing.Product", on_delete=models.PROTECT, related_name="trials")
    entitlement = models.OneToOneField("licensing.Entitlement", on_delete=models.PROTECT, related_name="trial")
    hardware_id = models.CharField(max_length=255)
    email = models.EmailField()
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)

    label_relations = ("product",)

    class Meta:
        ordering = ["-created_at"]
        # The list's order, and the trials started (or converted) lately.
        indexes = [models.Index(fields=["created_at"]), models.Index(fields=["converted_at"])]
        constraints = [
            models.UniqueConstraint(fields=["product", "hardware_id"], name="trial_one_per_machine"),
            models.UniqueConstraint(fields=["product", "email"], name="trial_one_per_email"),
        ]

    def __str__(self) -> str:
        return f"Trial of {self.product} for {self.email}" if self.product_id else "Trial"


class ExpiryNotice(models.Model):
    """One `entitlement.expiring` (milestone: days before the end) or
    `entitlement.expired` (milestone 0) sent for an entitlement's end. Written in the
    transaction that writes the webhook event, and unique: whichever worker inserts it
    first sends the notice, the others find it there. Keyed by the end announced, so a
    renewal starts a new cycle and the old end's remaining notices are never due."""

    EXPIRED = 0

    entitlement = models.ForeignKey("licensing.Entitlement", on_delete=models.CASCADE, related_name="expiry_notices")
    milestone = models.PositiveIntegerField(help_text="Days before the end; 0 for the end itself.")
    ends_at = models.DateTimeField(help_text="The end of validity this notice is about.")
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-sent_at"]
        constraints = [
            models.UniqueConstraint(fields=["entitlement", "ends_at", "milestone"], name="expiry_notice_once"),
        ]

    def __str__(self) -> str:
        return f"{self.milestone} days before {self.ends_at:%Y-%m-%d}" if self.milestone else "expired"
