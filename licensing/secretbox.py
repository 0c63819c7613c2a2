"""Encryption at rest for secrets the server must read back (client shared keys), and
keyed digests of what must only be compared."""

import base64
import functools
import hashlib
import hmac

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


@functools.cache
def _fernet(secret: str) -> Fernet:
    # HKDF turns any configured secret into the 32-byte key Fernet wants, and the `info`
    # label keeps this key distinct from anything else derived from the same secret.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"licensing.secretbox").derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


@functools.cache
def _key(secret: str, label: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"licensing.{label}".encode()).derive(
        secret.encode()
    )


def keyed_digest(label: str, data: bytes) -> str:
    """HMAC-SHA256 of `data` with a key derived for `label` from the server's secret:
    comparable by the server, useless to anyone who reads it without that secret."""
    key = _key(settings.LICENSING_SECRETS_KEY or settings.SECRET_KEY, label)
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def _box() -> Fernet:
    return _fernet(settings.LICENSING_SECRETS_KEY or settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    return _box().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    return _box().decrypt(token.encode()).decode()


def encrypted(column: str) -> property:
    """A model attribute kept encrypted in a text column: `secret = encrypted("secret_encrypted")`
    reads and writes `secret` in clear while `secret_encrypted` holds what is stored. A
    property, so that models also take it as a keyword argument."""

    def read(instance) -> str:
        stored = getattr(instance, column)
        return decrypt(stored) if stored else ""

    def write(instance, value: str) -> None:
        setattr(instance, column, encrypt(value) if value else "")

    return property(read, write)
