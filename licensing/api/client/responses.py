"""Every client API response is signed: `LicenseSignature` carries an Ed25519 signature
of the exact body bytes. JSON answers are bound to the request they answer: they carry
its `nonce` and the `hardware_id` they are about, errors included, so that a captured
answer cannot be replayed to another request or passed off as another device's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpResponse

from ...errors import Refusal, TryLater
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


def signed_error(refusal: Refusal, bound: Mapping[str, str] | None = None) -> HttpResponse:
    """The refusal's JSON, with what the request bound its answer to (nonce, hardware_id)."""
    response = signed_json({**refusal.body(), **(bound or {})}, status=refusal.status)
    if refusal.retry_after is not None:
        response["Retry-After"] = str(refusal.retry_after)
    return response


def rate_limited(wait: float | None) -> TryLater:
    """The refusal of the throttle, with the whole seconds until its window ends in the
    message and in Retry-After."""
    wait = max(1, int(wait or 1))
    message = f"Too many requests with this API key from this address; retry in {wait} seconds."
    return TryLater("rate_limited", message, retry_after=wait)
