"""Portal accounts and what the portal says: customer contacts, invitations, and the
portal's settings. (Passwords: passwords.py.)"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import accounts, audit
from ..actors import Actor
from ..errors import DomainError
from ..models import CustomerContact, PortalSettings
from .edits import create_record, update_record


def customer_contact_create(*, contact: CustomerContact, actor: Actor) -> CustomerContact:
    """A contact who may sign in once they choose a password (see customer_contact_invite)."""
    return create_record(contact, actor=actor)


def customer_contact_update(*, contact: CustomerContact, data: Mapping[str, Any], actor: Actor) -> CustomerContact:
    """A contact stays with its customer. Unticking `is_active` ends the contact's
    sessions at their next page (portal/auth.py reads it on every request)."""
    return update_record(contact, data=data, actor=actor, fixed=("customer",))


def portal_settings_update(*, portal_settings: PortalSettings, data: Mapping[str, Any], actor: Actor) -> PortalSettings:
    return update_record(portal_settings, data=data, actor=actor)


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
        audit.append(actor=actor, action="customer_contact.invited", target=locked)
        # Mail once the invitation is on record; a rolled-back one sends nothing.
        transaction.on_commit(
            lambda: accounts.send_password_mail(locked, base_url=base_url, template="invitation"), robust=True
        )
    return locked
