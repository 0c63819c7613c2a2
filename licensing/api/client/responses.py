"""Every client API response is signed: `LicenseSignature` carries an Ed25519 signature
of the exact body bytes."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from ...errors import Refusal
from ...signing import canonical_json, current_signer

SIGNATURE_HEADER = "LicenseSignature"


def signed(body: bytes, *, status: int = 200, content_type: str = "application/json") -> HttpResponse:
    response = HttpResponse(body, status=status, content_type=content_type)
    response[SIGNATURE_HEADER] = current_signer().sign(body)
    return response


def signed_json(data: Any, *, status: int = 200) -> HttpResponse:
    return signed(canonical_json(data), status=status)


def signed_text(text: str, *, status: int = 200) -> HttpResponse:
    return signed(text.encode(), status=status, content_type="text/plain; charset=utf-8")


def signed_error(refusal: Refusal) -> HttpResponse:
    return signed_json(refusal.body(), status=refusal.status)


def rate_limited(wait: int | None) -> HttpResponse:
    """The signed 429 of the throttle, with the whole seconds until its window ends in
    the message and in Retry-After."""
    wait = max(1, wait or 1)
    message = f"Too many requests with this API key from this address; retry in {wait} seconds."
    response = signed_error(Refusal("rate_limited", message, status=429))
    response["Retry-After"] = str(wait)
    return response
