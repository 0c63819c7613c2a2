"""Reads shared by the client API, the management API, the admin and the portal."""

from __future__ import annotations

import datetime as dt
import functools

from django.db.models import Q, QuerySet

from .compiled import CompiledQuery
from .errors import Refusal
from .models import ActivationCode, AuditEvent, Entitlement, FloatingSlot, License, LicenseUser, Product
from .models.base import PortalAccount, normalize_address
from .querysets import sees_whole_customer


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


def client_licenses() -> QuerySet[License]:
    """Licenses with everything a client answer needs, in one query: the chain for the
    access rules, and the seat counts (kept on the entitlement and the code) for
    `times_activated`."""
    return License.objects.select_related(*CLIENT_RELATIONS)


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
    """The license a device holds for a product through a key or a user, as a client
    answer shows it (`client_licenses`).

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
    else:  # usernames are stored normalized (any case matches), and matched exactly
        queryset = queryset.filter(match, license_user__username=normalize_address(user))
    return queryset


def _lookup(by: str) -> CompiledQuery:
    """What a check (or a release) runs when worker memory misses, by "key" or by
    "user", compiled once (licensing/compiled.py). Several entitlements of one product
    may cover a device: the ten latest are enough."""
    return CompiledQuery(
        License,
        CLIENT_RELATIONS,
        (),
        lambda product, hardware_id, **by_value: _device_licenses(
            product, hardware_id, by_value.get("key"), by_value.get("user")
        )[:10],
        prepare={"user": lambda connection, value: normalize_address(value)} if by == "user" else None,
    )


_licenses_by_key, _licenses_by_user = _lookup("key"), _lookup("user")


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
    user = (
        LicenseUser.objects.filter(username=normalize_address(username), entitlements__product=product)
        .distinct()
        .first()
    )
    if user is None:
        raise Refusal("license_not_found", "No such license user for this product.")
    return user


def floating_slots(*, now: dt.datetime | None = None) -> QuerySet[FloatingSlot]:
    """Slots held now, with their device and entitlement, the longest held first: who
    runs a floating entitlement at this moment (admin and management API)."""
    return (
        FloatingSlot.objects.live(now)
        .select_related("license__device", "entitlement__customer", "entitlement__product")
        .order_by("taken_at", "pk")
    )


def portal_floating_slots(account: PortalAccount, entitlement: Entitlement) -> QuerySet[FloatingSlot]:
    """The entitlement's slots held now that the account may see (its customer's, or a
    license user's own)."""
    return floating_slots().for_account(account).filter(entitlement=entitlement)


# The portal's reads. Each takes the signed-in account and sees only what the account
# may (the querysets' `for_account`); a view that takes an id from the URL looks it up in
# one of these, so another customer's id is simply not found. Each is one query, however
# many rows it returns.


def portal_entitlements(account: PortalAccount) -> QuerySet[Entitlement]:
    return (
        Entitlement.objects.for_account(account)
        .select_related("customer", "product", "transaction")
        .with_effective_status()
        .with_floating_use()
        .order_by("product__name", "valid_from", "pk")
    )


def portal_seat_holders(account: PortalAccount, entitlement: Entitlement) -> QuerySet[License]:
    """The licenses holding a seat of the entitlement (active or suspended), with their devices."""
    return (
        License.objects.for_account(account)
        .filter(entitlement=entitlement)
        .holding_seat()
        .select_related("device", "activation_code", "license_user")
        .with_effective_status()
        .order_by("-activated_at", "pk")
    )


def portal_licenses(account: PortalAccount) -> QuerySet[License]:
    return License.objects.for_account(account).select_related(
        "device", "entitlement__customer", "entitlement__product"
    )


def portal_activation_codes(account: PortalAccount, entitlement: Entitlement) -> QuerySet[ActivationCode]:
    return (
        ActivationCode.objects.for_account(account)
        .filter(entitlement=entitlement)
        .with_effective_status()
        .order_by("created_at", "pk")
    )


# The customer's own switches that explain an entitlement's state; its other changes
# (a renamed customer) are not the entitlement's history.
CUSTOMER_SWITCH_ACTIONS = ("customer.disabled", "customer.enabled")


def portal_history(account: PortalAccount, entitlement: Entitlement, limit: int = 20) -> QuerySet[AuditEvent]:
    """Recent changes an account may see about an entitlement: its own, its customer's and
    transaction's switches, and those of its codes and licenses within the account's view."""
    licenses = License.objects.for_account(account).filter(entitlement=entitlement).values("pk")
    codes = ActivationCode.objects.for_account(account).filter(entitlement=entitlement).values("pk")
    about = (
        Q(target_type="licensing.entitlement", target_id=entitlement.pk)
        | Q(target_type="licensing.customer", target_id=entitlement.customer_id, action__in=CUSTOMER_SWITCH_ACTIONS)
        | Q(target_type="licensing.license", target_id__in=licenses)
        | Q(target_type="licensing.activationcode", target_id__in=codes)
    )
    if entitlement.transaction_id:
        about |= Q(target_type="licensing.licensetransaction", target_id=entitlement.transaction_id)
    return AuditEvent.objects.filter(about).order_by("-occurred_at")[:limit]


def portal_names_own_license(account: PortalAccount, fields: dict[str, str]) -> bool:
    """Whether an offline request file (decoded fields) names a license key or license
    user within the account's view: a portal user may carry out only their own."""
    if fields.get("license_key"):
        return (
            ActivationCode.objects.for_account(account)
            .filter(code=normalize_code(fields["license_key"]), entitlement__product__code=fields["product"])
            .exists()
        )
    username = fields.get("username", "")
    if not sees_whole_customer(account):  # a license user: only their own
        return account.username == normalize_address(username)
    return LicenseUser.objects.filter(customer_id=account.customer_id, username=normalize_address(username)).exists()
