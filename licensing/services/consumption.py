"""Counting consumption: a client's (add_consumption, add_feature_consumption) and a
correction by staff.

Exactly, under any concurrency: a counter row per meter and period, moved by one
conditional UPDATE (`used + n` within the cap), which PostgreSQL re-evaluates on the
row's newest version when a concurrent count held it; a count past the cap updates
nothing and is refused. A client's `request_id` is claimed by inserting its entry
(unique per license) before the count: a repeat, even a concurrent one, waits for the
first, finds the id taken, and is answered with the first answer, counting nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from .. import audit, metering, outbox
from ..actors import Actor
from ..errors import InvalidEdit, Refusal, refusal_for
from ..metering import Meter
from ..models import ConsumptionCounter, ConsumptionEntry, Entitlement, License, ProductFeature
from ..models.features import MAX_CONSUMPTION_STEP
from ..selectors import license_for_device
from ..signing import canonical_json
from .recording import lock_row

LIMIT_REACHED = "consumption.limit_reached"


@dataclass(frozen=True)
class Counted:
    """What one count left: the license, its meter and the counter's total after it."""

    license: License
    meter: Meter
    used: int
    now: dt.datetime


def license_consume(
    *,
    product_code: str,
    hardware_id: str,
    license_key: str | None = None,
    username: str | None = None,
    amount: int,
    feature: str | None = None,
    request_id: str = "",
    actor: Actor,
    answer: Callable[[Counted], dict[str, Any]],
) -> dict[str, Any]:
    """Count `amount` on the device's license: on the entitlement's meter, or on the
    meter of the granted `feature`. Refused as a check would be refused (every switch of
    the access rules), and past the cap. Returns `answer` of what was counted, which a
    repeat of `request_id` gets again."""
    # One transaction for the whole count, its reads included: a count commits once.
    with transaction.atomic():
        license = license_for_device(
            product_code=product_code, hardware_id=hardware_id, license_key=license_key, username=username
        )
        # A repeat is answered as the first time, whatever changed since (a switch, a
        # lapsed feature): the first count stands.
        if request_id and (first := _first_answer(license, request_id, amount, feature)) is not None:
            return first
        now = timezone.now()
        verdict = license.verdict(now)
        if not verdict.is_active:
            raise refusal_for(verdict)
        entitlement = license.entitlement
        meter = _meter(entitlement, feature, now)
        _check_amount(meter, amount)
        feature_id = _feature_id(entitlement, feature)
        period = meter.period(entitlement, now)
        entry = ConsumptionEntry(
            entitlement=entitlement,
            feature_id=feature_id,
            license=license,
            amount=amount,
            period_start=period.start,
            request_id=request_id,
            actor_label=actor.label[:200],
        )
        if request_id and not _claimed(entry):
            return _first_answer(license, request_id, amount, feature)
        counter = _count(entitlement, feature_id, meter, period, amount)
        counted = Counted(license=license, meter=meter, used=counter.used, now=now)
        # Kept as the JSON it is sent as, so that a repeat is answered in the same words
        # (only where a repeat can come: a count without a request_id keeps no answer).
        sent = json.loads(canonical_json(answer(counted)))
        if request_id:
            entry.answer = sent
            entry.save(update_fields=["answer"])
        else:
            entry.save()
        _announce_limit(counter, meter, now, actor)
    return sent


def license_feature(
    *,
    product_code: str,
    hardware_id: str,
    license_key: str | None = None,
    username: str | None = None,
    feature: str,
) -> dict[str, Any]:
    """A feature of the device's license (check_license_feature), in full with its use
    this period: refused as a check would be, or when not granted or expired. Reads
    only; the device checks in through check_license."""
    license = license_for_device(
        product_code=product_code, hardware_id=hardware_id, license_key=license_key, username=username
    )
    now = timezone.now()
    verdict = license.verdict(now)
    if not verdict.is_active:
        raise refusal_for(verdict)
    entitlement = license.entitlement
    terms = metering.granted_terms(entitlement, feature, now)
    meter = metering.feature_meter(terms)
    used = metering.usage_now(entitlement, now, only=[meter]).get(feature) if meter else None
    return feature_answer(license, terms, used, now)


def feature_answer(license: License, terms: dict[str, Any], used: int | None, now: dt.datetime) -> dict[str, Any]:
    """A feature answer, bound to the license and device it is about."""
    return {
        **metering.feature_object(terms, license.entitlement, now, used),
        "license_id": str(license.pk),
        "server_time": now,
        "hardware_id": license.device.hardware_id,
    }


def _meter(entitlement: Entitlement, feature: str | None, now: dt.datetime) -> Meter:
    if feature is None:
        meter = metering.entitlement_meter(entitlement)
        if meter is None:
            raise Refusal("consumption_not_metered", "This license is not metered: it counts no consumption.")
        return meter
    meter = metering.feature_meter(metering.granted_terms(entitlement, feature, now))
    if meter is None:
        raise Refusal("feature_not_consumption", f"The feature {feature} is not a consumption feature.")
    return meter


def _check_amount(meter: Meter, amount: int) -> None:
    if amount == 0 or abs(amount) > MAX_CONSUMPTION_STEP:
        raise Refusal("invalid_parameters", f"consumptions: a whole number from 1 to {MAX_CONSUMPTION_STEP:,}.")
    if amount < 0 and not meter.allow_negative_consumptions:
        raise Refusal("negative_consumption_not_allowed", "This license does not take negative consumptions.")


def _feature_id(entitlement: Entitlement, code: str | None) -> Any:
    if code is None:
        return None
    return ProductFeature.objects.values_list("pk", flat=True).get(product_id=entitlement.product_id, code=code)


