"""Client activations: activate a device, give the seat back.

Seats are guarded by a lock on the entitlement row: every activation of an entitlement
takes it before reading its seat count (licensing/services/seats.py), so concurrent
activations queue and none can see a seat that another is about to take.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.db import connections, models, router, transaction
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery
from django.utils import timezone

from .. import accounts, audit, limits, rules
from ..actors import Actor
from ..audit import field_values
from ..compiled import CompiledQuery
from ..errors import Refusal, TryLater, refusal_for
from ..models import ActivationCode, Device, Entitlement, License, LicenseUser, Product
from ..selectors import (
    license_for_device,
    license_user_for_client,
    normalize_code,
    product_for_client,
)
from . import floating, seats
from .recording import record_change
from .switches import LICENSE_DEACTIVATE, switch

DEVICE_FACTS = ("hostname", "os_ver", "is_vm", "vm_info", "mac_address", "ip", "app_ver", "sdk_ver")
LICENSE_STATE = ("status", "activation_code", "license_user", "lease_expires_at")


@dataclasses.dataclass(frozen=True)
class Signed:
    """When the client signed a request (its `Date`, or an offline request's `date`), and
    whether the request must be newer than the last one that changed the license.

    Offline requests are `ordered`: their `request` field is outside their signature, so
    a captured activation file could be turned into a deactivation, or an old one sent
    again under a fresh `request_id`. A device makes its requests one after another, so
    each must be dated after the last that activated or deactivated its license."""

    at: dt.datetime | None = None
    ordered: bool = False

    def check_after(self, license: License | None) -> None:
        last = license.client_signed_at if license is not None else None
        if self.ordered and last is not None and (self.at is None or self.at <= last):
            raise Refusal(
                "date_header_diff",
                "This request is not newer than the last one that changed this device's license; make a new one.",
            )


UNSIGNED = Signed()


def license_activate(
    *,
    product_code: str,
    hardware_id: str,
    license_key: str | None = None,
    username: str | None = None,
    password: str | None = None,
    facts: dict[str, Any] | None = None,
    actor: Actor,
    signed: Signed = UNSIGNED,
) -> License:
    """Activate a device on the entitlement a key or a license user grants, taking a
    seat; activating an already active device again returns its license unchanged.

    The license comes back with everything a client answer shows (the chain its rules
    read, its device, the seat counts), as read and changed under the locks of the
    activation: nothing is read again for the answer. By key, one transaction from the
    first read on. By user, the password is checked first, in no transaction (hashing
    takes a while, and SQLite's transactions here lock the whole database), and the
    activation is then one transaction."""
    target = None
    try:
        if license_key is None and username is not None:
            product = target = product_for_client(product_code)
            if product.authorization_method == Product.AuthorizationMethod.USER:
                if not password:
                    raise Refusal("missing_parameters", "username and password are required for this product.")
                _count_password_attempt(username)
                user = target = _license_user(product, username, password)
                if not accounts.password_matches(user, password):
                    raise Refusal("invalid_credentials", "Wrong username or password.")
                limits.PASSWORD_GUESSES.reset(username)
                with transaction.atomic():
                    entitlement = _locked_entitlement(_user_entitlement(user, product).pk)
                    return _activate(entitlement, hardware_id, None, user, facts or {}, actor, signed)
        with transaction.atomic():
            # By key: the code and its entitlement found and locked in one query.
            code = _locked_code(product_code, license_key) if license_key else None
            product = target = code.entitlement.product if code is not None else product_for_client(product_code)
            if product.authorization_method == Product.AuthorizationMethod.USER:
                raise Refusal("missing_parameters", "username and password are required for this product.")
            if not license_key:
                raise Refusal("missing_parameters", "license_key is required for this product.")
            if code is None:
                raise Refusal("license_not_found", "No such license key for this product.")
            target = code
            return _activate(code.entitlement, hardware_id, code, None, facts or {}, actor, signed)
    except Refusal as refusal:
        _record_refusal(actor, "license.activation_refused", refusal, target, hardware_id)
        raise


# Rows are locked FOR NO KEY UPDATE, as Django's own UPDATEs of them lock them: that
# still queues every activation, switch and edit of the row, but not the foreign-key
# checks of rows that point at it (a license inserted for a user being edited).
# Lock order: every transaction that moves a seat takes the entitlement first. An
# activation by key locks it and its code in one statement (PostgreSQL locks in the order
# its FOR UPDATE OF names them), then the device's license, then any other code the seat
# leaves; a release locks the entitlement with the license (switches.switch), then
# updates the license's code. Code switches and edits lock the code alone and wait on
# nothing after it, and a user's edit locks its entitlements in id order, so no two of
# these wait on each other in a circle.


def _locked_code(product_code: str, license_key: str) -> ActivationCode | None:
    """The code for this key of a product activated by key, locked after its entitlement
    (the seats' lock), with everything the rules read above them; None if there is no
    such code."""
    found = _codes_by_key(product=product_code, key=normalize_code(license_key))
    return found[0] if found else None


_CODE_RELATIONS = ("entitlement", "entitlement__customer", "entitlement__transaction", "entitlement__product")
# Compiled once (licensing/compiled.py): every activation by key runs it.
_codes_by_key = CompiledQuery(
    ActivationCode,
    _CODE_RELATIONS,
    (),
    lambda product, key: (
        ActivationCode.objects.select_related(*_CODE_RELATIONS)
        .filter(
            code=key,
            entitlement__product__code=product,
            entitlement__product__authorization_method=Product.AuthorizationMethod.LICENSE_KEY,
        )
        .order_by()
    ),
    lock=("entitlement", ""),
)


def _locked_entitlement(entitlement_id) -> Entitlement:
    return (
        Entitlement.objects.select_for_update(of=("self",), no_key=True)
        .select_related("customer", "transaction", "product")
        .get(pk=entitlement_id)
    )


def _license_user(product: Product, username: str, password: str) -> LicenseUser:
    try:
        return license_user_for_client(product, username)
    except Refusal:
        accounts.password_matches(None, password)  # an unknown user costs what a wrong password does
        raise


def _count_password_attempt(username: str) -> None:
    """Every attempt counts toward the user's lockout, shared with the portal's sign-in,
    before any password is checked."""
    wait = limits.PASSWORD_GUESSES.take(username)
    if wait:
        raise TryLater(
            "too_many_attempts",
            f"Too many attempts with this user's password; try again in {wait} seconds.",
            retry_after=wait,
        )


def _user_entitlement(user: LicenseUser, product: Product) -> Entitlement:
    entitlements = list(user.entitlements.filter(product=product).select_related("customer", "transaction"))
    if not entitlements:  # the link was removed since the user was found
        raise Refusal("license_not_found", "No such license user for this product.")
    return next((e for e in entitlements if e.verdict().is_active), entitlements[0])


def _activate(
    entitlement: Entitlement,
    hardware_id: str,
    code: ActivationCode | None,
    user: LicenseUser | None,
    facts: dict,
    actor: Actor,
    signed: Signed,
) -> License:
    """The activation itself, with the entitlement (and the code, if any) locked by the
    caller: seat counts are read and moved under the entitlement's lock, which every
    activation of it takes first, and a revoke of the code (which locks only the code)
    lands either before this read or after this change."""
    now = timezone.now()
    if user is not None and not user.entitlements.filter(pk=entitlement.pk).exists():
        # Removed from the entitlement since it was looked up; the removal locks the
        # entitlement too, so one of the two waits for the other (license_user_update).
        raise Refusal("license_not_found", "No such license user for this product.")
    chain = entitlement.chain(code_status=code.status if code else None)
    verdict = rules.evaluate(chain, now)
    if not verdict.is_active:
        raise refusal_for(verdict)

    device, new = _device(entitlement.customer_id, hardware_id, facts)
    # Locked last (entitlement, code, license): a revoke of this license, which locks
    # only its row, either lands before this read or waits for this change. A device
    # recorded just now, in this transaction, has no license to read.
    license = None
    if not new:
        license = License.objects.select_for_update().filter(entitlement=entitlement, device=device).first()
    if license is not None:  # what an answer shows, as locked here
        license.entitlement, license.device = entitlement, device
    signed.check_after(license)
    if license is not None and license.status not in (License.Status.ACTIVE, License.Status.DEACTIVATED):
        raise refusal_for(rules.evaluate(dataclasses.replace(chain, license_status=license.status), now))
    if license is not None and license.status == License.Status.ACTIVE:
        if (license.activation_code_id, license.license_user_id) == (_pk(code), _pk(user)):
            license.activation_code, license.license_user = code, user
            _renew(license, entitlement, now, signed)  # same device, same grant: no new seat
            return _with_slot(license, entitlement, now, actor)
        _check_code_cap(code)  # re-pointed to another code or user: it keeps its seat
        seats.moved(license.activation_code_id, code)
    else:
        _check_entitlement_seats(entitlement)
        _check_code_cap(code)
        seats.taken(entitlement, code)

    before = field_values(license, LICENSE_STATE) if license else {}
    license = license or License(entitlement=entitlement, device=device)
    license.activation_code, license.license_user = code, user
    license.status, license.status_reason, license.status_changed_at = License.Status.ACTIVE, "", now
    license.activated_at, license.deactivated_at = now, None
    license.lease_expires_at = lease_until(entitlement, now)
    license.last_check_in_at = now
    license.client_signed_at = signed.at
    license.save()
    record_change(
        actor=actor,
        action="license.activated",
        target=license,
        before=before,
        after=field_values(license, LICENSE_STATE),
    )
    return _with_slot(license, entitlement, now, actor)


def _with_slot(license: License, entitlement: Entitlement, now: dt.datetime, actor: Actor) -> License:
    """A floating license runs only with a slot: taken with the activation, under its
    lock; with none free, the activation is refused and rolls back."""
    if entitlement.is_floating:
        license.slot = floating.slot_take(license, now=now, actor=actor, locked=entitlement)
        # It may run only while it holds the slot: that is its lease.
        license.lease_expires_at = entitlement.within_validity(license.slot.until)
        License.objects.filter(pk=license.pk).update(lease_expires_at=license.lease_expires_at)
    return license


def _pk(obj) -> Any:
    return obj.pk if obj is not None else None


def _device(customer_id, hardware_id: str, facts: dict[str, Any]) -> tuple[Device, bool]:
    """The customer's own record of this machine, and whether it was recorded just now:
    another customer activating the same hardware id has its own, so no customer's
    activations change what another sees."""
    known = _known(facts)
    found = _devices(customer=customer_id, hardware_id=hardware_id)
    if not found:
        device = Device(customer_id=customer_id, hardware_id=hardware_id, **known)
        if _inserted(device):
            return device, True
        # Another activation recorded it since the read above.
        found = _devices(customer=customer_id, hardware_id=hardware_id)
    [device] = found
    changed = {k: v for k, v in known.items() if getattr(device, k) != v}
    if changed:
        for name, value in changed.items():
            setattr(device, name, value)
        device.save(update_fields=[*changed, "updated_at"])
    return device, False


# A customer's record of a machine, compiled once (licensing/compiled.py).
_devices = CompiledQuery(
    Device,
    (),
    (),
    lambda customer, hardware_id: Device.objects.filter(customer_id=customer, hardware_id=hardware_id).order_by(),
    ids={"customer": Device._meta.get_field("customer")},
)


def _inserted(row: models.Model) -> bool:
    """Insert a new row unless one with the same unique values is there (INSERT ... ON
    CONFLICT DO NOTHING, which PostgreSQL and SQLite both run): whether it went in. One
    statement, where get_or_create needs a savepoint around its insert to survive the
    same race."""
    model = type(row)
    using = router.db_for_write(model)
    query = InsertQuery(model, on_conflict=OnConflict.IGNORE)
    query.insert_values(model._meta.concrete_fields, [row])
    [(sql, params)] = query.get_compiler(using=using).as_sql()
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        inserted = cursor.rowcount == 1
    if inserted:
        row._state.adding, row._state.db = False, using
    return inserted


def _known(facts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in facts.items() if k in DEVICE_FACTS and v is not None}


# Both seat checks read counts locked with the entitlement, which every activation of
# this entitlement (and so of each of its codes) takes first.


def _check_entitlement_seats(entitlement: Entitlement) -> None:
    if entitlement.is_floating:  # its seats are running devices; registered ones have their own cap
        cap = entitlement.max_activations
        if cap is not None and entitlement.seats_used >= cap:
            raise Refusal(
                "license_activated_max_times",
                f"{cap} devices are registered, the most this license allows; deactivate one to free it.",
            )
        return
    if entitlement.seats_used >= entitlement.seats:
        raise Refusal(
            "license_activated_max_times",
            f"All {entitlement.seats} seats are taken; deactivate a device to free one.",
        )


def _check_code_cap(code: ActivationCode | None) -> None:
    cap = code.max_activations if code is not None else None
    if cap is not None and code.seats_used >= cap:
        raise Refusal(
            "license_activated_max_times",
            f"This key may be active on {cap} device(s) at most; deactivate one to free it.",
        )


def _renew(license: License, entitlement: Entitlement, now: dt.datetime, signed: Signed) -> License:
    license.lease_expires_at = lease_until(entitlement, now)
    license.last_check_in_at = now
    license.client_signed_at = signed.at or license.client_signed_at
    license.save(update_fields=["lease_expires_at", "last_check_in_at", "client_signed_at", "updated_at"])
    return license


def lease_until(entitlement: Entitlement, now: dt.datetime) -> dt.datetime:
    """Until when a check-in at `now` keeps the license valid: one lease period, but
    never past the end of the entitlement."""
    return entitlement.within_validity(now + entitlement.lease_period)


def license_release(
    *,
    product_code: str,
    hardware_id: str,
    license_key: str | None = None,
    username: str | None = None,
    license_id: str | None = None,
    actor: Actor,
    signed: Signed = UNSIGNED,
) -> License:
    """A client gives its seat back. Allowed whatever happened above the license (a
    disabled customer may still free a device); refused for a suspended or revoked one."""
    license = None
    try:
        with transaction.atomic():  # one transaction, from the first read
            license = license_for_device(
                product_code=product_code,
                hardware_id=hardware_id,
                license_key=license_key,
                username=username,
                license_id=license_id,
            )

            def releasable(locked: License) -> None:
                # Read under the lock: of two requests releasing the same device at once, the
                # second finds it deactivated and is told so (device_not_found), as any later
                # request would be.
                if locked.status != License.Status.ACTIVE:
                    own = rules.Chain(license_status=locked.status)  # only the license's own switch matters here
                    raise refusal_for(rules.evaluate(own, timezone.now()))
                signed.check_after(locked)

            return switch(
                license,
                LICENSE_DEACTIVATE,
                actor=actor,
                reason="",
                guard=releasable,
                also={"client_signed_at": signed.at},
                savepoint=False,  # a refusal ends this transaction anyway
            )
    except Refusal as refusal:
        _record_refusal(actor, "license.deactivation_refused", refusal, license, hardware_id)
        raise


# Refusals of one kind (who, from where, what, on which row) are recorded once a minute,
# with how many came since: a flood of guessed keys is one row a minute, not one a guess.
REFUSAL_SAMPLE_SECONDS = 60


def _record_refusal(actor: Actor, action: str, refusal: Refusal, target, hardware_id: str) -> None:
    target_key = f"{target._meta.label_lower}:{target.pk}" if target is not None else ""
    with transaction.atomic():
        # Audited only: a refusal changed nothing a check answers, and retiring every
        # worker's snapshots for it would let anyone with a client key keep them cold.
        audit.append_sampled(
            kind=f"{action}|{refusal.code}|{actor.type}:{actor.id}|{actor.ip}|{target_key}",
            window=REFUSAL_SAMPLE_SECONDS,
            actor=actor,
            action=action,
            target=target,
            reason=refusal.code,
            after={"code": refusal.code, "reason": refusal.reason, "hardware_id": hardware_id[:255]},
        )
