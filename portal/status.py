"""What a portal user reads about a status: the rule's reason (licensing/rules.py) in
plain words, the vendor's note given when the switch was flipped, and whom to contact."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, urlize
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
    """Why an entitlement (annotated with its effective status) does not work; None if it
    does, or if its customer is disabled: the banner over every page says that, once, and
    the entitlement's badge points to it (`badge`)."""
    status, reason = entitlement.effective_status, entitlement.effective_reason
    if status == EffectiveStatus.ACTIVE or reason == Reason.CUSTOMER_DISABLED:
        return None
    transaction = entitlement.transaction
    who = vendor.vendor_name
    sentence, note = {
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
        contact=vendor.contact_message if status in NEEDS_VENDOR else "",
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


# Reasons that name the row's own switch or dates. Its badge says the status alone: the
# row's explanation, or the table it is a row of, already says whose status it is, and a
# badge such as "Revoked: activation code revoked" is too long for a phone's table cell.
OWN_REASONS = {
    "entitlement": {Reason.ENTITLEMENT_DISABLED, Reason.NOT_YET_VALID, Reason.EXPIRED},
    "activationcode": {Reason.CODE_DISABLED, Reason.CODE_REVOKED},
    "license": {Reason.LICENSE_SUSPENDED, Reason.LICENSE_REVOKED, Reason.LICENSE_DEACTIVATED},
}
# Said next to a badge whose reason is the customer's switch, instead of the reason: the
# banner over the page explains it, once.
SEE_BANNER = "see the notice at the top"


@dataclass(frozen=True)
class Badge:
    status: str  # EffectiveStatus value, for the badge's colours
    text: str  # "Suspended", "Disabled: entitlement disabled"
    pointer: str = ""  # SEE_BANNER, or nothing


def badge(obj) -> Badge:
    """The badge of a row annotated with its effective status: the status, and the reason
    when the row inherits it from above ("Disabled: entitlement disabled" on a code)."""
    status, reason = obj.effective_status, obj.effective_reason or None
    if reason == Reason.CUSTOMER_DISABLED:
        return Badge(status=status, text=EffectiveStatus(status).label, pointer=SEE_BANNER)
    if reason == Reason.NOT_YET_VALID or reason in OWN_REASONS.get(obj._meta.model_name, ()):
        reason = None
    return Badge(status=status, text=describe(status, reason))


def may_show_code(code_badge: Badge) -> bool:
    """Whether the portal offers a code in full (Reveal, Copy): not while it cannot
    activate anything until the vendor acts (revoked, disabled, suspended, ended)."""
    return code_badge.status not in NEEDS_VENDOR


def _day(moment) -> str:
    # In the site's time zone, as the templates' `date` filter shows the same moments.
    return date_format(timezone.localtime(moment), "DATE_FORMAT") if moment else ""


# Computers. Host names and hardware ids are whatever a client application sent (a hardware
# id is often a 64-character digest): shown capped, the whole value in a tooltip, so that a
# long one neither widens a phone's table nor buries the rest of a sentence.
HOSTNAME_CHARS = 24
HARDWARE_ID_CHARS = 12


def capped(text: str, limit: int) -> str:
    """`text`, or its first `limit` characters and an ellipsis."""
    return text if len(text) <= limit else f"{text[:limit]}\u2026"


def short_name(hostname: str, hardware_id: str) -> str:
    """A computer's name as plain text (a message, a page title): its host name, else its
    hardware id, capped."""
    return capped(hostname, HOSTNAME_CHARS) if hostname else capped(hardware_id, HARDWARE_ID_CHARS)


def computer_text(device) -> str:
    return short_name(device.hostname, device.hardware_id)


def computer(device) -> SafeString:
    """A device in a page: `computer_text`, with the whole name in a tooltip when it is capped."""
    full = device.hostname or device.hardware_id
    shown = computer_text(device)
    if shown == full:
        return format_html('<span class="computer">{}</span>', full)
    return format_html('<span class="computer" title="{}">{}</span>', full, shown)


# History rows: what happened, in words for the people using the software. Audit actions
# are "<resource>.<past tense>" (licensing/services); only those worded in EVENTS are shown.
# Left out on purpose (NOT_IN_HISTORY): refused activations and deactivations, which
# changed nothing and which a client retrying with a wrong key would repeat all day; a
# license following its device to another customer when a trial is converted (the
# conversion itself is shown); and events that are webhooks only, never audit events.
NOT_IN_HISTORY = {
    "license.activation_refused",
    "license.deactivation_refused",
    "license.updated",
    "entitlement.expiring",
    "entitlement.expired",
    "trial.started",
}
COMPUTER_EVENTS = {
    "license.activated": "Activated on {computer}",
    "license.deactivated": "Deactivated on {computer}; its seat is free",
    "license.suspended": "License on {computer} suspended",
    "license.resumed": "License on {computer} resumed",
    "license.revoked": "License on {computer} revoked",
    "license.floating_taken": "Started running on {computer}",
    "license.floating_released": "Stopped running on {computer}",
    "license.floating_expired": "Stopped running on {computer}: it stopped checking in",
    "license.borrowed": "Borrowed for offline use on {computer}",
}
CODE_EVENTS = {
    "activation_code.created": "Activation code {code} added",
    "activation_code.updated": "Activation code {code} changed",
    "activation_code.disabled": "Activation code {code} disabled",
    "activation_code.enabled": "Activation code {code} enabled again",
    "activation_code.revoked": "Activation code {code} revoked",
}
ORDER_EVENTS = {
    "transaction.created": "Order {order} placed",
    "transaction.updated": "Order {order} changed",
    "transaction.suspended": "Order {order} suspended",
    "transaction.resumed": "Order {order} resumed",
}
EVENTS = {
    "customer.disabled": "All access disabled",
    "customer.enabled": "Access enabled again",
    "entitlement.created": "Entitlement created",
    "entitlement.updated": "Entitlement changed",
    "entitlement.disabled": "Entitlement disabled",
    "entitlement.enabled": "Entitlement enabled again",
    "entitlement.renewed": "Entitlement renewed",
    "trial.converted": "Trial turned into a paid entitlement",
    "consumption.corrected": "Usage corrected",
    "consumption.limit_reached": "Usage limit reached",
    **COMPUTER_EVENTS,
    **CODE_EVENTS,
    **ORDER_EVENTS,
}


def shows_in_history(event: AuditEvent) -> bool:
    return event.action in EVENTS


@dataclass(frozen=True)
class HistoryRow:
    occurred_at: object
    description: SafeString
    by: str
    reason: str


def history_row(event: AuditEvent, account: PortalAccount, vendor: PortalSettings, computers: dict) -> HistoryRow:
    """One event worded for the history list (`shows_in_history` says which may be);
    `computers` maps the license ids of the events to their devices."""
    device = computers.get(event.target_id)
    description = format_html(
        EVENTS[event.action],
        computer=computer(device) if device is not None else "a computer",
        # An activation code's target_repr is its masked form; an order's, its external id.
        code=event.target_repr,
        order=event.target_repr,
    )
    return HistoryRow(
        occurred_at=event.occurred_at,
        description=description,
        by=_by(event, account, vendor),
        reason="" if _says_nothing_new(event, account.customer) else event.reason,
    )


def _says_nothing_new(event: AuditEvent, customer) -> bool:
    """Whether the event's reason repeats what the page says: the portal's own stock
    reason for a change made in it, or the note the disabled customer's banner shows."""
    if event.actor_type == AuditEvent.ActorType.PORTAL:
        return True
    return event.action == "customer.disabled" and customer.is_disabled and event.reason == customer.status_reason


def _by(event: AuditEvent, account: PortalAccount, vendor: PortalSettings) -> str:
    kind = event.actor_type
    if kind == AuditEvent.ActorType.PORTAL:
        return "by you" if event.actor_id == str(account.pk) else f"by {event.actor_label}"
    if kind == AuditEvent.ActorType.CLIENT:
        return "by the application"
    return f"by {vendor.vendor_name}"
