"""Features a product declares, the grants of them an entitlement holds, and metered
consumption: counters per period and the entries that moved them."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from .. import periods
from .base import PublicModel

# A count no client needs more of in one period, and that every database holds.
MAX_CONSUMPTIONS = 10**15
# One request's consumption, either way.
MAX_CONSUMPTION_STEP = 10**9
# A feature's value: what a client compares or shows, not a document.
MAX_VALUE_TEXT = 500

feature_code_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.\-]*\Z",
    "Letters, digits, underscores, dots and hyphens, starting with a letter or digit.",
)


class ResetPeriod(models.TextChoices):
    NEVER = periods.NEVER, "Never"
    DAILY = periods.DAILY, "Daily"
    WEEKLY = periods.WEEKLY, "Weekly"
    MONTHLY = periods.MONTHLY, "Monthly"
    YEARLY = periods.YEARLY, "Yearly"


# The fields of a meter's terms, wherever they are written or shown.
METERING_FIELDS = ("max_consumptions", "allow_overages", "max_overages", "reset_period", "allow_negative_consumptions")
GRANT_FIELDS = ("feature", "value", "expires_at", *METERING_FIELDS)


class MeteringTerms(models.Model):
    """How much may be consumed per period: on a metered entitlement, and on a grant of
    a consumption feature. Not metered while `max_consumptions` is empty."""

    max_consumptions = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_CONSUMPTIONS)],
        help_text="Consumptions allowed per period. Empty: not metered.",
    )
    allow_overages = models.BooleanField(default=False, help_text="Accept consumption past the limit.")
    max_overages = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_CONSUMPTIONS)],
        help_text="With overages allowed: how many past the limit. Empty: no cap.",
    )
    reset_period = models.CharField(
        max_length=10,
        choices=ResetPeriod.choices,
        default=ResetPeriod.NEVER,
        help_text="The counter restarts every period, from the entitlement's start of validity.",
    )
    allow_negative_consumptions = models.BooleanField(
        default=False, help_text="Accept negative consumptions (a client giving units back)."
    )

    class Meta:
        abstract = True

    @property
    def is_metered(self) -> bool:
        return self.max_consumptions is not None

    def metering_problems(self) -> dict[str, str]:
        if self.max_overages is not None and not self.allow_overages:
            return {"max_overages": "Allow overages to set how many."}
        return {}

    def metering_terms(self) -> dict:
        return {name: getattr(self, name) for name in METERING_FIELDS}


class ProductFeature(PublicModel):
    """Something a product sells apart: a module a client opens (`activation`) or units
    it meters (`consumption`)."""

    resource_name = "product_feature"

    class FeatureType(models.TextChoices):
        ACTIVATION = "activation", "Activation (a module or option)"
        CONSUMPTION = "consumption", "Consumption (metered units)"

    product = models.ForeignKey("licensing.Product", on_delete=models.PROTECT, related_name="features")
    code = models.CharField(
        max_length=100, validators=[feature_code_validator], help_text="What client applications ask for."
    )
    name = models.CharField(max_length=200)
    feature_type = models.CharField(max_length=20, choices=FeatureType.choices, default=FeatureType.ACTIVATION)

    label_relations = ("product",)

    class Meta:
        ordering = ["product__name", "code"]
        constraints = [models.UniqueConstraint(fields=["product", "code"], name="product_feature_code_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def is_consumption(self) -> bool:
        return self.feature_type == self.FeatureType.CONSUMPTION


class EntitlementFeature(MeteringTerms, PublicModel):
    """A feature of the entitlement's product granted to it: with a value a client reads
    (true where none is set), until `expires_at` if set, and for a consumption feature
    the terms of its counter."""

    resource_name = "entitlement_feature"

    entitlement = models.ForeignKey("licensing.Entitlement", on_delete=models.CASCADE, related_name="feature_grants")
    feature = models.ForeignKey(ProductFeature, on_delete=models.PROTECT, related_name="grants")
    value = models.JSONField(
        null=True, blank=True, help_text="true, a whole number or text; empty: true. Clients read it as is."
    )
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: as long as the entitlement.")

    label_relations = ("entitlement__product", "entitlement__customer", "feature")

    class Meta:
        ordering = ["feature__code"]
        verbose_name = "feature grant"
        constraints = [
            models.UniqueConstraint(fields=["entitlement", "feature"], name="entitlement_feature_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.feature.code} of {self.entitlement}" if self.feature_id and self.entitlement_id else "New grant"

    def clean(self) -> None:
        errors = self.metering_problems()
        if self.feature_id and self.entitlement_id and self.feature.product_id != self.entitlement.product_id:
            errors["feature"] = "This feature belongs to another product."
        if problem := value_problem(self.value):
            errors["value"] = problem
        if self.is_metered and self.feature_id and not self.feature.is_consumption:
            errors["max_consumptions"] = "Only a consumption feature is metered."
        if errors:
            raise ValidationError(errors)

    def terms(self) -> dict:
        """What the entitlement keeps of this grant for client answers (`Entitlement.feature_terms`)."""
        return {
            "code": self.feature.code,
            "name": self.feature.name,
            "feature_type": self.feature.feature_type,
            "value": self.value,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            **self.metering_terms(),
        }


def value_problem(value) -> str | None:
    """Why `value` is not a feature value (true/false, a whole number, or short text)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if abs(value) <= MAX_CONSUMPTIONS else "A number value must be within ±10^15."
    if isinstance(value, str):
        if len(value) > MAX_VALUE_TEXT:
            return f"A text value may be at most {MAX_VALUE_TEXT} characters."
        if "\x00" in value:
            return "A text value must not contain NUL characters."
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate half: not text PostgreSQL stores
            return "A text value must be valid Unicode text."
        return None
    return "A value is true or false, a whole number or text."


