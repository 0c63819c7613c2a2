"""The HMAC scheme client applications sign with, for online requests
(over the Date header) and offline request files (over their fields), and the lookup
of the credential that signed."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import time
import uuid
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from . import secretbox, snapshots
from .errors import Refusal
from .models import ClientCredential

MAX_API_KEY_LENGTH = 64
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)


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


# The preferred form, which clients send: "Sun, 06 Nov 1994 08:49:37 GMT". Read directly,
# on every signed request, in about half the time of the standard library's parser.
_IMF_FIXDATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT"
)
_MONTHS = {
    "Jan": 1,
    "Feb": 2,
    "Mar": 3,
    "Apr": 4,
    "May": 5,
    "Jun": 6,
    "Jul": 7,
    "Aug": 8,
    "Sep": 9,
    "Oct": 10,
    "Nov": 11,
    "Dec": 12,
}


def parse_http_date(value: str) -> dt.datetime | None:
    """An RFC 7231 date, which is always in GMT; None for anything else."""
    if not value.endswith(" GMT") or len(value) > 64:
        return None
    if fixdate := _IMF_FIXDATE.fullmatch(value):
        day, month, year, hour, minute, second = fixdate.groups()
        try:
            return dt.datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=dt.UTC)
        except ValueError:  # no such day or time: "31 Feb", "24:00:00"
            return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None or parsed.tzinfo is None:
        return None
    return parsed


def verify_signature(
    api_key: str, message: str, signature: str, *, versions: Any = snapshots.READ_NOW
) -> CredentialRecord:
    """The live credential behind `api_key` if `signature` is its HMAC of `message`."""
    well_formed = len(api_key) <= MAX_API_KEY_LENGTH and api_key.isascii() and api_key.isprintable()
    credential = client_credential(api_key, versions=versions) if well_formed else None
    if credential is None or credential.revoked:
        raise Refusal("invalid_api_key", "Unknown or revoked API key.", status=401)
    # Constant-time: the comparison must not tell an attacker how much of a guess is right.
    if not hmac.compare_digest(hmac_signature(credential.shared_key, message).encode(), signature.encode()):
        raise Refusal("signature_mismatch", "The signature does not match.", status=401)
    _stamp_use(credential)  # only once it is known to be its holder's request
    return credential


@dataclass(frozen=True)
class CredentialRecord:
    """What request verification needs of a client credential, kept in worker memory
    (see `licensing.snapshots`)."""

    id: str
    name: str
    shared_key: str
    revoked: bool

    @property
    def pk(self) -> str:
        return self.id


# How stale a credential's `last_used_at` may get: each worker stamps a credential it
# uses at most this often. (Stamping on every read would make every worker queue on
# that one row's lock whenever the snapshots turn over.)
CREDENTIAL_STAMP_SECONDS = 60
_last_stamped: dict[str, float] = {}


def client_credential(api_key: str, *, versions: Any = snapshots.READ_NOW) -> CredentialRecord | None:
    """The credential behind an API key: from worker memory while its row is unchanged
    (a revoke or rotation bumps its version, so it takes effect at the next request),
    otherwise one query. `versions`: what this request already read, if anything."""
    known_keys = snapshots.credentials.keys_for(api_key)
    versions = versions or snapshots.Versions.read(list(known_keys))
    record = snapshots.credentials.get(api_key, versions)
    if record is None:
        before = versions.of(known_keys) if known_keys else None  # read before the row
        record = _load_credential(api_key)
        if record is not None:
            keys = (snapshots.version_key("licensing.clientcredential", record.id),)
            snapshots.credentials.put(api_key, keys, before if keys == known_keys else None, record)
    return record


def _stamp_use(credential: CredentialRecord) -> None:
    """Record that a credential signed a request, at most once a minute per worker."""
    if time.monotonic() - _last_stamped.get(credential.id, 0.0) <= CREDENTIAL_STAMP_SECONDS:
        return
    _last_stamped[credential.id] = time.monotonic()
    # A plain UPDATE, not an audited change: the snapshot of the row stays valid.
    ClientCredential.objects.filter(pk=credential.id).update(last_used_at=timezone.now())


def _load_credential(api_key: str) -> CredentialRecord | None:
    table = ClientCredential._meta.db_table
    columns = "id, name, shared_key_encrypted, revoked_at"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {table} WHERE api_key = %s", [api_key])  # noqa: S608
        row = cursor.fetchone()
    if row is None:
        return None
    return CredentialRecord(
        # SQLite hands back the UUID as 32 hex digits; normalise to the usual form.
        id=str(uuid.UUID(str(row[0]))),
        name=row[1],
        shared_key=secretbox.decrypt(row[2]),
        revoked=row[3] is not None,
    )
