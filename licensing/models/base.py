import uuid
from typing import ClassVar

from django.contrib.auth.hashers import check_password, is_password_usable, make_password
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac


class PublicModel(models.Model):
    """A row whose identity may leave the server: a random UUID, never a sequence."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    # What this kind of record is called in audit actions and webhook event types
    # (`activation_code.revoked`), in the vendor's words rather than Django's model name.
    resource_name: ClassVar[str]
    # The relations its label (`str()`, which the audit trail keeps) reads: fetched with
    # the row wherever a change re-reads it under lock (`services.recording.lock_row`).
    label_relations: ClassVar[tuple[str, ...]] = ()

    class Meta:
        abstract = True


class SwitchedModel(PublicModel):
    """A row with a status switch. Only `licensing.services` writes these three fields:
    every change of them is a transition with an audit event."""

    status_reason = models.TextField(blank=True, editable=False)
    status_changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True


def normalize_address(text: str) -> str:
    """An email address or username as stored and looked up: one spelling per person.
    Lookups match this exactly rather than with `iexact`: the database's case folding
    differs from Python's for a few letters (dotless i, long s), and two spellings the database
    folds together must never name two accounts."""
    return text.strip().lower()


class PortalAccount(PublicModel):
    """Someone who signs in to the end-user portal with a password: a customer contact
    or a license user. Not a Django staff user: portal accounts live apart from the
    admin's, so no mistake in the admin can give a customer's person staff rights, and
    a vendor can be signed in to the admin and the portal in one browser at once.

    Holds what Django's password hashers and token generator read (`password`,
    `last_login`, the email field), so password resets use Django's own tokens.
    """

    EMAIL_FIELD = "email"

    password = models.CharField(max_length=128, editable=False)
    last_login = models.DateTimeField("last portal sign-in", null=True, blank=True, editable=False)

    class Meta:
        abstract = True

    # Read by Django's templates and helpers that expect a user-like object.
    is_authenticated = True
    is_anonymous = False
    is_active = True  # an account kind that can be switched off makes this a field

    @property
    def email_address(self) -> str:
        return getattr(self, self.EMAIL_FIELD)

    @classmethod
    def get_email_field_name(cls) -> str:
        return cls.EMAIL_FIELD

    def set_password(self, raw_password: str | None) -> None:
        self.password = make_password(raw_password)

    def set_unusable_password(self) -> None:
        self.password = make_password(None)

    def has_usable_password(self) -> bool:
        return is_password_usable(self.password)

    def check_password(self, raw_password: str) -> bool:
        # Constant-time comparison inside Django's hashers; upgrades old hashes on success.
        def upgrade(new_raw: str) -> None:
            self.set_password(new_raw)
            self.save(update_fields=["password", "updated_at"])

        return check_password(raw_password, self.password, upgrade)

    def get_session_auth_hash(self) -> str:
        """Changes with the password, so a password change ends every other session."""
        return salted_hmac("licensing.PortalAccount.session", self.password, algorithm="sha256").hexdigest()
