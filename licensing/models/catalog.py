from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from .base import PublicModel

# A product's trial terms, wherever they are written or shown.
TRIAL_FIELDS = ("trial_allowed", "trial_duration", "trial_seats", "trial_features")
# A trial longer than a year is a sale; more seats than this, a site license.
MAX_TRIAL_DAYS = 365
MAX_TRIAL_SEATS = 1000


class Product(PublicModel):
    resource_name = "product"

    class AuthorizationMethod(models.TextChoices):
        LICENSE_KEY = "license_key", "License key (activation code)"
        USER = "user", "License user (username and password)"

    code = models.SlugField(max_length=50, unique=True, help_text="Short code that client applications send.")
    name = models.CharField(max_length=200)
    authorization_method = models.CharField(
        max_length=20, choices=AuthorizationMethod.choices, default=AuthorizationMethod.LICENSE_KEY
    )
    # Trials (services/trials.py): a key a client asks for itself, one per machine and
    # one per email address.
    trial_allowed = models.BooleanField(
        "trials allowed",
        default=False,
        help_text="Client applications may ask for a trial key (one per machine and email address).",
    )
    trial_duration = models.PositiveIntegerField(
        default=14,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_TRIAL_DAYS)],
        help_text="Days a trial runs, from the moment its key is handed out.",
    )
    trial_seats = models.PositiveIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_TRIAL_SEATS)],
        help_text="Devices a trial key activates.",
    )
    trial_features = models.ManyToManyField(
        "licensing.ProductFeature",
        blank=True,
        related_name="+",
        help_text="Features a trial grants (of this product's own).",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(trial_duration__gte=1, trial_duration__lte=MAX_TRIAL_DAYS),
                name="product_trial_duration_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(trial_seats__gte=1, trial_seats__lte=MAX_TRIAL_SEATS),
                name="product_trial_seats_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.trial_allowed and self.authorization_method != self.AuthorizationMethod.LICENSE_KEY:
            raise ValidationError(
                {"trial_allowed": "A trial is a license key: only products activated with keys offer trials."}
            )
