"""What a portal user reads about a status: the rule's reason (licensing/rules.py) in
plain words, the vendor's note given when the switch was flipped, and whom to contact."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import urlize
from django.utils.safestring import SafeString, mark_safe

from licensing.models import AuditEvent, Entitlement, PortalSettings
from licensing.models.base import PortalAccount
from licensing.rules import EffectiveStatus, Reason, describe

DAY = dt.timedelta(days=1)

# Statuses after which a person needs the vendor to act.
NEEDS_VENDOR = {EffectiveStatus.DISABLED, EffectiveStatus.SUSPENDED, EffectiveStatus.EXPIRED, EffectiveStatus.REVOKED}


@dataclass(frozen=True)
class Explanation:
    status: str  # EffectiveStatus value, for the badge
    label: str  # "Disabled"
    sentence: str  # what happened, in plain words
    note: str  # the vendor's own words when it flipped the switch
    contact: str  # the vendor's contact message, when the person should get in touch


def explain_entitlement(entitlement: Entitlement, vendor: PortalSettings) -> Explanation | None:
    """Why an entitlement (annotated with its effective status) does not work; None if it does."""
    status, reason = entitlement.effective_status, entitlement.effective_reason
    if status == EffectiveStatus.ACTIVE:
        return None
    customer, transaction = entitlement.customer, entitlement.transaction
    who = vendor.vendor_name
    sentence, note = {
        # The banner over every page gives the note and whom to contact; each card says
        # only that it is one of the things the banner is about.
        Reason.CUSTOMER_DISABLED: (f"{who} has disabled all access for {customer.name}; see the notice above.", ""),
        Reason.ENTITLEMENT_DISABLED: (f"{who} has disabled this entitlement.", entitlement.status_reason),
        Reason.TRANSACTION_SUSPENDED: (
            f"{who} has suspended order {transaction.external_id if transaction else ''}, "
            "which this entitlement belongs to.",
            transaction.status_reason if transaction else "",
        ),
        Reason.NOT_YET_VALID: (f"This entitlement starts on {_day(entitlement.valid_from)}.", ""),
        Reason.EXPIRED: (f"This entitlement ended on {_day(entitlement.valid_until)}.", ""),
    }[Reason(reason)]
    return Explanation(
        status=status,
        label=EffectiveStatus(status).label,
        sentence=sentence,
        note=note,
        contact=vendor.contact_message if status in NEEDS_VENDOR and reason != Reason.CUSTOMER_DISABLED else "",
    )


@dataclass(frozen=True)
class RenewalNotice:
    kind: str  # "expiring" or "grace", for the page's styling and tests
    headline: str  # "Expires in 12 days", "In grace until"
    until: dt.datetime | None  # the grace's end, shown after the headline as a date
    sentence: str  # what it means for the licenses
    message: SafeString  # the vendor's renewal message, its addresses linked (`linked`)


def renewal_notice(
    entitlement: Entitlement, vendor: PortalSettings, now: dt.datetime, window: dt.timedelta | None
) -> RenewalNotice | None:
    """Whether to tell the person to renew, and what: an entitlement in its grace period,
    or ending within `window` (the first expiry notice's, renewals.first_notice_window()).
    Read from the row alone, so that a list of entitlements costs no query per row."""
    # Only one that works now: a disabled or suspended entitlement already tells the
    # person to contact the vendor, and "renew" beside it would promise that renewing
    # restores access; an expired one says when it ended.
    if entitlement.effective_status != EffectiveStatus.ACTIVE or entitlement.valid_until is None:
        return None
    if entitlement.in_grace(now):
        return RenewalNotice(
            kind="grace",
            headline="In grace until",
            until=entitlement.grace_until,
            sentence=f"This entitlement ended on {_day(entitlement.valid_until)}; its licenses still work until then.",
            message=linked(vendor.renewal_message),
        )
    if window is None or not entitlement.expires_within(now, window):
        return None
    left = entitlement.valid_until - now
    days = -(-left // DAY)  # whole days, rounded up: 2½ days left is "in 3 days"
    headline = "Expires today" if left < DAY else f"Expires in {days} day{pluralize(days)}"
    if entitlement.grace_until:
        sentence = (
            f"It ends on {_day(entitlement.valid_until)}; its licenses keep working until "
            f"{_day(entitlement.grace_until)} while you renew."
        )
    else:
        sentence = f"It ends on {_day(entitlement.valid_until)}, and its licenses stop working then."
    return RenewalNotice(
        kind="expiring", headline=headline, until=None, sentence=sentence, message=linked(vendor.renewal_message)
    )


# Where a long address may wrap: after its punctuation, as typeset addresses do. Nothing
# in the portal's stylesheet lets a word break, so an address wider than a phone's card
# ("https://vendor.example/account/renewals/...") would run out of the card otherwise.
_BREAK_AFTER = re.compile(r"(?<=[/.\-_@?=])(?=[^/.\-_@?=])")
_LINK_TEXT = re.compile(r"(<a [^>]*>)([^<]*)(</a>)")


def linked(message: str) -> SafeString:
    """The vendor's text, escaped, its web and mail addresses made links that may wrap."""
    html = urlize(message, autoescape=True)
    # Safe: urlize escaped the text and built the links; only <wbr> is added, between characters.
    return mark_safe(_LINK_TEXT.sub(lambda m: m[1] + _BREAK_AFTER.sub("<wbr>", m[2]) + m[3], html))  # noqa: S308


def badge(obj) -> dict[str, str]:
    """Badge text for a row annotated with its effective status: "Suspended: license suspended"."""
    return {"status": obj.effective_status, "text": describe(obj.effective_status, obj.effective_reason or None)}


def _day(moment) -> str:
    # In the site's time zone, as the templates' `date` filter shows the same moments.
    return date_format(timezone.localtime(moment), "DATE_FORMAT") if moment else ""


# History rows. Audit actions are "<resource>.<past tense>" (licensing/services).
NOUNS = {
    "customer": "Customer",
    "entitlement": "Entitlement",
    "transaction": "Order",
    "activation_code": "Activation code",
    "license": "Device license",
}
PHRASES = {
    "customer.disabled": "All access disabled",
    "customer.enabled": "Access enabled again",
    "license.activation_refused": "Activation refused",
    "license.deactivation_refused": "Deactivation refused",
}


@dataclass(frozen=True)
class HistoryRow:
    occurred_at: object
    description: str
    by: str
    reason: str


def history_row(event: AuditEvent, account: PortalAccount, vendor: PortalSettings) -> HistoryRow:
    resource, _, verb = event.action.partition(".")
    refused = verb.endswith("_refused")
    description = PHRASES.get(event.action) or f"{NOUNS.get(resource, resource.title())} {verb.replace('_', ' ')}"
    if resource in ("activation_code", "license", "transaction") and event.target_repr:
        description += f": {event.target_repr}"
    if refused and event.reason:
        description += f" ({event.reason.replace('_', ' ')})"
    return HistoryRow(
        occurred_at=event.occurred_at,
        description=description,
        by=_by(event, account, vendor),
        # A refusal's reason is its error code, already in the description.
        reason="" if refused else event.reason,
    )


def _by(event: AuditEvent, account: PortalAccount, vendor: PortalSettings) -> str:
    kind = event.actor_type
    if kind == AuditEvent.ActorType.PORTAL:
        return "by you" if event.actor_id == str(account.pk) else f"by {event.actor_label}"
    if kind == AuditEvent.ActorType.CLIENT:
        return "by the application"
    return f"by {vendor.vendor_name}"
