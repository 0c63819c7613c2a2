"""The end of an entitlement: renewing it, and telling the vendor as it comes near.

Notices are webhooks (`entitlement.expiring` at each milestone of
LICENSING_EXPIRY_NOTICE_DAYS before the end of validity, `entitlement.expired` when
licenses stop, after any grace period), each sent exactly once: the notice row and the
webhook event are written in one transaction, and the row is unique per entitlement,
end and milestone, so of several workers running the job at once (or one restarted
halfway) only the first to insert a row sends it. Keyed by the end they announce, the
notices of an end that a renewal moved are never due, and the new end starts afresh.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.utils import timezone

from .. import outbox
from ..actors import Actor
from ..errors import InvalidEdit
from ..models import Entitlement, ExpiryNotice
from ..models.entitlements import MAX_GRACE, MAX_TERM
from .recording import lock_row, record_change

logger = logging.getLogger(__name__)

FROM_EXPIRY, FROM_NOW = "expiry", "now"
# Where a renewal by days counts from, as the API and the admin offer it.
RENEWAL_STARTS = [(FROM_EXPIRY, "from the current end of validity"), (FROM_NOW, "from now")]
# The longest renewal by days, and the farthest end a renewal may set.
MAX_RENEWAL_DAYS = MAX_TERM.days
# An entitlement that ended longer ago than this when notices started (a new install,
# a scheduler down for days) is not announced as expired any more.
EXPIRED_NOTICE_LOOKBACK = dt.timedelta(days=7)


def entitlement_renew(
    *,
    entitlement: Entitlement,
    actor: Actor,
    valid_until: dt.datetime | None = None,
    days: int | None = None,
    start: str = FROM_EXPIRY,
    reason: str = "",
) -> Entitlement:
    """Move the end of validity later: to `valid_until`, or by `days` from the current
    end (`start="expiry"`, so that renewing early loses nothing) or from now
    (`start="now"`, for one that ended long ago). Clients see the new end at their next
    check; an expired entitlement works again at once."""
    if (valid_until is None) == (days is None):
        raise InvalidEdit({"__all__": ["Give either the new end of validity or a number of days."]})
    if days is not None and not (type(days) is int and 1 <= days <= MAX_RENEWAL_DAYS):
        raise InvalidEdit({"days": [f"A renewal is 1 to {MAX_RENEWAL_DAYS} days."]})
    if start not in (FROM_EXPIRY, FROM_NOW):
        raise InvalidEdit({"from": ["Renew from “expiry” or from “now”."]})
    now = timezone.now()
    with transaction.atomic():
        locked = lock_row(Entitlement, entitlement.pk)
        before = locked.valid_until
        if before is None:
            raise InvalidEdit({"__all__": ["This entitlement never ends: there is nothing to renew."]})
        if valid_until is None:
            valid_until = (before if start == FROM_EXPIRY else now) + dt.timedelta(days=days)
        problem = _renewal_problem(locked, valid_until, now)
        if problem:
            raise InvalidEdit({"valid_until" if days is None else "days": [problem]})
        locked.valid_until = valid_until
        locked.save(update_fields=["valid_until", "updated_at"])
        record_change(
            actor=actor,
            action="entitlement.renewed",
            target=locked,
            reason=reason,
            before={"valid_until": before.isoformat()},
            after={"valid_until": valid_until.isoformat()},
        )
    return locked


def _renewal_problem(entitlement: Entitlement, valid_until: dt.datetime, now: dt.datetime) -> str | None:
    if valid_until <= now:
        return "The new end of validity would be in the past."
    if valid_until <= entitlement.valid_until:
        return "A renewal moves the end of validity later; edit the entitlement to shorten it."
    if valid_until > now + MAX_TERM:
        return f"The new end of validity is more than {MAX_TERM.days} days away."
    return None


def milestones() -> list[int]:
    """Days before the end at which `entitlement.expiring` is sent, farthest first."""
    return sorted({days for days in settings.LICENSING_EXPIRY_NOTICE_DAYS if days > 0}, reverse=True)


def first_notice_window() -> dt.timedelta | None:
    """How long before its end an entitlement is said to be ending soon (the first
    milestone), or None without notices."""
    days = milestones()
    return dt.timedelta(days=days[0]) if days else None


def expiry_notices_send(*, now: dt.datetime | None = None) -> int:
    """Send the notices due now that were not sent yet; how many were sent.

    An entitlement ending in N days gets the notice of the nearest milestone at or
    above N only (one created five days before its end is told "7 days", not also "30
    days"). Runs on Celery beat, or on the embedded scheduler without a broker."""
    now = now or timezone.now()
    sent = 0
    for entitlement, milestone in _due(now):
        try:
            sent += _send(entitlement, milestone, now)
        except Exception:  # one entitlement's failure must not hold up every other notice
            logger.exception("expiry notice for entitlement %s failed; the next run tries again", entitlement.pk)
    return sent


def _due(now: dt.datetime) -> list[tuple[Entitlement, int]]:
    """(entitlement, milestone) of every notice due and not yet sent, in two queries."""
    due: list[tuple[Entitlement, int]] = []
    days = milestones()
    if days:
        # The nearest milestone at or above the days left: the first When that matches.
        milestone = Case(
            *[When(valid_until__lte=now + dt.timedelta(days=d), then=Value(d)) for d in reversed(days)],
            default=Value(days[0]),
        )
        ending = Entitlement.objects.filter(
            valid_until__gt=now, valid_until__lte=now + dt.timedelta(days=days[0])
        ).annotate(milestone=milestone)
        ending = ending.filter(~_sent(OuterRef("milestone")))
        due += [(e, e.milestone) for e in ending.select_related("customer", "product").order_by("valid_until", "pk")]
    ended = (
        # Through the index on valid_until (no grace is longer than MAX_GRACE) ...
        Entitlement.objects.filter(valid_until__lt=now, valid_until__gt=now - EXPIRED_NOTICE_LOOKBACK - MAX_GRACE)
        # ... then the end of the grace, when licenses stopped (as the expiry rule says).
        .filter(Q(valid_until__lt=now - F("grace_period")))
        .filter(Q(valid_until__gt=now - EXPIRED_NOTICE_LOOKBACK - F("grace_period")))
        .filter(~_sent(Value(ExpiryNotice.EXPIRED)))
    )
    due += [
        (e, ExpiryNotice.EXPIRED) for e in ended.select_related("customer", "product").order_by("valid_until", "pk")
    ]
    return due


def _sent(milestone: Any) -> Exists:
    return Exists(
        ExpiryNotice.objects.filter(entitlement=OuterRef("pk"), ends_at=OuterRef("valid_until"), milestone=milestone)
    )


def _send(entitlement: Entitlement, milestone: int, now: dt.datetime) -> int:
    """Record the notice and write its webhook event in one transaction: 1 if this
    call sent it, 0 if another had (the row was there first)."""
    try:
        with transaction.atomic():
            # Read again under its lock: a renewal that committed since the list was read
            # moved the end, and this notice is then no longer due (its own turn comes).
            locked = lock_row(Entitlement, entitlement.pk)
            if locked.valid_until != entitlement.valid_until or locked.grace_period != entitlement.grace_period:
                return 0
            ExpiryNotice.objects.create(
                entitlement=entitlement, milestone=milestone, ends_at=entitlement.valid_until, sent_at=now
            )
            event = "entitlement.expired" if milestone == ExpiryNotice.EXPIRED else "entitlement.expiring"
            outbox.emit(event, entitlement, extra={"expiry": expiry_facts(entitlement, milestone, now)})
    except IntegrityError:
        return 0
    return 1


def expiry_facts(entitlement: Entitlement, milestone: int, now: dt.datetime) -> dict[str, Any]:
    """What a notice tells besides the entitlement: which milestone, and how long is left."""
    left = entitlement.valid_until - now
    return {
        "milestone_days": milestone,
        "days_left": max(0, left.days + (1 if left % dt.timedelta(days=1) else 0)),
        "valid_until": entitlement.valid_until,
        "grace_until": entitlement.grace_until,
    }
