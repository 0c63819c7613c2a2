"""Offline activation and deactivation.

A machine without network access writes a request file: base64 of a JSON object signed
with the client's shared key. Someone carries it to a connected machine, which posts it
(client API) or uploads it (portal). Each `request_id` is carried out once: a repeat
gets the first outcome again, which the client API renders to the same bytes, and
changes nothing.

What the signature protects: it covers the date, the license key or username, the
hardware id and the API key, so a request cannot be made for another device or key,
nor re-dated, without the shared key. It does not cover `request`, `product`,
`request_id` or `password`. So:

* a `request_id` answers only the very request it first answered: a digest of every
  field (password included), keyed with a server secret, is kept with the answer;
* a device's requests must come in order: each must be dated after the last request
  that activated or deactivated its license (`activation.Signed`), so an activation
  file turned into a deactivation, or an old one sent again under a fresh request_id,
  is refused once the device has moved on;
* within its age limit (LICENSING_OFFLINE_REQUEST_MAX_AGE), a request file that was
  never used can be carried out by whoever holds it: treat request files like the
  license key they contain.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import secretbox, signing
from ..actors import Actor
from ..clientauth import MAX_CLOCK_SKEW, offline_message, parse_http_date, verify_signature
from ..errors import Refusal, TryLater
from ..license_body import license_file_payload
from ..models import OfflineRequest
from ..selectors import client_identity
from . import floating
from .activation import Signed, license_activate, license_release

MAX_REQUEST_BYTES = 64 * 1024
ACTIVATION, DEACTIVATION = "activation", "deactivation"
REQUIRED = ("request", "product", "hardware_id", "date", "request_id", "api_key", "signature")
OPTIONAL = ("license_key", "username", "password", "hostname", "os_ver", "app_ver", "sdk_ver")
# Each field's limit is that of the column it ends up in (or of what the scheme makes).
MAX_LENGTH = {
    "request": 20,
    "product": 50,
    "hardware_id": 255,
    "date": 64,
    "request_id": 128,
    "api_key": 64,
    "signature": 128,
    "license_key": 64,
    "username": 254,
    "password": 128,
    "hostname": 255,
    "os_ver": 255,
    "app_ver": 64,
    "sdk_ver": 64,
}


@dataclass(frozen=True)
class Outcome:
    """What an offline request came to: an activation's signed `license_file`, a freed
    seat (neither field), or what the licensing rules refused (`refusal`)."""

    license_file: str = ""
    refusal: Refusal | None = None

    @property
    def kind(self) -> str:
        if self.refusal is not None:
            return OfflineRequest.Outcome.REFUSED
        return OfflineRequest.Outcome.ACTIVATED if self.license_file else OfflineRequest.Outcome.DEACTIVATED


def decode_request(raw: bytes) -> dict[str, str]:
    """The fields of an offline request file, or a Refusal saying what is wrong with it."""
    return _fields(_decoded(raw))


def peek(raw: bytes) -> dict[str, Any]:
    """Whatever fields the file holds, unchecked, or none: to bind an answer to the
    device a request names, even when the request is refused."""
    try:
        return _decoded(raw)
    except Refusal:
        return {}


def _decoded(raw: bytes) -> dict[str, Any]:
    compact = b"".join(raw.split())
    if not compact:
        raise Refusal("missing_content", "The offline request is empty.")
    if len(compact) > MAX_REQUEST_BYTES:
        raise Refusal("invalid_base64", "The offline request is too large to be one.")
    try:
        decoded = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise Refusal("invalid_base64", "The offline request is not base64.") from None
    try:
        data = json.loads(decoded)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Refusal("invalid_json", "The offline request does not decode to JSON.") from None
    if not isinstance(data, dict):
        raise Refusal("invalid_json", "The offline request must decode to a JSON object.")
    return data


def _fields(data: dict[str, Any]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for name in REQUIRED + OPTIONAL:
        value = data.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or len(value) > MAX_LENGTH[name] or not is_clean_text(value):
            raise Refusal("invalid_parameters", f"{name} must be text of at most {MAX_LENGTH[name]} characters.")
        fields[name] = value
    missing = [name for name in REQUIRED if name not in fields]
    if missing:
        raise Refusal("missing_parameters", f"The offline request lacks {', '.join(missing)}.")
    if "license_key" not in fields and "username" not in fields:
        raise Refusal("missing_parameters", "The offline request needs a license_key or a username.")
    if fields["request"] not in (ACTIVATION, DEACTIVATION):
        raise Refusal("invalid_parameters", 'request must be "activation" or "deactivation".')
    return fields


def is_clean_text(value: str) -> bool:
    """Text a database column can hold: no NUL, no unpaired surrogate halves."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def answer(fields: dict[str, str], *, expected: str, ip: str | None, actor: Actor | None = None) -> Outcome:
    """Verify a decoded offline request and carry it out once. The change is recorded as
    `actor`'s (a portal user who uploaded the file), or else as the signing client's.
    A request that cannot be verified raises a Refusal and is not recorded."""
    if fields["request"] != expected:
        raise Refusal("invalid_parameters", f'This endpoint takes request "{expected}", not "{fields["request"]}".')
    message = offline_message(
        date=fields["date"],
        secret_name=fields.get("license_key") or fields["username"],
        hardware_id=fields["hardware_id"],
        api_key=fields["api_key"],
    )
    credential = verify_signature(fields["api_key"], message, fields["signature"])
    # The date after the signature: a tampered date is a tampered request.
    signed = Signed(at=_check_date(fields["date"]), ordered=True)
    actor = actor or Actor.client(credential, ip)

    fingerprint = _fingerprint(fields)
    try:
        with transaction.atomic():  # one transaction, from the first read
            earlier = OfflineRequest.objects.filter(request_id=fields["request_id"]).first()
            if earlier is not None:
                return _stored(earlier, credential.id, fingerprint)
            result = _carry_out(fields, actor, signed)
            OfflineRequest.objects.create(
                request_id=fields["request_id"],
                kind=expected,
                credential_id=credential.id,
                fingerprint=fingerprint,
                outcome=result.kind,
                license_file=result.license_file,
                refusal=result.refusal.body() if result.refusal else {},
            )
    except IntegrityError:
        # The same request_id raced in on another connection and won; its answer stands.
        return _stored(OfflineRequest.objects.get(request_id=fields["request_id"]), credential.id, fingerprint)
    return result


