from django.db import models

from .base import PublicModel


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

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
