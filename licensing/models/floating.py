from django.db import models
from django.utils import timezone

from ..querysets import FloatingSlotQuerySet
from .base import PublicModel


class FloatingSlot(PublicModel):
    """A device running a floating entitlement now: one of its `seats`, held until
    `ends_at`. The slot is live only while `ends_at` is in the future, so a device that
    stops checking in frees it at that instant with nothing needing to run; a row past
    its end is left over until a check of the same device or the sweep tidies it (and
    announces `license.floating_expired`).

    One row per license at most. Kept apart from the license so that a renewal touches
    neither the license row nor anything a client check remembers of it."""

    resource_name = "floating_slot"

    license = models.OneToOneField("licensing.License", on_delete=models.CASCADE, related_name="floating_slot")
    # The license's entitlement, copied so that live slots are counted from one index.
    entitlement = models.ForeignKey("licensing.Entitlement", on_delete=models.CASCADE, related_name="floating_slots")
    # When this device took the slot it holds (a slot taken again after it lapsed is a
    # new one): also what a buffered renewal names, so that it never extends a slot
    # released and taken again since.
    taken_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    borrowed_until = models.DateTimeField(null=True, blank=True)

    objects = FloatingSlotQuerySet.as_manager()

    class Meta:
        ordering = ["taken_at"]
        verbose_name = "floating slot"
        indexes = [models.Index(fields=["entitlement", "ends_at"]), models.Index(fields=["ends_at"])]

    # What its label reads: the device and the entitlement (not the license's own label,
    # which would read the entitlement again through it).
    label_relations = ("license__device", "entitlement__product", "entitlement__customer")

    def __str__(self) -> str:
        if not (self.license_id and self.entitlement_id):
            return "Floating slot"
        return f"Slot of {self.license.device} on {self.entitlement}"

    def is_live(self, now) -> bool:
        return self.ends_at > now

    def is_borrowed(self, now) -> bool:
        return self.borrowed_until is not None and self.borrowed_until > now
