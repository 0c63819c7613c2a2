"""Consumption periods: which period a moment falls in, for a counter that resets every
day, week, month or year from an anchor (the entitlement's `valid_from`), or never.

A counter is keyed by its period's start, so a new period is simply a new counter: no
job resets anything, and the last second of one period and the first of the next count
apart by construction. Months and years are calendar steps from the anchor, clamped to
the month's last day (anchored on 31 January: 28 or 29 February, 31 March, ...).
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import NamedTuple

NEVER = "never"
DAILY = "daily"
WEEKLY = "weekly"
MONTHLY = "monthly"
YEARLY = "yearly"

_FIXED = {DAILY: dt.timedelta(days=1), WEEKLY: dt.timedelta(weeks=1)}
_MONTHS = {MONTHLY: 1, YEARLY: 12}


class Period(NamedTuple):
    start: dt.datetime
    end: dt.datetime | None  # None: the period never ends


def period_at(reset_period: str, anchor: dt.datetime, moment: dt.datetime) -> Period:
    """The period of `reset_period` steps from `anchor` that holds `moment` (a moment
    before the anchor falls in the first period)."""
    if reset_period == NEVER:
        return Period(anchor, None)
    if reset_period in _FIXED:
        step = _FIXED[reset_period]
        steps = max(0, (moment - anchor) // step)
        start = anchor + steps * step
        return Period(start, start + step)
    months = _MONTHS[reset_period]
    elapsed = (moment.year - anchor.year) * 12 + moment.month - anchor.month
    steps = max(0, elapsed // months)
    if steps and _add_months(anchor, steps * months) > moment:
        steps -= 1
    return Period(_add_months(anchor, steps * months), _add_months(anchor, (steps + 1) * months))


def _add_months(anchor: dt.datetime, months: int) -> dt.datetime:
    year, month = divmod(anchor.month - 1 + months, 12)
    year += anchor.year
    day = min(anchor.day, calendar.monthrange(year, month + 1)[1])
    return anchor.replace(year=year, month=month + 1, day=day)