class ConsumptionCounter(models.Model):
    """What an entitlement (`feature` empty) or one of its features consumed in one
    period. Keyed by the period's start: a new period is a new row."""

    id = models.BigAutoField(primary_key=True)
    entitlement = models.ForeignKey(
        "licensing.Entitlement", on_delete=models.CASCADE, related_name="consumption_counters"
    )
    feature = models.ForeignKey(ProductFeature, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField(null=True, blank=True)
    used = models.BigIntegerField(default=0)
    # When the period's consumption first reached its limit: `consumption.limit_reached`
    # is announced once per counter, by the request that set this.
    limit_reached_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entitlement", "period_start"],
                condition=Q(feature__isnull=True),
                name="consumption_counter_entitlement_period",
            ),
            models.UniqueConstraint(
                fields=["entitlement", "feature", "period_start"],
                condition=Q(feature__isnull=False),
                name="consumption_counter_feature_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.used} from {self.period_start:%Y-%m-%d %H:%M}"


class ConsumptionEntry(PublicModel):
    """One accepted change of a counter: a client's consumption (by `request_id`, if it
    sent one, answered again with `answer` when it repeats) or a correction by staff,
    with its reason. The usage history is read from these."""

    resource_name = "consumption_entry"

    class Kind(models.TextChoices):
        CLIENT = "client", "Client"
        CORRECTION = "correction", "Correction"

    entitlement = models.ForeignKey(
        "licensing.Entitlement", on_delete=models.CASCADE, related_name="consumption_entries"
    )
    feature = models.ForeignKey(ProductFeature, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    license = models.ForeignKey("licensing.License", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.CLIENT)
    amount = models.BigIntegerField(
        validators=[MinValueValidator(-MAX_CONSUMPTIONS), MaxValueValidator(MAX_CONSUMPTIONS)]
    )
    period_start = models.DateTimeField()
    request_id = models.CharField(max_length=128, blank=True)
    answer = models.JSONField(null=True, blank=True, editable=False)
    reason = models.TextField(blank=True)
    actor_label = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "consumption entries"
        indexes = [models.Index(fields=["entitlement", "created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["license", "request_id"],
                condition=~Q(request_id=""),
                name="consumption_request_once",
            )
        ]
