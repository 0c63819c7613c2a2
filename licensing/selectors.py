"""Reads shared by the client API, the management API, the admin and the portal."""

from __future__ import annotations

import functools

from django.db.models import Q, QuerySet

from .compiled import CompiledQuery
from .errors import Refusal
from .models import ActivationCode, License, LicenseUser, Product
from .querysets import seats_held


def normalize_code(text: str) -> str:
    """An activation code as stored, from what a person typed: case, spaces and dashes
    do not matter, and Crockford's look-alikes (I, L → 1; O → 0) are read as meant."""
    # Every check normalizes the key it sends, unvalidated yet: remember the answers for
    # inputs of a sane length only, so odd requests cannot fill memory.
    return _normalize_code(text) if len(text) <= 64 else _normalize_uncached(text)  # 64: the field's limit


@functools.lru_cache(maxsize=4096)
def _normalize_code(text: str) -> str:
    return _normalize_uncached(text)


def _normalize_uncached(text: str) -> str:
    if any(not (ch.isascii() and (ch.isalnum() or ch in " -")) for ch in text):
        return text  # not a code anyone typed; let it match nothing
    cleaned = "".join(ch for ch in text.upper() if ch.isalnum())
    cleaned = cleaned.translate(str.maketrans({"I": "1", "L": "1", "O": "0"}))
    if len(cleaned) != 16:
        return text.strip().upper()
    return "-".join(cleaned[i : i + 4] for i in range(0, 16, 4))


CLIENT_RELATIONS = (
    "device",
    "entitlement",
    "entitlement__customer",
    "entitlement__transaction",
    "entitlement__product",
    "activation_code",
    "license_user",
)
SEAT_COUNTS = ("seats_used", "code_activations")


def client_licenses() -> QuerySet[License]:
    """Licenses with everything a client answer needs, in one query: the chain for the
    access rules, and the seat counts for `times_activated`."""
    return License.objects.select_related(*CLIENT_RELATIONS).annotate(
        seats_used=seats_held("entitlement", "entitlement_id"),
        code_activations=seats_held("activation_code", "activation_code_id"),
    )


def client_identity(fields: dict) -> dict:
    """The service arguments that name a license, from a client's request fields: a
    license key wins over a username when both are sent."""
    return {
        "product_code": fields["product"],
        "hardware_id": fields["hardware_id"],
        "license_key": fields.get("license_key") or None,
        "username": fields.get("username") if not fields.get("license_key") else None,
    }


def license_for_device(
    *,
    product_code: str,
    hardware_id: str,
    license_key: str | None = None,
    username: str | None = None,
    license_id: str | None = None,
) -> License:
    """The license a device holds for a product through a key or a user.

    One query when found. When nothing matches, a few more tell the client precisely why
    (unknown product, unknown key, or no license on this device), off the hot path.
    """
    if license_id is not None:  # one of several licenses on this device
        key = normalize_code(license_key) if license_key is not None else None
        candidates = list(_device_licenses(product_code, hardware_id, key, username).filter(pk=license_id))
    elif license_key is not None:
        candidates = _licenses_by_key(product=product_code, hardware_id=hardware_id, key=normalize_code(license_key))
    else:
        candidates = _licenses_by_user(product=product_code, hardware_id=hardware_id, user=username or "")
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


def _device_licenses(product: str, hardware_id: str, key: str | None, user: str | None) -> QuerySet[License]:
    """The licenses of a device for a product through a key or a user, newest first."""
    match = Q(entitlement__product__code=product, device__hardware_id=hardware_id)
    queryset = client_licenses().order_by("-activated_at")
    if key is not None:
        queryset = queryset.filter(match, activation_code__code=key)
    else:  # usernames match whatever their case
        queryset = queryset.filter(match, license_user__username__iexact=user)
    return queryset


# What a check runs when worker memory misses, compiled once (licensing/compiled.py).
# Several entitlements of one product may cover a device: the ten latest are enough.
_licenses_by_key = CompiledQuery(
    License,
    CLIENT_RELATIONS,
    SEAT_COUNTS,
    lambda product, hardware_id, key: _device_licenses(product, hardware_id, key, None)[:10],
)
# iexact hands the database the value prepared (escaped for LIKE on SQLite): so must we.
_licenses_by_user = CompiledQuery(
    License,
    CLIENT_RELATIONS,
    SEAT_COUNTS,
    lambda product, hardware_id, user: _device_licenses(product, hardware_id, None, user)[:10],
    prepare={"user": lambda connection, value: connection.ops.prep_for_iexact_query(value)},
)


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
