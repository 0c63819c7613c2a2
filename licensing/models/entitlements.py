import datetime as dt
import secrets

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from .. import rules
from ..querysets import ActivationCodeQuerySet, EntitlementQuerySet
from .base import SwitchedModel
from .features import MeteringTerms


class LicenseTransaction(SwitchedModel):
    """One order from the vendor's billing that provisioned entitlements."""

    resource_name = "transaction"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = rules.SUSPENDED, "Suspended"

    customer = models.ForeignKey("licensing.Customer", on_delete=models.PROTECT, related_name="transactions")
    external_id = models.CharField(max_length=200, unique=True, help_text="The order's id in your billing system.")
    processed_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE, editable=False)

    class Meta:
        ordering = ["-processed_at"]
        verbose_name = "license transaction"
        indexes = [models.Index(fields=["status"]), models.Index(fields=["processed_at", "id"])]
        permissions = [("suspend_licensetransaction", "Can suspend and resume license transactions")]

    def __str__(self) -> str:
        return self.external_id


# Bounds that keep lease arithmetic meaningful (and inside every database's range).
MIN_LEASE = dt.timedelta(minutes=1)
MAX_TERM = dt.timedelta(days=3650)


MAX_GRACE = rules.MAX_GRACE_PERIOD


# Bounds of a floating slot's lease: a heartbeat more often than once a minute is noise,
# and a day covers a machine that sleeps overnight.
MIN_FLOATING_TIMEOUT = 60
MAX_FLOATING_TIMEOUT = 86_400


