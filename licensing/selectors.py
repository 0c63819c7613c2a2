"""Reads shared by the client API, the management API, the admin and the portal."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from . import secretbox, snapshots
from .errors import Refusal
from .models import ActivationCode, ClientCredential, License, LicenseUser, Product
from .querysets import seats_held


def normalize_code(text: str) -> str:
    """An activation code as stored, from what a person typed: case, spaces and dashes
    do not matter, and Crockford's look-alikes (I, L → 1; O → 0) are read as meant."""
    if any(not (ch.isascii() and (ch.isalnum() or ch in " -")) for ch in text):
        return text  # not a code anyone typed; let it match nothing
    cleaned = "".join(ch for ch in text.upper() if ch.isalnum())
    cleaned = cleaned.translate(str.maketrans({"I": "1", "L": "1", "O": "0"}))
    if len(cleaned) != 16:
        return text.strip().upper()
    return "-".join(cleaned[i : i + 4] for i in range(0, 16, 4))


def client_licenses() -> QuerySet[License]:
    """Licenses with everything a client answer needs, in one query: the chain for the
    access rules, and the seat counts for `times_activated`."""
    return License.objects.select_related(
        "device",
        "entitlement__customer",
        "entitlement__transaction",
        "entitlement__product",
        "activation_code",
        "license_user",
    ).annotate(
        seats_used=seats_held("entitlement", "entitlement_id"),
        code_activations=seats_held("activation_code", "activation_code_id"),
    )


def license_for_device(
    *, product_code: str, hardware_id: str, license_key: str | None = None, username: str | None = None
) -> License:
    """The license a device holds for a product through a key or a user.

    One query when found. When nothing matches, a few more tell the client precisely why
    (unknown product, unknown key, or no license on this device), off the hot path.
    """
    match = Q(entitlement__product__code=product_code, device__hardware_id=hardware_id)
    if license_key is not None:
        match &= Q(activation_code__code=normalize_code(license_key))
    else:
        match &= Q(license_user__username__iexact=username)
    # Several entitlements of one product may cover a device; prefer one that works.
    candidates = list(client_licenses().filter(match).order_by("-activated_at")[:10])
    for license in candidates:
        if license.verdict().is_active:
            return license
    if candidates:
        return candidates[0]
    product = product_for_client(product_code)
    if license_key is not None:
        activation_code_for_client(product, license_key)
    else:
        license_user_for_client(product, username or "")
    raise Refusal("device_not_found", "No license for this device; activate it first.")


def product_for_client(code: str) -> Product:
    product = Product.objects.filter(code=code).first()
    if product is None:
        raise Refusal("unknown_product", f"No product with code “{code}”.")
    return product


def activation_code_for_client(product: Product, license_key: str) -> ActivationCode:
    code = (
        ActivationCode.objects.select_related("entitlement__customer", "entitlement__transaction")
        .filter(code=normalize_code(license_key), entitlement__product=product)
        .first()
    )
    if code is None:
        raise Refusal("license_not_found", "No such license key for this product.")
    return code


def license_user_for_client(product: Product, username: str) -> LicenseUser:
    user = LicenseUser.objects.filter(username__iexact=username, entitlements__product=product).distinct().first()
    if user is None:
        raise Refusal("license_not_found", "No such license user for this product.")
    return user


@dataclass(frozen=True)
class CredentialRecord:
    """What request verification needs of a client credential, kept in worker memory
    (see `licensing.snapshots`)."""

    id: str
    name: str
    shared_key: str
    revoked: bool
    loaded_at: float

    @property
    def pk(self) -> str:
        return self.id


# How stale a credential's `last_used_at` may get: a worker re-reads (and re-stamps) a
# credential it has in memory at most this often.
CREDENTIAL_REFRESH_SECONDS = 60


def client_credential(api_key: str, *, generation: Any = snapshots.READ_NOW) -> CredentialRecord | None:
    """The credential behind an API key: from worker memory while nothing changed
    (a revoke or rotation bumps the generation, so it takes effect at the next
    request), otherwise one query that reads the row and stamps its last use.
    `generation`: the one this request already read, if any."""
    generation = snapshots.generation_or_read(generation)
    record = snapshots.credentials.get(api_key, generation)
    if record is None or time.monotonic() - record.loaded_at > CREDENTIAL_REFRESH_SECONDS:
        record = _touch_credential(api_key)
        if record is not None:
            snapshots.credentials.put(api_key, generation, record)
    return record


def _touch_credential(api_key: str) -> CredentialRecord | None:
    table = ClientCredential._meta.db_table
    # UPDATE ... RETURNING (PostgreSQL, and SQLite since 3.35): read and stamp in one round trip.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_used_at = %s WHERE api_key = %s "  # noqa: S608 - table name from model meta
            "RETURNING id, name, shared_key_encrypted, revoked_at",
            [timezone.now(), api_key],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return CredentialRecord(
        # SQLite hands back the UUID as 32 hex digits; normalise to the usual form.
        id=str(uuid.UUID(str(row[0]))),
        name=row[1],
        shared_key=secretbox.decrypt(row[2]),
        revoked=row[3] is not None,
        loaded_at=time.monotonic(),
    )
