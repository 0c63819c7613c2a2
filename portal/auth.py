"""Signing in to the portal: its own session keys, apart from the admin's staff login.

A vendor's staff member can be signed in to the admin and, in the same browser, to the
portal as a customer contact; signing out of the portal leaves the admin signed in (the
admin's log-out empties the whole session, and so ends both). The session
holds the account's kind and id and a hash of its password, so a password change ends
every other session of that account (as django.contrib.auth does for staff).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import rotate_token
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.crypto import constant_time_compare

from licensing.accounts import account_for_key, account_key
from licensing.models.base import PortalAccount

SESSION_KEY = "portal_account"
HASH_KEY = "portal_account_hash"


def sign_in(request: HttpRequest, account: PortalAccount) -> None:
    # A new session key at sign-in: a session id planted before it is worth nothing.
    request.session.cycle_key()
    request.session[SESSION_KEY] = account_key(account)
    request.session[HASH_KEY] = account.get_session_auth_hash()
    rotate_token(request)
    account.last_login = timezone.now()
    account.save(update_fields=["last_login"])
    request.account = account


def sign_out(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)
    request.session.pop(HASH_KEY, None)
    request.session.cycle_key()
    request.account = None


def keep_signed_in(request: HttpRequest, account: PortalAccount) -> None:
    """After the account's own password change: this session stays, the others end."""
    request.session.cycle_key()
    request.session[HASH_KEY] = account.get_session_auth_hash()


def signed_in_account(request: HttpRequest) -> PortalAccount | None:
    key = request.session.get(SESSION_KEY)
    if not key:
        return None
    account = account_for_key(key)
    if account is None or not constant_time_compare(request.session.get(HASH_KEY, ""), account.get_session_auth_hash()):
        sign_out(request)
        return None
    return account


def account_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Views for signed-in accounts only; they find the account at `request.account`."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        request.account = signed_in_account(request)
        if request.account is None:
            query = urlencode({"next": request.get_full_path()})
            return HttpResponseRedirect(f"{reverse('portal:sign-in')}?{query}")
        response = view(request, *args, **kwargs)
        # Pages of one account (activation codes among them) stay out of shared caches
        # and the browser's back-button cache after signing out.
        add_never_cache_headers(response)
        patch_cache_control(response, private=True)
        return response

    return wrapper