class Entitlement(MeteringTerms, SwitchedModel):
    """A customer's right to a product: seats, a validity window, features, lease terms,
    and (when `max_consumptions` is set) metered consumption."""

    resource_name = "entitlement"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DISABLED = rules.DISABLED, "Disabled"

    class LicenseModel(models.TextChoices):
        NODE_LOCKED = "node_locked", "Node-locked"
        FLOATING = "floating", "Floating"

    customer = models.ForeignKey("licensing.Customer", on_delete=models.PROTECT, related_name="entitlements")
    product = models.ForeignKey("licensing.Product", on_delete=models.PROTECT, related_name="entitlements")
    transaction = models.ForeignKey(
        LicenseTransaction, on_delete=models.PROTECT, related_name="entitlements", null=True, blank=True
    )
    license_model = models.CharField(
        max_length=20,
        choices=LicenseModel.choices,
        default=LicenseModel.NODE_LOCKED,
        help_text="Node-locked: each activated device holds a seat. Floating: any number of devices may be "
        "activated, but only as many as there are seats run at once.",
    )
    seats = models.PositiveIntegerField(
        default=1,
        validators=[MinValueValidator(1)],
        help_text="Node-locked: devices that may be activated. Floating: devices that may run at once.",
    )
    # Licenses holding one of the seats now (for a floating entitlement: devices
    # registered), kept by every change that takes or gives one back
    # (licensing/services/seats.py), under this row's lock.
    seats_used = models.PositiveIntegerField(default=0, editable=False)
    max_activations = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Floating only: how many devices may be registered. Empty: no limit.",
    )
    floating_timeout = models.PositiveIntegerField(
        default=600,
        validators=[MinValueValidator(MIN_FLOATING_TIMEOUT), MaxValueValidator(MAX_FLOATING_TIMEOUT)],
        help_text="Floating only: seconds a check-in holds the device's slot; a device that stops checking in "
        "frees it then.",
    )
    max_borrow_time = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_TERM.days * 86_400)],
        help_text="Floating only: the longest a device may borrow a slot to work offline, in seconds. 0: no borrowing.",
    )
    valid_from = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField(null=True, blank=True, help_text="Empty for a perpetual entitlement.")
    # The features granted (EntitlementFeature rows, with their feature's code, name and
    # type): kept here by every change of a grant (services/features.py), under this
    # row's lock, so that a client check reads them with the entitlement and remembers
    # them under its version.
    feature_terms = models.JSONField(default=list, editable=False)
    lease_period = models.DurationField(
        default=dt.timedelta(days=1),
        validators=[MinValueValidator(MIN_LEASE), MaxValueValidator(MAX_TERM)],
        help_text="How long a check-in keeps a license valid without another, e.g. “1 00:00:00” for a day.",
    )
    offline_grace = models.DurationField(
        default=dt.timedelta(days=7),
        validators=[MinValueValidator(dt.timedelta(0)), MaxValueValidator(MAX_TERM)],
        help_text="How long a license file works without reaching the server. Zero: no offline use.",
    )
    grace_period = models.DurationField(
        default=dt.timedelta(0),
        validators=[MinValueValidator(dt.timedelta(0)), MaxValueValidator(MAX_GRACE)],
        help_text="How long licenses keep working after “valid until”, while the customer renews, e.g. "
        "“7 00:00:00” for a week. Zero: none.",
    )
    # Handed out by GET /api/v4/trial_key (services/trials.py) until staff convert it.
    is_trial = models.BooleanField("trial", default=False, editable=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE, editable=False)

    objects = EntitlementQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["customer", "status"]),
            # Each fact an effective status is decided by, for its filters.
            models.Index(fields=["status"]),
            models.Index(fields=["valid_from"]),
            models.Index(fields=["valid_until"]),
            # The order lists page through (the admin adds -pk).
            models.Index(fields=["created_at", "id"]),
            # Trials, listed apart from what was sold.
            models.Index(fields=["created_at", "id"], condition=Q(is_trial=True), name="entitlement_trials"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="entitlement_valid_until_after_valid_from",
            ),
            models.CheckConstraint(condition=Q(seats__gte=1), name="entitlement_has_a_seat"),
            # Searches for ended entitlements are bounded by the longest grace.
            models.CheckConstraint(
                condition=Q(grace_period__gte=dt.timedelta(0), grace_period__lte=MAX_GRACE),
                name="entitlement_grace_period_in_range",
            ),
            # A floating entitlement's seats are slots: it registers more devices than it
            # has seats, up to its own cap.
            models.CheckConstraint(
                condition=Q(license_model="floating") | Q(seats_used__lte=F("seats")),
                name="entitlement_seats_used_within_seats",
            ),
            models.CheckConstraint(
                condition=Q(max_activations__isnull=True) | Q(seats_used__lte=F("max_activations")),
                name="entitlement_seats_used_within_max_activations",
            ),
            models.CheckConstraint(
                condition=Q(floating_timeout__gte=MIN_FLOATING_TIMEOUT, floating_timeout__lte=MAX_FLOATING_TIMEOUT),
                name="entitlement_floating_timeout_in_range",
            ),
        ]
        permissions = [("disable_entitlement", "Can disable and enable entitlements")]

    label_relations = ("product", "customer")

    def __str__(self) -> str:
        return f"{self.product} for {self.customer}" if self.product_id and self.customer_id else "New entitlement"

    def clean(self) -> None:
        errors = {}
        if self.transaction_id and self.customer_id and self.transaction.customer_id != self.customer_id:
            errors["transaction"] = "This transaction belongs to another customer."
        if self.valid_until and self.valid_from and self.valid_until <= self.valid_from:
            errors["valid_until"] = "Must be after the start of validity."
        errors.update(self.metering_problems())
        if self.is_floating:
            if self.max_activations is not None and self.max_activations < self.seats_used:
                errors["max_activations"] = (
                    f"{self.seats_used} devices are registered; deactivate some before lowering the cap to "
                    f"{self.max_activations}."
                )
        elif self.seats is not None and self.seats < self.seats_used:
            errors["seats"] = (
                f"{self.seats_used} seats are in use; deactivate licenses before lowering seats to {self.seats}."
            )
        if errors:
            raise ValidationError(errors)

    @property
    def is_floating(self) -> bool:
        return self.license_model == self.LicenseModel.FLOATING

    @property
    def grace_until(self) -> dt.datetime | None:
        """When licenses stop, for an entitlement with a grace period after its end."""
        return self.valid_until + self.grace_period if self.valid_until and self.grace_period else None

    @property
    def access_until(self) -> dt.datetime | None:
        """The last moment licenses work: the end of validity, or of the grace after it."""
        return self.grace_until or self.valid_until

    def in_grace(self, now: dt.datetime) -> bool:
        """Past its end but within the grace period: licenses still work."""
        return self.grace_until is not None and self.valid_until < now <= self.grace_until

    def expires_within(self, now: dt.datetime, window: dt.timedelta) -> bool:
        return self.valid_until is not None and now <= self.valid_until <= now + window

    def within_validity(self, moment: dt.datetime) -> dt.datetime:
        """`moment`, but never past the last moment licenses work."""
        end = self.access_until
        return min(moment, end) if end else moment

    def chain(self, *, code_status: str | None = None, license_status: str | None = None) -> rules.Chain:
        """The entitlement's links, plus those of a code or license below it."""
        return rules.Chain(
            customer_status=self.customer.status,
            entitlement_status=self.status,
            transaction_status=self.transaction.status if self.transaction_id else None,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            grace_period=self.grace_period,
            code_status=code_status,
            license_status=license_status,
        )

    def verdict(self, now: dt.datetime | None = None) -> rules.Verdict:
        return rules.evaluate(self.chain(), now or timezone.now())

    def granted_features(self, now: dt.datetime) -> list[dict]:
        """The terms of the features granted and not expired at `now`."""
        return [terms for terms in self.feature_terms if not _expired(terms, now)]

    def features(self, now: dt.datetime) -> dict:
        """`{code: value}` of the features granted at `now`: what a client opens."""
        granted = self.granted_features(now)
        return {terms["code"]: True if terms["value"] is None else terms["value"] for terms in granted}

    def feature_grant_terms(self, code: str) -> dict | None:
        return next((terms for terms in self.feature_terms if terms["code"] == code), None)