def _check_date(value: str) -> dt.datetime:
    # The signature covers the date, so a captured request cannot be re-dated; this
    # bounds how long one stays usable under fresh request ids.
    dated = parse_http_date(value)
    if dated is None:
        raise Refusal("date_header_diff", "The offline request's date is not an RFC 7231 date in GMT.")
    now = timezone.now()
    if dated > now + MAX_CLOCK_SKEW or now - dated > settings.LICENSING_OFFLINE_REQUEST_MAX_AGE:
        raise Refusal("date_header_diff", "The offline request is too old or dated in the future; make a new one.")
    return dated


def _fingerprint(fields: dict[str, str]) -> str:
    """A digest of every field, keyed with a server secret: the password is among them,
    and a digest anyone could compute would let a stored one be tested against guesses."""
    return secretbox.keyed_digest("offline-request", signing.canonical_json(fields))


def _carry_out(fields: dict[str, str], actor: Actor, signed: Signed) -> Outcome:
    identity = client_identity(fields)
    try:
        if fields["request"] == ACTIVATION:
            with transaction.atomic():  # a refused borrow takes the activation back with it
                license = license_activate(
                    **identity,
                    password=fields.get("password"),
                    facts={k: fields[k] for k in ("hostname", "os_ver", "app_ver", "sdk_ver") if k in fields},
                    actor=actor,
                    signed=signed,
                )
                now = timezone.now()
                if license.entitlement.is_floating:
                    # Offline, a floating license runs on a borrowed slot, for as long as
                    # the entitlement lets one be borrowed.
                    license.slot = floating.slot_borrow(license, until=None, now=now, actor=actor)
            return Outcome(license_file=signing.license_file(license_file_payload(license, now=now)))
        license_release(**identity, actor=actor, signed=signed)
        return Outcome()
    except TryLater:
        raise  # passes with time: not this request's final answer
    except Refusal as refusal:
        return Outcome(refusal=refusal)


def _stored(earlier: OfflineRequest, credential_id: str, fingerprint: str) -> Outcome:
    if str(earlier.credential_id) != str(credential_id) or earlier.fingerprint != fingerprint:
        raise Refusal("invalid_parameters", "This request_id was already used for another request.")
    if earlier.outcome == OfflineRequest.Outcome.REFUSED:
        return Outcome(refusal=Refusal.from_body(earlier.refusal))
    return Outcome(license_file=earlier.license_file)
