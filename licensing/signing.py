"""Ed25519 signatures on client API responses and license files.

The key is generated on first use and stored (encrypted) in the database so that every
web process signs with the same key; production can pin one with the
LICENSING_SIGNING_KEY setting (a PEM private key). Clients verify with the public key
from `GET /api/v4/public_key`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction

from . import secretbox

LICENSE_FILE_BEGIN = "-----BEGIN LICENSE FILE-----"
LICENSE_FILE_END = "-----END LICENSE FILE-----"
DEFAULT_KID = "default"


@dataclass(frozen=True)
class Signer:
    kid: str
    private_key: Ed25519PrivateKey

    @functools.cached_property
    def public_key_pem(self) -> str:
        return _public_pem(self.private_key.public_key())

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self.private_key.sign(data)).decode()


def _public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _kid_for(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@functools.cache
def current_signer() -> Signer:
    """The process-wide signer, loaded once. Cached for the life of the process: the key
    never changes under a running server."""
    configured = getattr(settings, "LICENSING_SIGNING_KEY", "")
    if configured:
        key = serialization.load_pem_private_key(configured.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("LICENSING_SIGNING_KEY must be an Ed25519 private key in PEM form.")
        return Signer(kid=_kid_for(key.public_key()), private_key=key)
    return _stored_signer()


def _stored_signer() -> Signer:
    from .models import SigningKey

    stored = SigningKey.objects.filter(kid=DEFAULT_KID).first() or _create_stored_key()
    pem = secretbox.decrypt(stored.private_key_encrypted).encode()
    key = serialization.load_pem_private_key(pem, password=None)
    return Signer(kid=_kid_for(key.public_key()), private_key=key)


def _create_stored_key():
    from .models import SigningKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        # Two processes may start at once; the unique kid lets exactly one create it.
        with transaction.atomic():
            return SigningKey.objects.create(
                kid=DEFAULT_KID,
                private_key_encrypted=secretbox.encrypt(pem.decode()),
                public_key_pem=_public_pem(key.public_key()),
            )
    except IntegrityError:
        return SigningKey.objects.get(kid=DEFAULT_KID)


# One encoder for every answer (json.dumps with a `cls` would build one per call); it
# keeps no state between calls.
_CANONICAL = DjangoJSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(data: Any) -> bytes:
    """Compact, key-sorted UTF-8 JSON: the exact bytes that are signed and sent."""
    return _CANONICAL.encode(data).encode()


def license_file(payload: dict[str, Any]) -> str:
    """The signed license file for `payload`."""
    signer = current_signer()
    payload_bytes = canonical_json(payload)
    envelope = {
        "payload": base64.b64encode(payload_bytes).decode(),
        "signature": signer.sign(payload_bytes),
        "alg": "ed25519",
        "kid": signer.kid,
    }
    body = base64.b64encode(canonical_json(envelope)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([LICENSE_FILE_BEGIN, *lines, LICENSE_FILE_END]) + "\n"
