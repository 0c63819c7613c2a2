"""Request signing, answer verification and the offline files (request files and
license files) of the client API, with nothing but the shared key and the public key."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from email.utils import formatdate
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from .errors import SignatureInvalid

BEGIN = "-----BEGIN LICENSE FILE-----"
END = "-----END LICENSE FILE-----"


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    """The application's Ed25519 public key, from the PEM shipped with it."""
    key = load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the public key is not an Ed25519 key")
    return key


def verify(public_key: Ed25519PublicKey, body: bytes, signature: str | None) -> None:
    """Raises SignatureInvalid unless ``signature`` (base64) signs exactly ``body``."""
    if not signature:
        raise SignatureInvalid("the answer is not signed")
    try:
        public_key.verify(base64.b64decode(signature, validate=True), body)
    except (InvalidSignature, binascii.Error, ValueError) as error:
        raise SignatureInvalid("the signature does not verify with the public key") from error


def hmac_b64(shared_key: str, message: str) -> str:
    return base64.b64encode(hmac.new(shared_key.encode(), message.encode(), hashlib.sha256).digest()).decode()


def auth_headers(api_key: str, shared_key: str, moment: float) -> dict[str, str]:
    """The ``Date`` and ``Authorization`` headers of a request made at ``moment`` (epoch seconds)."""
    date = formatdate(moment, usegmt=True)
    signature = hmac_b64(shared_key, f"licenseSpring\ndate: {date}")
    return {
        "Date": date,
        "Authorization": f'algorithm="hmac-sha256",headers="date",signature="{signature}",apiKey="{api_key}"',
    }


def request_file(
    request: str,
    *,
    api_key: str,
    shared_key: str,
    product: str,
    hardware_id: str,
    moment: float,
    license_key: str | None = None,
    username: str | None = None,
    password: str | None = None,
    request_id: str | None = None,
    **facts: Any,
) -> str:
    """A base64 offline request file (``request``: ``activation`` or ``deactivation``)."""
    if request not in ("activation", "deactivation"):
        raise ValueError("request must be 'activation' or 'deactivation'")
    if bool(license_key) == bool(username):
        raise ValueError("give either license_key or username")
    date = formatdate(moment, usegmt=True)
    body: dict[str, Any] = {
        "request": request,
        "product": product,
        "hardware_id": hardware_id,
        "date": date,
        "request_id": request_id or str(uuid.uuid4()),
        "api_key": api_key,
    }
    if license_key:
        body["license_key"] = license_key
    else:
        body["username"] = username
        if password:
            body["password"] = password
    body.update({k: v for k, v in facts.items() if v is not None})
    message = f"licenseSpring\ndate: {date}\n{license_key or username}\n{hardware_id}\n{api_key}"
    body["signature"] = hmac_b64(shared_key, message)
    return base64.b64encode(json.dumps(body).encode()).decode()


def read_license_file(text: str, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """The verified payload of a license file. Raises SignatureInvalid when the envelope
    is malformed or its signature does not verify."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) < 3 or lines[0] != BEGIN or lines[-1] != END:
        raise SignatureInvalid("not a license file")
    try:
        envelope = json.loads(base64.b64decode("".join(lines[1:-1]), validate=True))
        if not isinstance(envelope, dict) or envelope.get("alg") != "ed25519":
            raise SignatureInvalid("a license file of an unknown algorithm")
        payload = base64.b64decode(envelope["payload"], validate=True)
        signature = envelope["signature"]
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise SignatureInvalid("a malformed license file") from error
    verify(public_key, payload, signature)
    try:
        data = json.loads(payload)
    except ValueError as error:
        raise SignatureInvalid("a license file whose payload is not JSON") from error
    if not isinstance(data, dict):
        raise SignatureInvalid("a license file whose payload is not an object")
    return data
