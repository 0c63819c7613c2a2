"""Portal accounts: passwords and invitations."""

from __future__ import annotations

from typing import TypeVar

from django.db import transaction
from django.utils import timezone

from .. import accounts
from ..audit import Actor, record_event
from ..errors import DomainError
from ..models import CustomerContact
from ..models.base import PortalAccount
from .edits import resource_name

A = TypeVar("A", bound=PortalAccount)


def portal_password_set(*, account: A, password: str, actor: Actor) -> A:
    """Give a portal account a new password: a change, a reset, or an accepted
    invitation. Every other session of the account ends (its session hash changes).
    For a license user it is also the password its client application activates with."""
    with transaction.atomic():
        locked = type(account).objects.select_for_update().get(pk=account.pk)
        locked.set_password(password)
        locked.save(update_fields=["password", "updated_at"])
        record_event(actor=actor, action=f"{resource_name(locked)}.password_changed", target=locked)
    return locked


def customer_contact_invite(*, contact: CustomerContact, base_url: str, actor: Actor) -> CustomerContact:
    """Mail the contact a link to choose a password and sign in. Inviting again sends a
    fresh link; an earlier one still works until a password is chosen."""
    with transaction.atomic():
        locked = CustomerContact.objects.select_for_update().select_related("customer").get(pk=contact.pk)
        if not locked.is_active:
            # The link would lead nowhere: a contact who may not sign in cannot choose a password.
            raise DomainError(f"{locked.email} may not sign in; tick “may sign in” before inviting them.")
        locked.invited_at = timezone.now()
        locked.save(update_fields=["invited_at", "updated_at"])
        record_event(actor=actor, action="customer_contact.invited", target=locked, invalidates=False)
        # Mail once the invitation is on record; a rolled-back one sends nothing.
        transaction.on_commit(
            lambda: accounts.send_password_mail(locked, base_url=base_url, template="invitation"), robust=True
        )
    return locked
