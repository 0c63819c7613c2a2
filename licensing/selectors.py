"""Reads shared by the client API, the management API, the admin and the portal."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from . import rules
from .compiled import CompiledQuery
from .errors import Refusal
from .models import (
    ActivationCode,
    AuditEvent,
    Customer,
    Entitlement,
    FloatingSlot,
    License,
    LicenseUser,
    Product,
    Trial,
    WebhookDelivery,
)
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


def portal_history(
    account: PortalAccount, entitlement: Entitlement, limit: int = 20, leaving_out: Collection[str] = ()
) -> QuerySet[AuditEvent]:
    """Recent changes an account may see about an entitlement: its own, its customer's and
    transaction's switches, and those of its codes and licenses within the account's view;
    none of the actions `leaving_out` (refusals a retrying client repeats all day)."""
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
    return AuditEvent.objects.filter(about).exclude(action__in=leaving_out).order_by("-occurred_at")[:limit]


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


# The admin's dashboard: one figure per tile, each a single aggregate query (or two), so
# the page costs the same whatever the number of rows. Each counts the rows an admin list
# shows when filtered as the tile's link filters it (the same queryset methods, or the
# same field bounds), so a tile's link lists exactly the rows it counts.


@dataclass(frozen=True)
class SeatUse:
    """Seats in use against seats sold, over `entitlements` entitlements that work now."""

    in_use: int
    sold: int
    entitlements: int


@dataclass(frozen=True)
class FailedWebhooks:
    endpoints: int
    deliveries: int


@dataclass(frozen=True)
class TrialsSince:
    started: int
    converted: int


def disabled_customer_count() -> int:
    return Customer.objects.disabled().count()


def expiring_entitlement_count(window: dt.timedelta, *, now: dt.datetime) -> int:
    """Entitlements still valid that end within `window` (the first expiry notice's)."""
    return Entitlement.objects.ending_within(window, now).count()


def in_grace_entitlement_count(*, now: dt.datetime) -> int:
    return Entitlement.objects.in_grace(now).count()


def working_entitlements(license_model: str, *, now: dt.datetime) -> QuerySet[Entitlement]:
    """Entitlements of a license model whose licenses work now: effectively active (in
    grace included), so a disabled customer's or an expired entitlement's seats are not
    counted as sold."""
    return Entitlement.objects.effectively(rules.EffectiveStatus.ACTIVE, now=now).filter(license_model=license_model)


def node_locked_seat_use(*, now: dt.datetime) -> SeatUse:
    """Seats held by activated devices (`seats_used`, kept on each row) of the seats sold."""
    figures = working_entitlements(Entitlement.LicenseModel.NODE_LOCKED, now=now).aggregate(
        in_use=Coalesce(Sum("seats_used"), 0), sold=Coalesce(Sum("seats"), 0), entitlements=Count("pk")
    )
    return SeatUse(**figures)


def floating_seat_use(*, now: dt.datetime) -> SeatUse:
    """Devices holding a live slot now (the floating slots list) of the floating seats sold."""
    figures = working_entitlements(Entitlement.LicenseModel.FLOATING, now=now).aggregate(
        sold=Coalesce(Sum("seats"), 0), entitlements=Count("pk")
    )
    return SeatUse(in_use=FloatingSlot.objects.live(now).count(), **figures)


def failed_webhooks(*, since: dt.datetime) -> FailedWebhooks:
    """Deliveries that failed for good since `since` (out of tries, or given an answer not
    worth retrying), and the endpoints they were for. A delivery sent again with
    Redeliver is pending again, and no longer counted."""
    # Through the partial index of failed deliveries by completion: the failures alone.
    figures = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.FAILED, completed_at__gte=since).aggregate(
        endpoints=Count("endpoint", distinct=True), deliveries=Count("pk")
    )
    return FailedWebhooks(**figures)


def trials_since(since: dt.datetime) -> TrialsSince:
    """Trials handed out since `since`, and trials converted to paid since then (whenever
    they started): both counted in one pass over the trials either applies to."""
    started, converted = Q(created_at__gte=since), Q(converted_at__gte=since)
    figures = Trial.objects.filter(started | converted).aggregate(
        started=Count("pk", filter=started), converted=Count("pk", filter=converted)
    )
    return TrialsSince(**figures)


def latest_audit_events(limit: int = 10) -> QuerySet[AuditEvent]:
    """The newest changes, newest first, from the index on `occurred_at`."""
    return AuditEvent.objects.order_by("-occurred_at", "-pk")[:limit]
