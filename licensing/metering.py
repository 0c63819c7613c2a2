"""What is metered and how much of it is used now: the meters of an entitlement (the
entitlement itself, when metered, and each granted consumption feature), read from the
terms the entitlement keeps (`Entitlement.feature_terms`), and their counters for the
current period. Shared by client answers, the portal, the admin and the management API.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import formats, timezone

from . import periods
from .errors import Refusal
from .models import ConsumptionCounter, ConsumptionEntry, Entitlement, ProductFeature


@dataclass(frozen=True)
class Meter:
    """One counter's terms: the entitlement's (`feature` None) or a feature's."""

    feature: str | None
    max_consumptions: int | None
    allow_overages: bool
    max_overages: int | None
    reset_period: str
    allow_negative_consumptions: bool

    @classmethod
    def of(cls, terms: dict[str, Any], feature: str | None) -> Meter:
        return cls(
            feature=feature,
            max_consumptions=terms["max_consumptions"],
            allow_overages=terms["allow_overages"],
            max_overages=terms["max_overages"],
            reset_period=terms["reset_period"],
            allow_negative_consumptions=terms["allow_negative_consumptions"],
        )

    @property
    def cap(self) -> int | None:
        """The most a period may count, overages included; None: no cap."""
        if self.max_consumptions is None:
            return None
        if not self.allow_overages:
            return self.max_consumptions
        return None if self.max_overages is None else self.max_consumptions + self.max_overages

    def period(self, entitlement: Entitlement, now: dt.datetime) -> periods.Period:
        return periods.period_at(self.reset_period, entitlement.valid_from, now)


def entitlement_meter(entitlement: Entitlement) -> Meter | None:
    """The entitlement's own meter, if it is metered."""
    if entitlement.max_consumptions is None:
        return None
    return Meter.of(entitlement.metering_terms(), None)


def granted_terms(entitlement: Entitlement, code: str, now: dt.datetime) -> dict[str, Any]:
    """The terms of a feature granted to the entitlement, or the client refusal: not
    granted (`feature_not_found`), or past its `expires_at` (`feature_expired`)."""
    terms = entitlement.feature_grant_terms(code)
    if terms is None:
        raise Refusal("feature_not_found", f"The feature {code} is not granted to this license.")
    if terms not in entitlement.granted_features(now):
        raise Refusal("feature_expired", f"The feature {code} expired at {terms['expires_at']}.")
    return terms


def feature_meter(terms: dict[str, Any]) -> Meter | None:
    """A granted consumption feature's meter (counted, capped or not); None for a feature
    that only opens something."""
    if terms["feature_type"] != ProductFeature.FeatureType.CONSUMPTION:
        return None
    return Meter.of(terms, terms["code"])


def meters(entitlement: Entitlement, now: dt.datetime) -> list[Meter]:
    """Every meter of the entitlement at `now`: its own, then its unexpired consumption features'."""
    found = [meter] if (meter := entitlement_meter(entitlement)) else []
    found += [meter for terms in entitlement.granted_features(now) if (meter := feature_meter(terms))]
    return found


def usage_now(entitlement: Entitlement, now: dt.datetime, only: list[Meter] | None = None) -> dict[str | None, int]:
    """What each meter (`only` these, or all) counted in its current period, by feature
    code (None: the entitlement's own): one query, none without meters."""
    wanted = meters(entitlement, now) if only is None else only
    if not wanted:
        return {}
    match = Q()
    for meter in wanted:
        start = meter.period(entitlement, now).start
        feature = Q(feature__isnull=True) if meter.feature is None else Q(feature__code=meter.feature)
        match |= feature & Q(period_start=start)
    rows = ConsumptionCounter.objects.filter(match, entitlement=entitlement)
    used = {meter.feature: 0 for meter in wanted}
    for code, count in rows.values_list("feature__code", "used"):
        used[code] = count
    return used


