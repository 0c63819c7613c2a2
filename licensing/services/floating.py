"""Floating entitlements: any number of activated devices, at most `seats` running at once.

A running device holds a slot (models.FloatingSlot) until its end; each check-in renews
it to `now + floating_timeout`, and the device may run (offline too) only until then:
the slot is its lease. What is exact and what is not:

- **Taking a slot is exact.** It happens under the entitlement's row lock (the lock
  every activation of the entitlement takes too), which counts the live slots, those
  whose end is still ahead, and refuses past `seats`; the rules are read again under
  it. Every other change of a slot holds that lock as well, switches that stop a
  license included, so a switch lands either before a take (refused) or after (freed).
  A slot nobody renews is free at its end, with nothing needing to run.
- **Renewing a slot is written behind the answer.** A worker that knows a device's slot
  ends more than `renew_ahead` from now answers from memory and buffers the new end
  (services/writebehind.py), written within LICENSING_CHECKIN_FLUSH_SECONDS, well
  before the slot could lapse; a slot nearer its end is renewed in a transaction. A
  worker new to a device learns its slot with one read and no lock. A buffered end only
  ever moves an end later, only of the slot the device took (`taken_at`), and never of
  one that lapsed: a renewal the database did not take is forgotten by the worker, not
  believed. So the steady state costs no database write per check, and no slot looks
  free to a counting worker while its holder's renewal waits in a buffer.
- **What a killed worker loses** is the renewals it buffered in its last flush interval:
  those slots end where the database last had them, at least `renew_ahead` after the
  buffered check, and the device is told so at its next check (which takes a slot
  again if one is free). A worker that exits normally writes its buffer first.
- **Eventually consistent:** `floating_in_use_devices` in an answer from memory is the
  count this worker last read; a refusal with every slot held is read without the
  lock, so it may come a moment before a concurrent release lands.

Releases (the client's, staff's, the portal's, a switch that stops the license) delete
the slot under the same lock, and retire what every worker remembers of it through the
slot's version (licensing/snapshots.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Max, Min, Q, QuerySet
from django.db.models.functions import Greatest
from django.utils import timezone

from .. import rules, snapshots
from ..actors import Actor
from ..audit import field_values
from ..errors import InvalidTransition, Refusal, refusal_for
from ..models import Entitlement, FloatingSlot, License
from ..selectors import license_for_device
from .recording import record_change
from .writebehind import WriteBehind

# A slot's end is renewed in a transaction when it is nearer than this; further ahead, a
# check-in's renewal is buffered. Must exceed the flush interval by far: the buffered
# end has to reach the database before the old one lapses.
RENEW_AHEAD_SECONDS = 30


@dataclasses.dataclass(frozen=True)
class Slot:
    """A device's slot as an answer shows it."""

    since: dt.datetime
    until: dt.datetime
    borrowed_until: dt.datetime | None
    in_use: int

    def is_borrowed(self, now: dt.datetime) -> bool:
        return self.borrowed_until is not None and self.borrowed_until > now


def slot_key(license_id: Any) -> tuple[str, ...]:
    """The version key that retires what workers remember of a license's slot."""
    return (snapshots.version_key("licensing.floatingslot", license_id),)


def renew_ahead(entitlement: Entitlement) -> dt.timedelta | None:
    """How far ahead of now a slot's end must be for a check-in's renewal to be written
    behind; None when the flush interval is too long, for this entitlement's timeout, to
    land a buffered write well before the slot could lapse (every renewal is then a
    transaction)."""
    flush = settings.LICENSING_CHECKIN_FLUSH_SECONDS
    ahead = min(max(RENEW_AHEAD_SECONDS, 5 * flush), entitlement.floating_timeout / 2)
    return dt.timedelta(seconds=ahead) if ahead >= 5 * flush else None


# --- A check-in ----------------------------------------------------------------------


@dataclasses.dataclass
class _Known:
    """What this worker knows of a slot: `ends_at` is never later than the database's."""

    since: dt.datetime
    ends_at: dt.datetime
    borrowed_until: dt.datetime | None
    in_use: int


_known = snapshots.SnapshotCache(size=50_000)
# How long a worker may go on renewing a slot from memory: as long as it stays well ahead
# of its end. It needs no other bound: a release retires it through the slot's version,
# and a bump that was lost shows at the next flush, which writes nothing for a slot that
# is gone and so makes the worker forget it.
KNOWN_SECONDS = 24 * 60 * 60


