"""Consumption periods: counters restart at period boundaries counted from the
entitlement's start of validity, with no job to reset them."""

import datetime as dt

import pytest

from licensing import periods

UTC = dt.UTC


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def test_the_last_second_of_a_month_and_the_first_of_the_next_fall_in_different_periods():
    anchor = at(2026, 1, 1)
    last = periods.period_at(periods.MONTHLY, anchor, at(2026, 3, 31, 23, 59, 59))
    first = periods.period_at(periods.MONTHLY, anchor, at(2026, 4, 1))
    assert last == periods.Period(at(2026, 3, 1), at(2026, 4, 1))
    assert first == periods.Period(at(2026, 4, 1), at(2026, 5, 1))


def test_a_month_anchored_on_the_31st_ends_on_the_last_day_of_shorter_months():
    anchor = at(2026, 1, 31, 12)
    assert periods.period_at(periods.MONTHLY, anchor, at(2026, 2, 28, 13)) == periods.Period(
        at(2026, 2, 28, 12), at(2026, 3, 31, 12)
    )
    assert periods.period_at(periods.MONTHLY, anchor, at(2026, 2, 28, 11)).start == at(2026, 1, 31, 12)


@pytest.mark.parametrize(
    ("reset", "moment", "start", "end"),
    [
        ("daily", at(2026, 5, 3, 9, 29, 59), at(2026, 5, 2, 9, 30), at(2026, 5, 3, 9, 30)),
        ("daily", at(2026, 5, 3, 9, 30), at(2026, 5, 3, 9, 30), at(2026, 5, 4, 9, 30)),
        # The anchor is a Tuesday: weeks run Tuesday 09:30 to Tuesday 09:30.
        ("weekly", at(2026, 5, 12, 9, 29), at(2026, 5, 5, 9, 30), at(2026, 5, 12, 9, 30)),
        ("weekly", at(2026, 5, 12, 9, 30), at(2026, 5, 12, 9, 30), at(2026, 5, 19, 9, 30)),
        ("yearly", at(2027, 4, 28, 9, 29, 59), at(2026, 4, 28, 9, 30), at(2027, 4, 28, 9, 30)),
        ("yearly", at(2027, 4, 28, 9, 30), at(2027, 4, 28, 9, 30), at(2028, 4, 28, 9, 30)),
        ("never", at(2030, 1, 1), at(2026, 4, 28, 9, 30), None),
    ],
)
def test_periods_are_anchored_at_the_start_of_validity(reset, moment, start, end):
    anchor = at(2026, 4, 28, 9, 30)  # a Tuesday
    assert periods.period_at(reset, anchor, moment) == periods.Period(start, end)


def test_a_moment_before_the_anchor_counts_in_the_first_period():
    anchor = at(2026, 4, 28)
    assert periods.period_at(periods.MONTHLY, anchor, at(2026, 4, 1)).start == anchor
    assert periods.period_at(periods.DAILY, anchor, at(2026, 4, 1)).start == anchor


def test_a_yearly_period_anchored_on_29_february_ends_on_28_february():
    anchor = at(2028, 2, 29)
    assert periods.period_at(periods.YEARLY, anchor, at(2029, 3, 1)) == periods.Period(at(2029, 2, 28), at(2030, 2, 28))
