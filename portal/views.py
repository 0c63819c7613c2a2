"""The end users' portal. Every view reads through a `licensing.selectors.portal_*`
function scoped to the signed-in account, and changes state only through
`licensing.services`, the same ones the admin and the APIs call."""

from __future__ import annotations

import datetime as dt
import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_POST

from licensing import accounts, metering, selectors, services
from licensing.actors import Actor, client_ip
from licensing.errors import DomainError, Refusal
from licensing.models import Entitlement, PortalSettings
from licensing.models.base import PortalAccount
from licensing.querysets import sees_whole_customer
from licensing.services import offline
from licensing.services.renewals import first_notice_window

from . import auth, throttle
from .forms import OfflineRequestForm, PasswordChangeForm, PasswordResetForm, SetPasswordForm, SignInForm
from .status import (
    NOT_IN_HISTORY,
    HistoryRow,
    badge,
    computer_text,
    explain_entitlement,
    history_row,
    may_show_code,
    renewal_notice,
    short_name,
    shows_in_history,
)


def _render(request: HttpRequest, template: str, context: dict | None = None, status: int = 200) -> HttpResponse:
    """Render a portal page with what every page shows: the account, its customer (for
    the disabled banner) and the vendor's contact details."""
    account = getattr(request, "account", None)
    base = {"account": account, "vendor": _vendor(request)}
    if account is not None:
        base["customer"] = account.customer
        base["sees_whole_customer"] = sees_whole_customer(account)
    return render(request, template, {**base, **(context or {})}, status=status)


def _vendor(request: HttpRequest) -> PortalSettings:
    if not hasattr(request, "vendor"):
        request.vendor = PortalSettings.current()
    return request.vendor


# Signing in and out, passwords.


@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if auth.signed_in_account(request) is not None:
        return redirect("portal:dashboard")
    form = SignInForm(request, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        auth.sign_in(request, form.account)
        return HttpResponseRedirect(_safe_next(request, next_url))
    return _render(request, "portal/sign_in.html", {"form": form, "next": next_url})


def _safe_next(request: HttpRequest, next_url: str) -> str:
    portal = reverse("portal:dashboard")
    allowed = url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure())
    return next_url if allowed and next_url.startswith(portal) else portal


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    auth.sign_out(request)
    messages.info(request, "You have signed out.")
    return redirect("portal:sign-in")


@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    form = PasswordResetForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        # The same answer whether or not an account uses the address: this page must
        # not tell a stranger who has an account.
        if not throttle.PASSWORD_MAILS.exceeded(email):
            throttle.PASSWORD_MAILS.count(email)
            for account in accounts.accounts_for_address(email):
                accounts.send_password_mail(account, base_url=accounts.site_url(request), template="password_reset")
        return _render(request, "portal/password_reset_sent.html", {"email": email})
    return _render(request, "portal/password_reset.html", {"form": form})


# The token moves from the link into the session before the form shows, so that it is
# not in the address of a page (as django.contrib.auth's reset view does).
TOKEN_IN_SESSION = "set-password"
SESSION_TOKEN_KEY = "portal_password_token"