def _expired(terms: dict, now: dt.datetime) -> bool:
    return terms["expires_at"] is not None and dt.datetime.fromisoformat(terms["expires_at"]) <= now


# Crockford's base32 alphabet: no I, L, O or U, so a code read aloud or typed from paper
# is not mistaken. 16 characters of 32 symbols carry 80 bits of randomness.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_GROUPS = 4
CODE_GROUP_LENGTH = 4


def generate_activation_code() -> str:
    groups = ("".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUP_LENGTH)) for _ in range(CODE_GROUPS))
    return "-".join(groups)


class ActivationCode(SwitchedModel):
    """The secret an end user types to activate; belongs to one entitlement."""

    resource_name = "activation_code"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DISABLED = rules.DISABLED, "Disabled"
        REVOKED = rules.REVOKED, "Revoked"

    entitlement = models.ForeignKey(Entitlement, on_delete=models.PROTECT, related_name="activation_codes")
    code = models.CharField(max_length=32, unique=True, default=generate_activation_code, editable=False)
    max_activations = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="This code's own cap on active devices. Empty: only the entitlement's seats limit it.",
    )
    # Devices holding a seat through this code now, kept as the entitlement's count is.
    seats_used = models.PositiveIntegerField(default=0, editable=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE, editable=False)

    objects = ActivationCodeQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status"]), models.Index(fields=["created_at", "id"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_activations__isnull=True) | Q(seats_used__lte=F("max_activations")),
                name="activation_code_seats_used_within_cap",
            )
        ]
        permissions = [
            ("disable_activationcode", "Can disable and enable activation codes"),
            ("revoke_activationcode", "Can revoke activation codes"),
        ]

    def __str__(self) -> str:
        return self.masked_code

    def clean(self) -> None:
        if self.max_activations is not None and self.max_activations < self.seats_used:
            raise ValidationError(
                {
                    "max_activations": f"{self.seats_used} devices are active with this code; deactivate some "
                    f"before lowering its cap to {self.max_activations}."
                }
            )

    @property
    def masked_code(self) -> str:
        return f"••••-••••-••••-{self.code[-4:]}"
