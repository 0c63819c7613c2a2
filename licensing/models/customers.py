from django.db import models

from .. import rules
from ..querysets import CustomerQuerySet
from .base import SwitchedModel


class Customer(SwitchedModel):
    resource_name = "customer"

    class Kind(models.TextChoices):
        ORGANIZATION = "organization", "Organization"
        PERSON = "person", "Person"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DISABLED = rules.DISABLED, "Disabled"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ORGANIZATION)
    email = models.EmailField(blank=True)
    external_id = models.CharField(
        max_length=200, unique=True, null=True, blank=True, help_text="The customer's id in your CRM or billing."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE, editable=False)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["status"]),
            models.Index(fields=["email"]),
            # The orders lists page through: the admin's (adding -pk) and the API's.
            models.Index(fields=["name", "-id"]),
            models.Index(fields=["created_at", "id"]),
        ]
        permissions = [("disable_customer", "Can disable and enable customers")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        # No id in the CRM is no id, however it was sent: a blank one would be unique too.
        self.external_id = (self.external_id.strip() or None) if self.external_id else None
        super().save(*args, **kwargs)

    @property
    def is_disabled(self) -> bool:
        return self.status == self.Status.DISABLED