@require_http_methods(["GET", "POST"])
def password_set(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    if token != TOKEN_IN_SESSION:
        request.session[SESSION_TOKEN_KEY] = token
        return redirect("portal:password-set", uidb64=uidb64, token=TOKEN_IN_SESSION)
    account = accounts.account_for_link(uidb64, request.session.get(SESSION_TOKEN_KEY, ""))
    if account is None:
        return _render(request, "portal/password_link_invalid.html", status=400)
    form = SetPasswordForm(account, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        account = form.save(request=request)
        del request.session[SESSION_TOKEN_KEY]
        auth.sign_in(request, account)
        messages.success(request, "Your password is set, and you are signed in.")
        return redirect("portal:dashboard")
    return _render(request, "portal/password_set.html", {"form": form, "link_account": account})


@auth.account_required
def account(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.account, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        request.account = form.save(request=request)
        auth.keep_signed_in(request, request.account)
        messages.success(request, "Your password has been changed. Other sign-ins of this account have ended.")
        return redirect("portal:account")
    return _render(request, "portal/account.html", {"form": form})


# Entitlements, devices, offline activation.


@auth.account_required
def dashboard(request: HttpRequest) -> HttpResponse:
    vendor = _vendor(request)
    now, window = timezone.now(), first_notice_window()
    rows = [
        {
            "entitlement": e,
            "badge": badge(e),
            "why": explain_entitlement(e, vendor),
            "notice": renewal_notice(e, vendor, now, window),
            "features": _features(e),
        }
        for e in selectors.portal_entitlements(request.account)
    ]
    return _render(request, "portal/dashboard.html", {"rows": rows})


@auth.account_required
def entitlement_detail(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    account = request.account
    entitlement = get_object_or_404(selectors.portal_entitlements(account), pk=pk)
    vendor = _vendor(request)
    usage = metering.usage_rows(entitlement, timezone.now())
    context = {
        "entitlement": entitlement,
        "badge": badge(entitlement),
        "why": explain_entitlement(entitlement, vendor),
        "notice": renewal_notice(entitlement, vendor, timezone.now(), first_notice_window()),
        "codes": _code_rows(account, entitlement),
        "seat_holders": [
            (lic, badge(lic), services.LICENSE_DEACTIVATE.allows(lic.status))
            for lic in selectors.portal_seat_holders(account, entitlement)
        ],
        "floating_slots": [
            (slot, slot.is_borrowed(timezone.now()))
            for slot in (selectors.portal_floating_slots(account, entitlement) if entitlement.is_floating else ())
        ],
        "features": _features(entitlement),
        "usage": usage,
        # Read only for an entitlement with meters: the others have no history to show.
        "usage_days": _usage_days(entitlement) if usage else [],
        "history": _history(account, entitlement, vendor),
        "shows_codes": entitlement.product.authorization_method == "license_key",
    }
    return _render(request, "portal/entitlement_detail.html", context)


def _code_rows(account: PortalAccount, entitlement: Entitlement) -> list[tuple]:
    """(code, its badge, whether it may be shown in full) of each of the entitlement's codes."""
    rows = []
    for code in selectors.portal_activation_codes(account, entitlement):
        code_badge = badge(code)
        rows.append((code, code_badge, may_show_code(code_badge)))
    return rows


# Events the history shows, and how many recent events it reads to find them: the
# query leaves out what the history never shows; a few actions it does not word may
# still come in between.
HISTORY_ROWS = 20
HISTORY_READ = 40


def _history(account: PortalAccount, entitlement: Entitlement, vendor: PortalSettings) -> list[HistoryRow]:
    """The entitlement's recent events in words, each computer by its host name: one
    query for the events, and one for the computers they name."""
    events = selectors.portal_history(account, entitlement, limit=HISTORY_READ, leaving_out=NOT_IN_HISTORY)
    events = [event for event in events if shows_in_history(event)][:HISTORY_ROWS]
    license_ids = {event.target_id for event in events if event.target_type == "licensing.license"}
    computers = (
        {lic.pk: lic.device for lic in selectors.portal_licenses(account).filter(pk__in=license_ids)}
        if license_ids
        else {}
    )
    return [history_row(event, account, vendor, computers) for event in events]


# Days of usage history the portal shows.
USAGE_DAYS = 30


def _usage_days(entitlement: Entitlement) -> list[dict]:
    """What was consumed each day of the last USAGE_DAYS, by meter name."""
    names = {terms["code"]: terms["name"] for terms in entitlement.feature_terms}
    start = timezone.now().date() - dt.timedelta(days=USAGE_DAYS - 1)
    return [
        {**day, "name": names.get(day["feature"]) or day["feature"] or "Entitlement"}
        for day in metering.usage_by_day(entitlement, start=start)
    ]


def _features(entitlement: Entitlement) -> list[tuple[str, object]]:
    """The features granted now, by name, with their values."""
    now = timezone.now()
    values = entitlement.features(now)
    granted = ((terms["name"], values[terms["code"]]) for terms in entitlement.granted_features(now))
    return sorted(granted, key=lambda feature: feature[0])


@auth.account_required
@require_http_methods(["GET", "POST"])
def license_deactivate(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    license = get_object_or_404(selectors.portal_licenses(request.account), pk=pk)
    # The service's own transition says which licenses may be deactivated.
    if not services.LICENSE_DEACTIVATE.allows(license.status):
        messages.error(request, f"{computer_text(license.device)} does not hold an active seat; nothing to free.")
        return HttpResponseRedirect(_entitlement_url(license))
    return _confirmed(
        request,
        license,
        template="portal/license_deactivate.html",
        change=services.license_deactivate,
        reason="Seat freed in the portal.",
        done=f"{computer_text(license.device)} no longer holds a seat of {license.entitlement.product}.",
    )


@auth.account_required
@require_http_methods(["GET", "POST"])
def license_release_floating(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    license = get_object_or_404(selectors.portal_licenses(request.account), pk=pk)
    return _confirmed(
        request,
        license,
        template="portal/license_release_floating.html",
        change=services.license_floating_release,
        reason="Slot released in the portal.",
        done=f"{computer_text(license.device)} no longer holds a slot of {license.entitlement.product}.",
    )


def _confirmed(request: HttpRequest, license, *, template: str, change, reason: str, done: str) -> HttpResponse:
    """A change of one of the account's licenses: asked on a page of its own (GET), made
    by its service on POST, then back to the entitlement with what happened."""
    back = _entitlement_url(license)
    if request.method != "POST":
        return _render(request, template, {"license": license, "back": back})
    try:
        change(license=license, actor=Actor.portal(request.account, request), reason=reason)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return HttpResponseRedirect(back)


def _entitlement_url(license) -> str:
    return reverse("portal:entitlement-detail", args=[license.entitlement_id])


@auth.account_required
@require_http_methods(["GET", "POST"])
def offline_activation(request: HttpRequest) -> HttpResponse:
    form = OfflineRequestForm(*((request.POST, request.FILES) if request.method == "POST" else ()))
    if request.method == "POST" and form.is_valid():
        try:
            return _answer_offline(request, form.cleaned_data["request_file"])
        except Refusal as refusal:
            form.add_error("request_file", offline_error(refusal.code, refusal.message))
    return _render(request, "portal/offline.html", {"form": form})


def _answer_offline(request: HttpRequest, raw: bytes) -> HttpResponse:
    fields = offline.decode_request(raw)
    if not selectors.portal_names_own_license(request.account, fields):
        raise Refusal("license_not_found", "")
    outcome = offline.answer(
        fields, expected=fields["request"], ip=client_ip(request), actor=Actor.portal(request.account, request)
    )
    if outcome.refusal is not None:
        raise outcome.refusal
    if not outcome.license_file:
        name = short_name(fields.get("hostname") or "", fields["hardware_id"])
        messages.success(request, f"The license of {name} is deactivated; its seat is free.")
        return redirect("portal:offline")
    response = HttpResponse(outcome.license_file, content_type="application/octet-stream")
    name = slugify(f"{fields['product']}-{fields.get('hostname') or fields['hardware_id']}")[:80] or "license"
    response["Content-Disposition"] = f'attachment; filename="{name}.lic"'
    return response


# What went wrong with an uploaded request file, said for the person holding it.
OFFLINE_ERRORS = {
    "missing_content": "The file is empty. Choose the request file your application saved.",
    "invalid_base64": "This is not an offline request file: it should be one block of letters and digits "
    "(base64), as your application saved it.",
    "invalid_json": "This file is not an offline request file, or it was changed after your application saved it.",
    "missing_parameters": "This request file is incomplete ({message}). Make a new one in your application.",
    "invalid_parameters": "This request file is not valid ({message}). Make a new one in your application.",
    "invalid_api_key": "This request file was made by an application this server does not know.",
    "signature_mismatch": "This request file's signature does not match: it was changed after it was made.",
    "date_header_diff": "This request file is too old or dated in the future. Make a new one in your application.",
    "license_not_found": "This request file is for a license key or user that is not part of your account.",
}


def offline_error(code: str, message: str) -> str:
    template = OFFLINE_ERRORS.get(code)
    return template.format(message=message.rstrip(".")) if template else message
