"""Every signed request's Date header and every check's query string are read on a
shorter road than Python's and Django's general parsers: what it reads must be exactly
what they would have read, and what they refuse it refuses."""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime, parsedate_to_datetime

import pytest
from django.core.exceptions import TooManyFieldsSent
from django.test import RequestFactory
from hypothesis import given, settings
from hypothesis import strategies as st

from licensing.api.client.views import query_fields
from licensing.clientauth import parse_http_date

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, database=None)


def general_parser(value: str) -> dt.datetime | None:
    """The standard library's reading of an HTTP date in GMT, None where it fails."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


@SETTINGS
@given(st.datetimes(min_value=dt.datetime(100, 1, 1), max_value=dt.datetime(9999, 12, 31), timezones=st.just(dt.UTC)))
def test_every_preferred_form_date_reads_as_the_standard_library_reads_it(moment):
    sent = format_datetime(moment.replace(microsecond=0), usegmt=True)
    assert parse_http_date(sent) == general_parser(sent) == moment.replace(microsecond=0)


DIGITS = st.text("0123456789", min_size=2, max_size=2)


@SETTINGS
@given(
    st.sampled_from(["Mon", "Sun", "Fri"]),
    DIGITS,
    st.sampled_from(["Jan", "Feb", "Apr", "Dec"]),
    st.integers(100, 9999).map(lambda year: f"{year:04}"),
    DIGITS,
    DIGITS,
    DIGITS,
)
def test_impossible_days_and_times_are_refused_as_the_standard_library_refuses_them(
    weekday, day, month, year, hour, minute, second
):
    sent = f"{weekday}, {day} {month} {year} {hour}:{minute}:{second} GMT"
    assert parse_http_date(sent) == general_parser(sent)


@pytest.mark.parametrize(
    "sent",
    [
        "Sat, 31 Feb 2026 10:00:00 GMT",
        "Mon, 01 Jun 2026 24:00:00 GMT",
        "Mon, 01 Jun 2026 23:59:60 GMT",
        "Mon, 01 Jun 2026 23:60:00 GMT",
        "Mon, 00 Jun 2026 10:00:00 GMT",
        "Mon, 01 Jun 2026 10:00:00 +0000",
        "Mon, 01 Jun 2026 10:00:00 gmt",
    ],
)
def test_what_is_no_date_in_gmt_is_refused(sent):
    assert parse_http_date(sent) is None


@pytest.mark.parametrize(
    "sent",
    ["Sunday, 06-Nov-94 08:49:37 GMT", "Sun, 06 nov 1994 08:49:37 GMT", "Sun,  6 Nov 1994 08:49:37 GMT"],
)
def test_other_forms_still_read_as_before(sent):
    assert parse_http_date(sent) == general_parser(sent) == dt.datetime(1994, 11, 6, 8, 49, 37, tzinfo=dt.UTC)


QUERY_TEXT = st.text(
    st.one_of(st.sampled_from("&=+%;#?abcAB09 \t"), st.characters(max_codepoint=0x10FFFF, exclude_categories=["Cs"])),
    max_size=60,
)


@SETTINGS
@given(st.one_of(QUERY_TEXT.map(str.encode), st.binary(max_size=60)))
def test_a_query_string_reads_as_django_reads_it(raw):
    # A WSGI server hands the query string over as bytes decoded as ISO-8859-1.
    request = RequestFactory().get("/api/v4/check_license", QUERY_STRING=raw.decode("iso-8859-1"))
    assert query_fields(request) == request.GET.dict()


def test_a_repeated_field_reads_as_its_last_value():
    request = RequestFactory().get("/", QUERY_STRING="product=a&hardware_id=one&hardware_id=two&empty=")
    assert query_fields(request) == {"product": "a", "hardware_id": "two", "empty": ""}


def test_more_fields_than_django_allows_are_refused_as_django_refuses_them(settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 3
    request = RequestFactory().get("/", QUERY_STRING="a=1&b=2&c=3&d=4")
    with pytest.raises(TooManyFieldsSent):
        query_fields(request)
    with pytest.raises(TooManyFieldsSent):
        request.GET  # noqa: B018