def slot_check_in(license: License, *, now: dt.datetime, actor: Actor, versions: Any = snapshots.READ_NOW) -> Slot:
    """The slot of a device checking in on a floating license (active, by the rules):
    renewed until `now + floating_timeout`, or taken if it had none and one is free.
    Raises `floating_not_available` otherwise."""
    entitlement = license.entitlement
    versions = versions or snapshots.Versions.read(list(slot_key(license.pk)))
    ahead = renew_ahead(entitlement)
    known = _known.get(license.pk, versions) if ahead is not None else None
    before = None
    if known is None:
        # New to this worker: learn the slot with one read and no lock (another worker
        # renewed it), rather than with a transaction every worker would queue on. With
        # no slot held and none free, the refusal needs no lock either: only a slot's
        # taking must be counted under it.
        before = versions.of(slot_key(license.pk)) if versions.available else None  # read before the slot is
        known, running, next_end = _read(license, now)
        if known is not None and ahead is not None:
            _remember(license.pk, before, known)
        elif known is None and running >= entitlement.seats:
            raise _not_available(entitlement, next_end)
    if known is not None and ahead is not None and known.ends_at - now > ahead:
        until = max(known.ends_at, now + dt.timedelta(seconds=entitlement.floating_timeout))
        renewals.record(license.pk, (known.since, until))
        return Slot(since=known.since, until=until, borrowed_until=known.borrowed_until, in_use=known.in_use)
    before = before or versions.of(slot_key(license.pk))
    slot = slot_take(license, now=now, actor=actor)
    _remember(license.pk, before, _Known(slot.since, slot.until, slot.borrowed_until, slot.in_use))
    return slot


def _read(license: License, now: dt.datetime) -> tuple[_Known | None, int, dt.datetime | None]:
    """In one read, no lock: the license's slot if it holds one now, how many of its
    entitlement's slots are held, and when the first of them ends."""
    mine = Q(license_id=license.pk)
    row = (
        FloatingSlot.objects.live(now)
        .filter(entitlement_id=license.entitlement_id)
        .aggregate(
            running=Count("pk"),
            next_end=Min("ends_at"),
            since=Max("taken_at", filter=mine),
            ends_at=Max("ends_at", filter=mine),
            borrowed_until=Max("borrowed_until", filter=mine),
        )
    )
    known = None
    if row["since"] is not None:
        known = _Known(row["since"], row["ends_at"], row["borrowed_until"], row["running"])
    return known, row["running"], row["next_end"]


def _remember(license_id: Any, before: tuple | None, known: _Known) -> None:
    _known.put(license_id, slot_key(license_id), before, known, expires=time.monotonic() + KNOWN_SECONDS)


def slot_take(
    license: License,
    *,
    now: dt.datetime,
    actor: Actor,
    borrow_until: dt.datetime | None = None,
    locked: Entitlement | None = None,
) -> Slot:
    """Renew the license's slot, or take one if it holds none and one is free, under the
    entitlement's lock (`locked`: the caller holds it already, with this row, and has
    checked the rules under it). With `borrow_until`, the slot is held until then (a
    new borrow replaces an earlier one), whatever the check-ins.

    Every change of a slot holds this lock, switches that stop a license included
    (they free its slot under it): so the rules are checked again here, on the rows as
    they are now, and a switch lands either before (refused) or after (freed)."""
    with transaction.atomic():
        entitlement = locked
        if entitlement is None:
            entitlement = _locked_entitlement(license.entitlement_id)
            verdict = _current_chain(license.pk).verdict(now)
            if not verdict.is_active:
                raise refusal_for(verdict)
        own = FloatingSlot.objects.filter(license_id=license.pk).first()
        counted = FloatingSlot.objects.live(now).filter(entitlement_id=entitlement.pk)
        live = counted.aggregate(n=Count("pk"), next=Min("ends_at"))
        until = now + dt.timedelta(seconds=entitlement.floating_timeout)
        if own is not None and own.is_live(now):
            own.ends_at = max(until, borrow_until) if borrow_until else max(own.ends_at, until)
            in_use = live["n"]
        else:
            if live["n"] >= entitlement.seats:
                raise _not_available(entitlement, live["next"])
            if own is not None:  # lapsed, and not tidied yet: announced as it goes
                _tidy(own, license, actor=actor, reason="", now=now)
            own = FloatingSlot(license_id=license.pk, entitlement_id=entitlement.pk, taken_at=now)
            own.ends_at = max(until, borrow_until or until)
            in_use = live["n"] + 1
        if borrow_until is not None:
            own.borrowed_until = borrow_until
        taken = own._state.adding
        own.save(force_insert=taken, force_update=not taken)  # never a row written back after a release
        if taken:
            _record(actor, "license.floating_taken", license, own)
        if borrow_until is not None:
            _record(actor, "license.borrowed", license, own)
            snapshots.bump(("licensing.floatingslot", license.pk))
    return Slot(since=own.taken_at, until=own.ends_at, borrowed_until=own.borrowed_until, in_use=in_use)


