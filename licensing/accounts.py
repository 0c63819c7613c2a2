"""Portal accounts: customer contacts and license users (licensing/models/base.py's
PortalAccount). How one is found by its sign-in address, named in a session or a link,
and sent a link to choose a password.

The portal keeps its own session keys (portal/auth.py), apart from the staff users of
django.contrib.auth; it uses Django's password hashers and its reset-token generator.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from .models import CustomerContact, LicenseUser, PortalSettings
from .models.base import PortalAccount, normalize_address

# The kinds of account, by the short name that sessions and links carry.
KINDS: dict[str, type[PortalAccount]] = {"contact": CustomerContact, "user": LicenseUser}
KIND_NAMES = {model: name for name, model in KINDS.items()}


def account_key(account: PortalAccount) -> str:
    return f"{KIND_NAMES[type(account)]}:{account.pk}"


def account_for_key(key: str) -> PortalAccount | None:
    """The account a session or link names, if it still exists and may sign in."""
    kind, _, pk = str(key).partition(":")
    model = KINDS.get(kind)
    if model is None:
        return None
    try:
        uuid.UUID(pk)
    except ValueError:  # a forged or damaged key
        return None
    account = model.objects.select_related("customer").filter(pk=pk).first()
    return account if account is not None and account.is_active else None


def accounts_for_address(email: str) -> list[PortalAccount]:
    """Every account that signs in with this address: a contact first, then a license
    user (one person may be both). Case does not matter."""
    address = normalize_address(email)
    found: list[PortalAccount] = list(CustomerContact.objects.filter(email=address, is_active=True))
    found += LicenseUser.objects.filter(username=address)
    return found


# A hash of nothing anyone knows, checked when no account matches, so that a sign-in
# for an unknown address takes as long as one with a wrong password.
_DUMMY_HASH = make_password("not the password of any account")


def authenticate(email: str, password: str) -> PortalAccount | None:
    accounts = accounts_for_address(email)
    for account in accounts:
        if account.check_password(password):
            return account
    if not accounts:
        password_matches(None, password)
    return None


def password_matches(account: PortalAccount | None, password: str) -> bool:
    """Whether `password` is the account's, at the same cost when there is no account:
    how long an answer takes must not tell whether a user exists."""
    if account is None:
        check_password(password, _DUMMY_HASH)
        return False
    return account.check_password(password)


def site_url(request: HttpRequest) -> str:
    """Scheme and host the person reached us at, for links in mail. The host is one of
    ALLOWED_HOSTS (Django checks it), so a forged Host header cannot put its own there."""
    return f"{request.scheme}://{request.get_host()}"


def password_link(account: PortalAccount, base_url: str) -> str:
    """A link that lets the account's owner choose a password, once; it stops working
    when the password changes or the person signs in (Django's reset tokens)."""
    uid = urlsafe_base64_encode(force_bytes(account_key(account)))
    path = reverse("portal:password-set", kwargs={"uidb64": uid, "token": default_token_generator.make_token(account)})
    return base_url.rstrip("/") + path


def account_for_link(uidb64: str, token: str) -> PortalAccount | None:
    try:
        key = force_str(urlsafe_base64_decode(uidb64))
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    account = account_for_key(key)
    if account is None or not default_token_generator.check_token(account, token):
        return None
    return account


def send_password_mail(account: PortalAccount, *, base_url: str, template: str) -> None:
    """Mail the account a password link; `template` names a pair under templates/portal/
    email/: `<template>_subject.txt` and `<template>.txt`."""
    context = {
        "account": account,
        "link": password_link(account, base_url),
        "portal_url": base_url.rstrip("/") + reverse("portal:dashboard"),
        "vendor": PortalSettings.current(),
    }
    subject = render_to_string(f"portal/email/{template}_subject.txt", context).strip()
    body = render_to_string(f"portal/email/{template}.txt", context)
    send_mail(subject, body, None, [account.email_address])
