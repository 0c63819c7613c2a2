import secrets

from django.db import models

from .. import secretbox
from .base import PublicModel


def generate_api_key() -> str:
    return secrets.token_urlsafe(24)


class ClientCredential(PublicModel):
    """What a client application signs its requests with (DESIGN.md §3).

    The API key travels in every request; the shared key never does. It is needed in
    clear to verify HMACs, so it is stored encrypted and shown only when created.
    """

    name = models.CharField(max_length=200)
    api_key = models.CharField(max_length=64, unique=True, default=generate_api_key, editable=False)
    shared_key_encrypted = models.TextField(editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "client credential"

    def __str__(self) -> str:
        return self.name

    @property
    def shared_key(self) -> str:
        return secretbox.decrypt(self.shared_key_encrypted)

    @shared_key.setter
    def shared_key(self, value: str) -> None:
        self.shared_key_encrypted = secretbox.encrypt(value)

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