def _current_chain(license_id: Any) -> License:
    """The license with the rows its rules read, as they are now."""
    return License.objects.select_related("entitlement__customer", "entitlement__transaction", "activation_code").get(
        pk=license_id
    )


def _locked_entitlement(entitlement_id: Any) -> Entitlement:
    return Entitlement.objects.select_for_update(of=("self",), no_key=True).get(pk=entitlement_id)


def _not_available(entitlement: Entitlement, next_at: dt.datetime | None) -> Refusal:
    when = next_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if next_at else None
    message = f"All {entitlement.seats} floating slots are in use"
    message += f"; the earliest ends at {when}." if when else "."
    return Refusal("floating_not_available", message, extra={"next_slot_at": when})


def slot_borrow(license: License, *, until: dt.datetime | None, now: dt.datetime, actor: Actor) -> Slot:
    """Hold the license's slot until `until` (None: as long as the entitlement allows),
    for working offline: no other device takes it before then, check-ins or not."""
    entitlement = license.entitlement
    not_floating(license)
    if not entitlement.max_borrow_time:
        raise Refusal("borrowing_not_allowed", "This license does not allow borrowing a floating slot.")
    longest = now + dt.timedelta(seconds=entitlement.max_borrow_time)
    if until is None:
        until = longest
    elif until <= now or until > longest:
        raise Refusal(
            "borrow_until_not_valid",
            f"borrowed_until must be in the future and at most {entitlement.max_borrow_time} seconds from now.",
        )
    return slot_take(license, now=now, actor=actor, borrow_until=entitlement.within_validity(until))


def not_floating(license: License) -> None:
    """Refuse a floating request for a node-locked license."""
    if not license.entitlement.is_floating:
        raise Refusal("license_not_floating", "This license is node-locked: it has no floating slot.")


# --- Releasing -----------------------------------------------------------------------


def _release(license: License, *, actor: Actor, reason: str) -> bool:
    """Free the license's slot at once (the device stays activated); whether it held a
    live one. A slot that had lapsed is tidied and announced as expired."""
    if not FloatingSlot.objects.filter(license_id=license.pk).exists():
        return False  # nothing to free: no lock taken (a stopped fleet's checks land here)
    with transaction.atomic():
        _locked_entitlement(license.entitlement_id)
        own = FloatingSlot.objects.filter(license_id=license.pk).first()
        if own is None:
            return False
        return _tidy(own, license, actor=actor, reason=reason, now=timezone.now())


def license_floating_release(*, license: License, actor: Actor, reason: str = "") -> bool:
    """Staff, or a portal user, free the slot a device holds (audited, with `reason`):
    the device stays activated and takes a slot again at its next check, if one is
    free. Refused if it holds none."""
    if not license.entitlement.is_floating:
        raise InvalidTransition("This license is node-locked: it holds no floating slot.")
    if not _release(license, actor=actor, reason=reason):
        raise InvalidTransition(f"{license.device} holds no floating slot now; nothing to release.")
    return True


def floating_slot_release(*, floating_slot: FloatingSlot, actor: Actor, reason: str = "") -> bool:
    """`license_floating_release`, named by the slot (the admin's list of slots)."""
    return license_floating_release(license=floating_slot.license, actor=actor, reason=reason)