def meter_fields(meter: Meter, used: int, entitlement: Entitlement, now: dt.datetime) -> dict[str, Any]:
    """A meter's terms and use, as client answers and the management API show them."""
    return {
        "max_consumptions": meter.max_consumptions,
        "total_consumptions": used,
        "allow_overages": meter.allow_overages,
        "max_overages": meter.max_overages,
        "reset_period": meter.reset_period,
        "period_ends_at": meter.period(entitlement, now).end,
    }


def feature_object(terms: dict[str, Any], entitlement: Entitlement, now: dt.datetime, used: int | None) -> dict:
    """A granted feature in full, as `product_features` and check_license_feature show it."""
    meter = feature_meter(terms)
    counted = meter_fields(meter, used or 0, entitlement, now) if meter else {}
    return {
        "code": terms["code"],
        "name": terms["name"],
        "feature_type": terms["feature_type"],
        "value": True if terms["value"] is None else terms["value"],
        "expires_at": terms["expires_at"],
        "max_consumptions": counted.get("max_consumptions"),
        "total_consumptions": counted.get("total_consumptions"),
        "allow_overages": counted.get("allow_overages", False),
        "max_overages": counted.get("max_overages"),
        "reset_period": counted.get("reset_period", terms["reset_period"]),
        "period_ends_at": counted.get("period_ends_at"),
    }


def current_usage(entitlement: Entitlement, now: dt.datetime) -> list[dict[str, Any]]:
    """Each meter's terms and use in its current period (the entitlement's own first)."""
    found = meters(entitlement, now)
    used = usage_now(entitlement, now, only=found)
    return [
        {
            "feature": meter.feature,
            "period_start": meter.period(entitlement, now).start,
            **meter_fields(meter, used.get(meter.feature, 0), entitlement, now),
        }
        for meter in found
    ]


def usage_by_day(
    entitlement: Entitlement,
    *,
    feature: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> list[dict[str, Any]]:
    """What was consumed per day (UTC) and meter, corrections included, newest first:
    only a feature's (by its code), or every meter's."""
    entries = ConsumptionEntry.objects.filter(entitlement=entitlement)
    if feature is not None:
        entries = entries.filter(feature__code=feature)
    if start is not None:
        entries = entries.filter(created_at__gte=dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC))
    if end is not None and end < dt.date.max:  # the calendar's last day ends nothing
        entries = entries.filter(
            created_at__lt=dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        )
    days = (
        entries.annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values("day", "feature__code")
        .annotate(consumed=Sum("amount"), entries=Count("pk"))
        .order_by("-day", "feature__code")
    )
    return [
        {"date": row["day"], "feature": row["feature__code"], "consumed": row["consumed"], "entries": row["entries"]}
        for row in days
    ]


def usage_rows(entitlement: Entitlement, now: dt.datetime) -> list[dict[str, Any]]:
    """What people are shown of each meter now (the admin, the portal): its name (the
    feature's, or "Entitlement" for its own), the count, the limit, and the words
    ("30 of 50 this period, until Jan. 1, 2027, midnight", in the site's date format)."""
    names = {terms["code"]: terms["name"] for terms in entitlement.feature_terms}
    rows = []
    for meter in current_usage(entitlement, now):
        used, limit, ends = meter["total_consumptions"], meter["max_consumptions"], meter["period_ends_at"]
        until = f", until {formats.date_format(timezone.localtime(ends), 'DATETIME_FORMAT')}" if ends else ""
        limited = limit is not None
        words = f"{used:,} of {limit:,} this period{until}" if limited else f"{used:,} this period{until} (no limit)"
        name = names.get(meter["feature"]) or meter["feature"] or "Entitlement"
        over = limited and used >= limit
        # `high`: where a bar turns to warn, nine tenths of the limit.
        rows.append(
            {"name": name, "used": used, "limit": limit, "high": (limit or 0) * 9 // 10, "words": words, "over": over}
        )
    return rows
