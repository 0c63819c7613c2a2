"""The HMAC scheme client applications sign with (DESIGN.md §3), for online requests
(over the Date header) and offline request files (over their fields)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from . import snapshots
from .errors import Refusal
from .selectors import CredentialRecord, client_credential

MAX_API_KEY_LENGTH = 64


def hmac_signature(shared_key: str, message: str) -> str:
    """base64(HMAC-SHA256(shared_key, message)), as clients compute it."""
    digest = hmac.new(shared_key.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def date_message(date: str) -> str:
    return f"licenseSpring\ndate: {date}"


def offline_message(*, date: str, secret_name: str, hardware_id: str, api_key: str) -> str:
    """What an offline request's signature covers; `secret_name` is the license key or
    the username."""
    return f"{date_message(date)}\n{secret_name}\n{hardware_id}\n{api_key}"


def verify_signature(
    api_key: str, message: str, signature: str, *, generation: Any = snapshots.READ_NOW
) -> CredentialRecord:
    """The live credential behind `api_key` if `signature` is its HMAC of `message`."""
    well_formed = len(api_key) <= MAX_API_KEY_LENGTH and api_key.isascii() and api_key.isprintable()
    credential = client_credential(api_key, generation=generation) if well_formed else None
    if credential is None or credential.revoked:
        raise Refusal("invalid_api_key", "Unknown or revoked API key.", status=401)
    # Constant-time: the comparison must not tell an attacker how much of a guess is right.
    if not hmac.compare_digest(hmac_signature(credential.shared_key, message).encode(), signature.encode()):
        raise Refusal("signature_mismatch", "The signature does not match.", status=401)
    return credential
