import datetime as dt

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from .. import rules
from ..querysets import LicenseQuerySet
from .base import PortalAccount, PublicModel, SwitchedModel, normalize_address


class LicenseUser(PortalAccount):
    """A named person who may activate a user-based entitlement with username + password,
    and sign in to the portal with the same."""

    resource_name = "license_user"

    EMAIL_FIELD = "username"

    customer = models.ForeignKey("licensing.Customer", on_delete=models.PROTECT, related_name="license_users")
    entitlements = models.ManyToManyField("licensing.Entitlement", related_name="license_users", blank=True)
    username = models.EmailField(unique=True, help_text="The email address the person signs in with.")
    name = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["username"]
        verbose_name = "license user"
        indexes = [models.Index(fields=["created_at", "id"])]  # the API's order
        constraints = [
            # Usernames are matched whatever their case (clients send them as typed), so two
            # that differ only in case would name one person in two customers.
            models.UniqueConstraint(
                Lower("username"),
                name="license_user_username_unique_in_any_case",
                violation_error_message="A license user with this username already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.username

    def save(self, *args, **kwargs) -> None:
        self.username = normalize_address(self.username)
        super().save(*args, **kwargs)

    @staticmethod
    def entitlement_problems(customer, entitlements) -> list[str]:
        """Why these entitlements cannot be linked to a license user of `customer` (none
        if they can): each must be that customer's, for a product activated by users."""
        from .catalog import Product

        problems = []
        for entitlement in entitlements:
            if customer is not None and entitlement.customer_id != customer.pk:
                problems.append(f"“{entitlement}” belongs to another customer.")
            elif entitlement.product.authorization_method != Product.AuthorizationMethod.USER:
                problems.append(f"“{entitlement}” is for a product activated with keys, not users.")
        return problems


class Device(PublicModel):
    """A machine, identified by the hardware id its client computes, as one customer
    knows it. Each customer has its own record of a hardware id: the facts one customer's
    activations report never change what another customer (or the vendor, looking at
    that customer) sees."""

    resource_name = "device"

    # Empty only for devices recorded before devices were kept per customer, that no
    # license ever used.
    customer = models.ForeignKey(
        "licensing.Customer", on_delete=models.PROTECT, related_name="devices", null=True, blank=False
    )
    hardware_id = models.CharField(max_length=255)
    hostname = models.CharField(max_length=255, blank=True)
    os_ver = models.CharField("OS version", max_length=255, blank=True)
    is_vm = models.BooleanField("virtual machine", default=False)
    vm_info = models.CharField("VM info", max_length=255, blank=True)
    mac_address = models.CharField("MAC address", max_length=64, blank=True)
    ip = models.GenericIPAddressField("IP address", null=True, blank=True)
    app_ver = models.CharField("app version", max_length=64, blank=True)
    sdk_ver = models.CharField("SDK version", max_length=64, blank=True)
    # The device's last check-in is not stored here: each of its licenses records its
    # own, and the device's is the latest of those.

    class Meta:
        ordering = ["hostname", "hardware_id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "hardware_id"], name="device_one_per_customer_and_hardware_id")
        ]
        indexes = [
            models.Index(fields=["hardware_id"]),
            # The orders lists page through: the admin's (adding -pk) and the API's.
            models.Index(fields=["hostname", "hardware_id", "-id"]),
            models.Index(fields=["created_at", "id"]),
        ]

    def __str__(self) -> str:
        return self.hostname or self.hardware_id


class License(SwitchedModel):
    """One device's activation of an entitlement, through an activation code or a license
    user. There is one row per (entitlement, device): activating again reuses it, so a
    suspension or revocation cannot be dodged by deactivating and activating anew."""

    resource_name = "license"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = rules.SUSPENDED, "Suspended"
        REVOKED = rules.REVOKED, "Revoked"
        DEACTIVATED = rules.DEACTIVATED, "Deactivated"

    # A license holds a seat from activation until it is deactivated or revoked; a
    # suspended one keeps its seat so that resuming it can never fail for lack of seats.
    SEAT_HOLDING = (Status.ACTIVE, Status.SUSPENDED)

    entitlement = models.ForeignKey("licensing.Entitlement", on_delete=models.PROTECT, related_name="licenses")
    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="licenses")
    activation_code = models.ForeignKey(
        "licensing.ActivationCode", on_delete=models.PROTECT, related_name="licenses", null=True, blank=True
    )
    license_user = models.ForeignKey(
        LicenseUser, on_delete=models.PROTECT, related_name="licenses", null=True, blank=True
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE, editable=False)
    activated_at = models.DateTimeField(default=timezone.now)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_check_in_at = models.DateTimeField(null=True, blank=True)
    # When the client signed the request that last activated or deactivated this license
    # (its Date header, or an offline request's date): offline requests must be newer.
    client_signed_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = LicenseQuerySet.as_manager()

    # The floating slot an answer about this license holds (services/floating.Slot), set
    # by the service that took or renewed it; None for a node-locked license.
    slot = None

    class Meta:
        ordering = ["-activated_at"]
        constraints = [
            models.UniqueConstraint(fields=["entitlement", "device"], name="license_one_per_device_and_entitlement"),
            models.CheckConstraint(
                condition=Q(activation_code__isnull=False, license_user__isnull=True)
                | Q(activation_code__isnull=True, license_user__isnull=False),
                name="license_through_code_or_user",
            ),
        ]
        indexes = [
            models.Index(fields=["entitlement", "status"]),
            models.Index(fields=["activation_code", "status"]),
            models.Index(fields=["status"]),
            # The order lists page through (the admin adds -pk).
            models.Index(fields=["activated_at", "id"]),
        ]
        permissions = [
            ("suspend_license", "Can suspend and resume licenses"),
            ("deactivate_license", "Can deactivate licenses"),
            ("revoke_license", "Can revoke licenses"),
        ]

    label_relations = ("device", "entitlement__product", "entitlement__customer")

    def __str__(self) -> str:
        return f"{self.device} on {self.entitlement}" if self.device_id and self.entitlement_id else "New license"

    @property
    def holds_seat(self) -> bool:
        return self.status in self.SEAT_HOLDING

    def chain(self) -> rules.Chain:
        return self.entitlement.chain(
            code_status=self.activation_code.status if self.activation_code_id else None, license_status=self.status
        )

    def verdict(self, now: dt.datetime | None = None) -> rules.Verdict:
        return rules.evaluate(self.chain(), now or timezone.now())
