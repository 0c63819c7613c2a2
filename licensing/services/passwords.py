"""Passwords of portal accounts: customer contacts, and license users (whose portal
password is also the one their application activates with)."""

from __future__ import annotations

from typing import TypeVar

from django.contrib.auth.hashers import make_password
from django.db import transaction

from ..actors import Actor
from ..models.base import PortalAccount
from .recording import record_change

A = TypeVar("A", bound=PortalAccount)


def portal_password_set(*, account: A, password: str, actor: Actor) -> A:
    """Give an account a new password: a change, a reset, an accepted invitation, or
    staff setting it. Every other portal session of the account ends (its session hash
    changes). The record says it changed, never what it is."""
    encoded = make_password(password)  # the slow hash, before any row is locked
    with transaction.atomic():
        locked = type(account).objects.select_for_update().get(pk=account.pk)
        locked.password = encoded
        locked.save(update_fields=["password", "updated_at"])
        record_change(actor=actor, action=f"{locked.resource_name}.password_changed", target=locked)
    return locked
