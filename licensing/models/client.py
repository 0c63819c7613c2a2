from django.db import models
from django.utils import timezone


class SigningKey(models.Model):
    """The Ed25519 key that signs client API responses and license files.

    Generated on first use and kept in the database, so every web process signs with the
    same key; production may instead supply one in settings (LICENSING_SIGNING_KEY).
    """

    kid = models.CharField("key id", max_length=64, unique=True)
    private_key_encrypted = models.TextField(editable=False)
    public_key_pem = models.TextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.kid


class OfflineRequest(models.Model):
    """An offline request already answered. A `request_id` is used once: a repeat gets
    the first outcome again, which renders to the first answer byte for byte, and
    changes nothing."""

    class Outcome(models.TextChoices):
        ACTIVATED = "activated", "License file issued"
        DEACTIVATED = "deactivated", "Seat freed"
        REFUSED = "refused", "Refused"

    request_id = models.CharField(max_length=128, unique=True)
    kind = models.CharField(max_length=20)
    # Which credential sent it and a digest of what it asked: a repeat must be the same
    # request, not another one that borrows a known request_id to read its answer.
    credential_id = models.UUIDField()
    fingerprint = models.CharField(max_length=64)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    license_file = models.TextField(blank=True, help_text="The signed license file an activation was given.")
    refusal = models.JSONField(default=dict, blank=True, help_text="What the licensing rules refused, and why.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.request_id
