"""Credentials: what client applications sign their requests with, and the bearer
tokens of the management API."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any, TypeVar

from django.db import transaction
from django.utils import timezone

from ..actors import Actor
from ..errors import InvalidTransition
from ..models import ApiToken, ClientCredential
from .edits import update_record
from .recording import record_change


def new_shared_key() -> str:
    return secrets.token_urlsafe(30)


def client_credential_create(*, name: str, actor: Actor) -> tuple[ClientCredential, str]:
    """Create a client credential. Returns it with its shared key, which is shown to the
    caller this once and afterwards kept only encrypted."""
    shared_key = new_shared_key()
    with transaction.atomic():
        credential = ClientCredential(name=name)
        credential.shared_key = shared_key
        credential.save()
        record_change(actor=actor, action="client_credential.created", target=credential, after={"name": name})
    return credential, shared_key


def client_credential_revoke(*, credential: ClientCredential, actor: Actor, reason: str = "") -> ClientCredential:
    """Revoke a client credential: requests signed with it are refused from now on."""
    return _revoke(credential, action="client_credential.revoked", actor=actor, reason=reason)


def client_credential_rotate(
    *, credential: ClientCredential, actor: Actor, reason: str = ""
) -> tuple[ClientCredential, str]:
    """Give a credential a new shared key; requests signed with the old one fail at once.
    The API key stays, so only the secret has to be redeployed."""
    shared_key = new_shared_key()
    with transaction.atomic():
        locked = ClientCredential.objects.select_for_update().get(pk=credential.pk)
        if locked.is_revoked:
            raise InvalidTransition("This client credential is revoked; create a new one.")
        locked.shared_key = shared_key
        locked.save(update_fields=["shared_key_encrypted", "updated_at"])
        record_change(actor=actor, action="client_credential.rotated", target=locked, reason=reason)
    return locked, shared_key


def client_credential_update(
    *, credential: ClientCredential, data: Mapping[str, Any], actor: Actor
) -> ClientCredential:
    """Rename a credential; its keys are changed only by rotation."""
    return update_record(credential, data=data, actor=actor)


def api_token_create(*, name: str, read_only: bool, actor: Actor) -> tuple[ApiToken, str]:
    """Create a management API token. Returns it with the token itself, which is shown
    to the caller this once; only its hash is kept."""
    raw = ApiToken.new_token()
    with transaction.atomic():
        token = ApiToken.for_token(raw, name=name, read_only=read_only)
        token.save()
        record_change(
            actor=actor, action="api_token.created", target=token, after={"name": name, "read_only": read_only}
        )
    return token, raw


def api_token_revoke(*, token: ApiToken, actor: Actor, reason: str = "") -> ApiToken:
    """Revoke a management API token: it gets 401 from its next request on."""
    return _revoke(token, action="api_token.revoked", actor=actor, reason=reason)


def api_token_update(*, token: ApiToken, data: Mapping[str, Any], actor: Actor) -> ApiToken:
    """Rename a token. Its rights are fixed: other rights, another token."""
    return update_record(token, data=data, actor=actor, fixed=("read_only",))


C = TypeVar("C", ClientCredential, ApiToken)


def _revoke(credential: C, *, action: str, actor: Actor, reason: str) -> C:
    """Stamp `revoked_at` under the row's lock, once: revocation is final."""
    model = type(credential)
    with transaction.atomic():
        locked = model.objects.select_for_update().get(pk=credential.pk)
        if locked.is_revoked:
            raise InvalidTransition(f"This {model._meta.verbose_name} is already revoked.")
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at", "updated_at"])
        record_change(
            actor=actor,
            action=action,
            target=locked,
            reason=reason,
            before={"revoked_at": None},
            after={"revoked_at": locked.revoked_at.isoformat()},
        )
    return locked
