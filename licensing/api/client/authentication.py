"""Request authentication: a fresh `Date` and an HMAC-SHA256
`Authorization` made with a client credential's shared key."""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from ... import snapshots
from ...clientauth import MAX_CLOCK_SKEW, CredentialRecord, date_message, parse_http_date, verify_signature
from ...errors import Refusal

_AUTH_PARAM = re.compile(r'\s*([A-Za-z]+)\s*=\s*"([^"]*)"\s*(?:,|$)')
MAX_HEADER_LENGTH = 1024


def parse_authorization(header: str) -> dict[str, str]:
    """The parameters of `algorithm="...",headers="...",signature="...",apiKey="..."`.
    Anything else, or any of the four missing, is malformed."""
    if len(header) > MAX_HEADER_LENGTH:
        raise _malformed("The Authorization header is too long.")
    if not header.isprintable():
        raise _malformed("The Authorization header must not contain control characters.")
    params: dict[str, str] = {}
    position = 0
    while position < len(header):
        match = _AUTH_PARAM.match(header, position)
        if match is None or match.end() == position:
            raise _malformed('The Authorization header is not a list of name="value" pairs.')
        params[match.group(1)] = match.group(2)
        position = match.end()
    missing = [name for name in ("algorithm", "headers", "signature", "apiKey") if not params.get(name)]
    if missing:
        raise _malformed(f"The Authorization header lacks {', '.join(missing)}.")
    if params["algorithm"].lower() != "hmac-sha256":
        raise _malformed('Only algorithm="hmac-sha256" is supported.')
    if params["headers"].lower() != "date":
        raise _malformed('The signed headers must be headers="date".')
    return params


def _malformed(message: str) -> Refusal:
    return Refusal("authorization_invalid_headers", message)


def authenticate(request: HttpRequest, *, versions: Any = snapshots.READ_NOW) -> CredentialRecord:
    """The credential that signed this request, or a Refusal with the §3 code."""
    # From META: request.headers would parse every header into a new mapping first.
    date = request.META.get("HTTP_DATE")
    authorization = request.META.get("HTTP_AUTHORIZATION")
    if not date or not authorization:
        raise Refusal("missing_headers", "Both a Date and an Authorization header are required.")
    params = parse_authorization(authorization)
    sent = parse_http_date(date)
    if sent is None:
        raise Refusal("date_header_diff", "The Date header is not an RFC 7231 date in GMT.")
    if abs(timezone.now() - sent) > MAX_CLOCK_SKEW:
        raise Refusal("date_header_diff", "The Date header is more than 15 minutes from the server's time.")
    return verify_signature(params["apiKey"], date_message(date), params["signature"], versions=versions)