def _claimed(entry: ConsumptionEntry) -> bool:
    """Insert the entry, claiming its request id; False if another request holds it
    (waiting for that request's transaction to end, if it is still running)."""
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction survives a taken id
            entry.save(force_insert=True)
    except IntegrityError:
        return False
    return True


def _first_answer(license: License, request_id: str, amount: int, feature: str | None) -> dict[str, Any] | None:
    """The answer to the first request with this id, if there was one; a request_id
    sent with another count (another amount or meter) is refused, never answered with
    the first count's answer."""
    first = (
        ConsumptionEntry.objects.filter(license=license, request_id=request_id)
        .values_list("amount", "feature__code", "answer")
        .first()
    )
    if first is None:
        return None
    if first[:2] != (amount, feature):
        raise Refusal("request_id_reused", "This request_id was sent with another count; send a new one.")
    return first[2]


def _counter_rows(entitlement: Entitlement, feature_id: Any, period_start: dt.datetime):
    feature = Q(feature__isnull=True) if feature_id is None else Q(feature_id=feature_id)
    return ConsumptionCounter.objects.filter(feature, entitlement=entitlement, period_start=period_start)


def _count(entitlement: Entitlement, feature_id: Any, meter: Meter, period, amount: int) -> ConsumptionCounter:
    """Add `amount` to the period's counter, within the cap and never below zero, or
    refuse and count nothing."""
    rows = _counter_rows(entitlement, feature_id, period.start)
    within = rows
    if amount > 0 and meter.cap is not None:
        within = within.filter(used__lte=meter.cap - amount)
    if amount < 0:
        within = within.filter(used__gte=-amount)
    if within.update(used=F("used") + amount):
        return rows.get()
    # No counter yet, or one the count does not fit: the period's first count creates it
    # (a concurrent first count may have just done so), then counts as every other does.
    ConsumptionCounter.objects.bulk_create(
        [
            ConsumptionCounter(
                entitlement=entitlement, feature_id=feature_id, period_start=period.start, period_end=period.end
            )
        ],
        ignore_conflicts=True,
    )
    if not within.update(used=F("used") + amount):
        if amount < 0:
            raise Refusal("consumption_below_zero", "That would take the consumption below zero.")
        raise Refusal(
            "consumption_limit_reached",
            f"The limit of {meter.max_consumptions:,} consumptions"
            + (f" and {meter.max_overages:,} overages" if meter.allow_overages else "")
            + " for this period is reached.",
        )
    return rows.get()


def _announce_limit(counter: ConsumptionCounter, meter: Meter, now: dt.datetime, actor: Actor) -> None:
    """`consumption.limit_reached`, once per counter: by the count that first reached the
    limit (the counter's row is locked by this transaction's update)."""
    if meter.max_consumptions is None or counter.used < meter.max_consumptions or counter.limit_reached_at:
        return
    counter.limit_reached_at = now
    counter.save(update_fields=["limit_reached_at"])
    reached = {
        "feature": meter.feature,
        "used": counter.used,
        "max_consumptions": meter.max_consumptions,
        "max_overages": meter.max_overages if meter.allow_overages else 0,
        "period_start": counter.period_start,
        "period_end": counter.period_end,
    }
    audit.append(actor=actor, action=LIMIT_REACHED, target=counter.entitlement, after=_plain(reached))
    outbox.emit(LIMIT_REACHED, counter.entitlement, extra={"consumption": reached})


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value.isoformat() if isinstance(value, dt.datetime) else value for name, value in values.items()}


def consumption_correct(
    *, entitlement: Entitlement, amount: int, feature: ProductFeature | None = None, reason: str, actor: Actor
) -> ConsumptionEntry:
    """Staff correct the current period's consumption by `amount` (either way), with a
    reason: an entry of its own and an audit event, never an edit of the counter. A
    correction may take the counter past the cap (it says what was used), never below
    zero."""
    if not reason.strip():
        raise InvalidEdit({"reason": ["Say why the consumption is corrected."]})
    if amount == 0 or abs(amount) > MAX_CONSUMPTION_STEP:
        raise InvalidEdit({"amount": [f"A whole number from 1 to {MAX_CONSUMPTION_STEP:,}, or as much below zero."]})
    now = timezone.now()
    with transaction.atomic():
        entitlement = lock_row(Entitlement, entitlement.pk)
        meter = _staff_meter(entitlement, feature, now)
        period = meter.period(entitlement, now)
        uncapped = replace(meter, max_consumptions=None)
        feature_id = feature.pk if feature else None
        try:
            counter = _count(entitlement, feature_id, uncapped, period, amount)
        except Refusal as refused:
            raise InvalidEdit({"amount": [refused.message]}) from None
        entry = ConsumptionEntry.objects.create(
            entitlement=entitlement,
            feature_id=feature_id,
            kind=ConsumptionEntry.Kind.CORRECTION,
            amount=amount,
            period_start=period.start,
            reason=reason,
            actor_label=actor.label[:200],
        )
        audit.append(
            actor=actor,
            action="consumption.corrected",
            target=entitlement,
            reason=reason,
            after={"feature": feature.code if feature else None, "amount": amount, "used": counter.used},
        )
        _announce_limit(counter, meter, now, actor)
    return entry


def _staff_meter(entitlement: Entitlement, feature: ProductFeature | None, now: dt.datetime) -> Meter:
    try:
        return _meter(entitlement, feature.code if feature else None, now)
    except Refusal as refused:
        raise InvalidEdit({"feature": [refused.message]}) from None
