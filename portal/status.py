"""What a portal user reads about a status: the rule's reason (licensing/rules.py) in
plain words, the vendor's note given when the switch was flipped, and whom to contact."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.formats import date_format

from licensing.models import AuditEvent, Entitlement, PortalSettings
from licensing.models.base import PortalAccount
from licensing.rules import EffectiveStatus, Reason, describe

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


def badge(obj) -> dict[str, str]:
    """Badge text for a row annotated with its effective status: "Suspended: license suspended"."""
    return {"status": obj.effective_status, "text": describe(obj.effective_status, obj.effective_reason or None)}


def _day(moment) -> str:
    return date_format(moment, "DATE_FORMAT") if moment else ""


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