def slots_free_below(row: Any, *, actor: Actor, reason: str) -> int:
    """Free every slot of the licenses a switch just stopped (`row`: the customer,
    transaction, entitlement, code or license switched), in the switch's transaction:
    each was held by a device whose next check is refused. How many were live.

    Under the lock of each entitlement concerned, as every change of a slot: a switch
    of a code or a license has locked its entitlement with the row (switches.switch);
    a customer's or an order's floating entitlements are locked here, in id order,
    after the row itself (nothing locks an entitlement first and then its customer or
    order)."""
    path = _PATHS.get(row._meta.label_lower)
    if path is None or not _may_float(row):
        return 0
    above = _ABOVE.get(row._meta.label_lower)
    if above is not None:
        floating = Entitlement.objects.filter(**{above: row.pk}, license_model=Entitlement.LicenseModel.FLOATING)
        locked = list(floating.select_for_update(no_key=True).order_by("pk").values_list("pk", flat=True))
        if not locked:
            return 0
    return slots_free(FloatingSlot.objects.filter(**{path: row.pk}), actor=actor, reason=reason)


def slots_free(slots: QuerySet[FloatingSlot], *, actor: Actor, reason: str) -> int:
    """Free these slots (their entitlements locked by the caller), each announced:
    released, or expired if it had lapsed. How many were live. The rows are locked in
    id order first, the order in which a flush of renewals locks them."""
    now = timezone.now()
    ids = list(slots.select_for_update().order_by("pk").values_list("pk", flat=True))
    if not ids:
        return 0
    freed = FloatingSlot.objects.filter(pk__in=ids).order_by("pk").select_related(*_LABELLED)
    return sum(_tidy(slot, slot.license, actor=actor, reason=reason, now=now) for slot in freed)


# What a freed slot's announcement reads of its license (its label: device, product, customer).
_LABELLED = ("license", "license__device", "license__entitlement__product", "license__entitlement__customer")


def _may_float(row: Any) -> bool:
    """False when `row` is known, without a query, to hold no floating slot."""
    if isinstance(row, Entitlement):
        return row.is_floating
    if isinstance(row, License) and License.entitlement.is_cached(row):
        return row.entitlement.is_floating
    return True


# Where the floating entitlements below a customer or an order are.
_ABOVE = {"licensing.customer": "customer", "licensing.licensetransaction": "transaction"}

_PATHS = {
    "licensing.customer": "entitlement__customer",
    "licensing.licensetransaction": "entitlement__transaction",
    "licensing.entitlement": "entitlement",
    "licensing.activationcode": "license__activation_code",
    "licensing.license": "license",
}


def _tidy(slot: FloatingSlot, license: License, *, actor: Actor, reason: str, now: dt.datetime) -> bool:
    """Delete the slot and announce it, once: released if it was live (the return
    value), expired if it had lapsed."""
    if not FloatingSlot.objects.filter(pk=slot.pk).delete()[0]:
        return False  # gone already, and announced by whoever removed it
    live = slot.is_live(now)
    action = "license.floating_released" if live else "license.floating_expired"
    _record(actor, action, license, slot, reason=reason if live else "not renewed")
    snapshots.bump(("licensing.floatingslot", license.pk))
    return live


