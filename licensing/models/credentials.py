from __future__ import annotations

import hashlib
import secrets

from django.db import models

from .. import secretbox
from .base import PublicModel


def generate_api_key() -> str:
    return secrets.token_urlsafe(24)


class ClientCredential(PublicModel):
    """What a client application signs its requests with.

    The API key travels in every request; the shared key never does. It is needed in
    clear to verify HMACs, so it is stored encrypted and shown only when created.
    """

    resource_name = "client_credential"

    name = models.CharField(max_length=200)
    api_key = models.CharField(max_length=64, unique=True, default=generate_api_key, editable=False)
    shared_key_encrypted = models.TextField(editable=False)
    shared_key = secretbox.encrypted("shared_key_encrypted")
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "client credential"

    def __str__(self) -> str:
        return self.name

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


API_TOKEN_PREFIX = "lsm_"


def hash_api_token(token: str) -> str:
    """Tokens carry 256 random bits, so one SHA-256 is enough to store them safely (a slow
    password hash protects guessable secrets, which these are not) and lets a request be
    matched with one indexed lookup."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(PublicModel):
    """A bearer token for the management API. Only its hash is stored: the
    token itself is shown once, when it is created."""

    resource_name = "api_token"

    name = models.CharField(max_length=200, help_text="Which system uses it, e.g. “billing”.")
    read_only = models.BooleanField(default=False, help_text="Read-only tokens can read everything and change nothing.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=16, editable=False, help_text="The token's first characters, to recognise it.")
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return self.name

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @classmethod
    def new_token(cls) -> str:
        return API_TOKEN_PREFIX + secrets.token_urlsafe(32)

    @classmethod
    def for_token(cls, raw: str, **fields) -> ApiToken:
        """An unsaved row for the token `raw`: its hash, and a hint to recognise it by."""
        return cls(token_hash=hash_api_token(raw), hint=raw[: len(API_TOKEN_PREFIX) + 6], **fields)