def slots_sweep(*, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Tidy slots that lapsed (free already: nothing counts them), announcing each as
    `license.floating_expired` once. Runs on Celery beat, or the embedded scheduler.
    How many were tidied."""
    now = now or timezone.now()
    entitlements = list(
        FloatingSlot.objects.lapsed(now).order_by().values_list("entitlement_id", flat=True).distinct()[:limit]
    )
    tidied = 0
    actor = Actor.system("floating slot sweep")
    for entitlement_id in entitlements:
        with transaction.atomic():
            # Under the lock a late check-in takes: it either renewed the slot first
            # (then it is not lapsed here) or finds it gone and takes a new one.
            _locked_entitlement(entitlement_id)
            lapsed = FloatingSlot.objects.lapsed(now).filter(entitlement_id=entitlement_id)
            ids = list(lapsed.select_for_update().order_by("pk").values_list("pk", flat=True))
            for slot in FloatingSlot.objects.filter(pk__in=ids).order_by("pk").select_related(*_LABELLED):
                _tidy(slot, slot.license, actor=actor, reason="", now=now)
                tidied += 1
    return tidied


def _record(actor: Actor, action: str, license: License, slot: FloatingSlot, *, reason: str = "") -> None:
    record_change(
        actor=actor,
        action=action,
        target=license,
        reason=reason,
        after=field_values(slot, ("taken_at", "ends_at", "borrowed_until")),
        retires=False,
    )


# --- The client's requests -------------------------------------------------------------


def license_borrow(
    *,
    product_code: str,
    hardware_id: str,
    license_key: str | None = None,
    username: str | None = None,
    borrowed_until: dt.datetime | None = None,
    actor: Actor,
) -> License:
    """A device borrows its floating slot to work offline (floating/borrow): its license,
    if every rule allows it, with the borrowed slot."""
    license = license_for_device(
        product_code=product_code, hardware_id=hardware_id, license_key=license_key, username=username
    )
    not_floating(license)
    now = timezone.now()
    verdict = license.verdict(now)
    if not verdict.is_active:
        raise refused(license, verdict, actor=actor)
    license.slot = slot_borrow(license, until=borrowed_until, now=now, actor=actor)
    return license


def refused(license: License, verdict: rules.Verdict, *, actor: Actor) -> Refusal:
    """The refusal of a floating license the rules stopped, its slot (if any) freed:
    the device stops at this answer, so nothing should count it as running."""
    if verdict.status != rules.EffectiveStatus.DEACTIVATED:  # a deactivation freed it already
        _release(license, actor=actor, reason=verdict.reason.value)
    return refusal_for(verdict)


def client_floating_release(
    *,
    product_code: str,
    hardware_id: str,
    license_key: str | None = None,
    username: str | None = None,
    license_id: str | None = None,
    actor: Actor,
) -> License:
    """A device gives its floating slot back (floating/release), ending any borrow; it
    stays registered. Whatever the rules say of the license: freeing a slot is always
    allowed, and releasing one the device does not hold changes nothing."""
    license = license_for_device(
        product_code=product_code,
        hardware_id=hardware_id,
        license_key=license_key,
        username=username,
        license_id=license_id,
    )
    not_floating(license)
    _release(license, actor=actor, reason="released by the client")
    return license


# --- Renewals written behind ---------------------------------------------------------


def _later(old: tuple, new: tuple) -> tuple:
    """Of two buffered renewals of one license, the later end of the newer slot."""
    if old[0] != new[0]:
        return new if new[0] > old[0] else old
    return (new[0], max(old[1], new[1]))


def _write_renewals(pending: dict[Any, tuple[dt.datetime, dt.datetime]]) -> None:
    """Move each slot's end later, if it is still the slot the device took then and it
    has not lapsed: a slot, once free, is taken again only under the entitlement's
    lock, where it is counted. What this worker remembers moves with the rows written,
    and only with those."""
    table = FloatingSlot._meta.db_table
    items = sorted(pending.items())
    now = timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Rows locked in id order first: two workers' flushes, and a flush and a
            # switch or sweep freeing slots, queue instead of deadlocking. The arrays go
            # in binary (%b), as the check-ins' do (services/checkins.py).
            cursor.execute(
                f"""
                WITH v AS MATERIALIZED (
                    SELECT * FROM unnest(%b::uuid[], %b::timestamptz[], %b::timestamptz[]) AS v(license, since, ends)
                ), locked AS MATERIALIZED (
                    SELECT s.id FROM {table} s JOIN v ON s.license_id = v.license AND s.taken_at = v.since
                    ORDER BY s.id FOR UPDATE OF s
                )
                UPDATE {table} AS s SET ends_at = GREATEST(s.ends_at, v.ends)
                FROM v WHERE s.license_id = v.license AND s.id IN (SELECT id FROM locked) AND s.ends_at > %s
                RETURNING s.license_id
                """,  # noqa: S608 (the table name is the model's)
                [
                    [pk for pk, _ in items],
                    [since for _, (since, _) in items],
                    [ends for _, (_, ends) in items],
                    now,
                ],
            )
            written = {row[0] for row in cursor.fetchall()}
    else:
        written = {
            pk
            for pk, (since, ends) in items
            if FloatingSlot.objects.live(now)
            .filter(license_id=pk, taken_at=since)
            .update(ends_at=Greatest(F("ends_at"), ends))
        }
    for pk, (since, ends) in items:
        outdated = _known.outdated(pk)
        if outdated is None or outdated.value.since != since:
            continue
        if pk in written:
            outdated.value.ends_at = max(outdated.value.ends_at, ends)
        else:  # released, taken again or lapsed meanwhile: forget it, ask the database next time
            _known.forget(pk)


renewals = WriteBehind("floating slot renewals", _write_renewals, merge=_later)
