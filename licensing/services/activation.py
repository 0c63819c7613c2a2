"""Client activations: activate a device, check in, give the seat back.

Seats are guarded by a lock on the entitlement row: every activation of an entitlement
takes it before counting seats, so concurrent activations queue and none can see a seat
that another is about to take.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from .. import audit, rules, snapshots
from ..actors import Actor
from ..audit import field_values
from ..errors import Refusal, refusal_for
from ..models import ActivationCode, Device, Entitlement, License, LicenseUser, Product
from ..selectors import (
    activation_code_for_client,
    license_for_device,
    license_user_for_client,
    normalize_code,
    product_for_client,
)
from .checkins import check_ins
from .recording import record_change
from .switches import license_deactivate

DEVICE_FACTS = ("hostname", "os_ver", "is_vm", "vm_info", "mac_address", "ip", "app_ver", "sdk_ver")
LICENSE_STATE = ("status", "activation_code", "license_user", "lease_expires_at")


def license_activate(
    *,
    product_code: str,
    hardware_id: str,
    license_key: str | None = None,
    username: str | None = None,
    password: str | None = None,
    facts: dict[str, Any] | None = None,
    actor: Actor,
) -> License:
    """Activate a device on the entitlement a key or a license user grants, taking a
    seat; activating an already active device again returns its license unchanged."""
    target = None
    try:
        product = product_for_client(product_code)
        target = product
        code, user = None, None
        if product.authorization_method == Product.AuthorizationMethod.LICENSE_KEY:
            if not license_key:
                raise Refusal("missing_parameters", "license_key is required for this product.")
            code = target = activation_code_for_client(product, license_key)
            entitlement_id = code.entitlement_id
        else:
            if not username or not password:
                raise Refusal("missing_parameters", "username and password are required for this product.")
            user = target = license_user_for_client(product, username)
            if not user.check_password(password):
                raise Refusal("invalid_credentials", "Wrong username or password.")
            entitlement_id = _user_entitlement(user, product).pk
        license = _activate(entitlement_id, hardware_id, code, user, facts or {}, actor)
    except Refusal as refusal:
        _record_refusal(actor, "license.activation_refused", refusal, target, hardware_id)
        raise
    return license


def _user_entitlement(user: LicenseUser, product: Product) -> Entitlement:
    entitlements = list(user.entitlements.filter(product=product).select_related("customer", "transaction"))
    if not entitlements:  # the link was removed since the user was found
        raise Refusal("license_not_found", "No such license user for this product.")
    return next((e for e in entitlements if e.verdict().is_active), entitlements[0])


def _activate(
    entitlement_id, hardware_id: str, code: ActivationCode | None, user: LicenseUser | None, facts: dict, actor: Actor
) -> License:
    now = timezone.now()
    with transaction.atomic():
        entitlement = (
            Entitlement.objects.select_for_update(of=("self",))
            .select_related("customer", "transaction", "product")
            .get(pk=entitlement_id)
        )
        if code is not None:
            # Locked too: a revoke of the code (which locks only the code) must not land
            # between this read and the new license. Entitlement first, then code: the
            # same order everywhere, and switches lock one row, so no deadlock.
            code = ActivationCode.objects.select_for_update().get(pk=code.pk)
        chain = entitlement.chain(code_status=code.status if code else None)
        verdict = rules.evaluate(chain, now)
        if not verdict.is_active:
            raise refusal_for(verdict)

        device = _device(hardware_id, facts)
        # Locked last (entitlement, code, license): a revoke of this license, which
        # locks only its row, either lands before this read or waits for this change.
        license = License.objects.select_for_update().filter(entitlement=entitlement, device=device).first()
        if license is not None and license.status not in (License.Status.ACTIVE, License.Status.DEACTIVATED):
            raise refusal_for(rules.evaluate(dataclasses.replace(chain, license_status=license.status), now))
        if license is not None and license.status == License.Status.ACTIVE:
            if (license.activation_code_id, license.license_user_id) == (_pk(code), _pk(user)):
                return _renew(license, entitlement, now)  # same device, same grant: no new seat
            _check_code_cap(code)  # re-pointed to another code or user: it keeps its seat
        else:
            _check_entitlement_seats(entitlement)
            _check_code_cap(code)

        before = field_values(license, LICENSE_STATE) if license else {}
        license = license or License(entitlement=entitlement, device=device)
        license.activation_code, license.license_user = code, user
        license.status, license.status_reason, license.status_changed_at = License.Status.ACTIVE, "", now
        license.activated_at, license.deactivated_at = now, None
        license.lease_expires_at = lease_until(entitlement, now)
        license.last_check_in_at = now
        license.save()
        record_change(
            actor=actor,
            action="license.activated",
            target=license,
            before=before,
            after=field_values(license, LICENSE_STATE),
        )
    return license


def _pk(obj) -> Any:
    return obj.pk if obj is not None else None


def _device(hardware_id: str, facts: dict[str, Any]) -> Device:
    # get_or_create retries the read if another activation inserted the device first.
    device, created = Device.objects.get_or_create(hardware_id=hardware_id, defaults=_known(facts))
    changed = {k: v for k, v in _known(facts).items() if getattr(device, k) != v}
    if changed and not created:
        for name, value in changed.items():
            setattr(device, name, value)
        device.save(update_fields=[*changed, "updated_at"])
    return device


def _known(facts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in facts.items() if k in DEVICE_FACTS and v is not None}


# Both seat checks run under the entitlement's lock, which every activation of this
# entitlement (and so of each of its codes) takes first.


def _check_entitlement_seats(entitlement: Entitlement) -> None:
    if entitlement.seats_in_use() >= entitlement.seats:
        raise Refusal(
            "license_activated_max_times",
            f"All {entitlement.seats} seats are taken; deactivate a device to free one.",
        )


def _check_code_cap(code: ActivationCode | None) -> None:
    cap = code.max_activations if code is not None else None
    if cap is not None and License.objects.holding_seat().filter(activation_code=code).count() >= cap:
        raise Refusal(
            "license_activated_max_times",
            f"This key may be active on {cap} device(s) at most; deactivate one to free it.",
        )


def _renew(license: License, entitlement: Entitlement, now: dt.datetime) -> License:
    license.lease_expires_at = lease_until(entitlement, now)
    license.last_check_in_at = now
    license.save(update_fields=["lease_expires_at", "last_check_in_at", "updated_at"])
    return license


def lease_until(entitlement: Entitlement, now: dt.datetime) -> dt.datetime:
    """Until when a check-in at `now` keeps the license valid: one lease period, but
    never past the end of the entitlement."""
    return entitlement.within_validity(now + entitlement.lease_period)


def license_check(
    *,
    product_code: str,
    hardware_id: str,
    license_key: str | None = None,
    username: str | None = None,
    versions: Any = snapshots.READ_NOW,
) -> License:
    """A client's check-in: the license if every link of its chain allows it, with its
    lease renewed.

    The chain comes from this worker's memory while none of its rows changed since it
    was read (`licensing.snapshots`), else from one query. The rules are evaluated on every
    check, at the current time. The renewal is buffered and written in bulk. Not
    audited: every device does this every refresh interval; the license keeps its last
    check-in time instead. `versions`: what this request already read, if anything.
    """
    identity = check_identity(product_code, hardware_id, license_key, username)
    known_keys = snapshots.licenses.keys_for(identity)
    versions = versions or snapshots.Versions.read(list(known_keys))
    license = snapshots.licenses.get(identity, versions)
    if license is None:
        before = versions.of(known_keys) if known_keys else None  # read before the rows
        license = license_for_device(
            product_code=product_code, hardware_id=hardware_id, license_key=license_key, username=username
        )
        keys = chain_keys(license)
        snapshots.licenses.put(identity, keys, before if keys == known_keys else None, license)
    now = timezone.now()
    verdict = license.verdict(now)
    if not verdict.is_active:
        raise refusal_for(verdict)
    lease = lease_until(license.entitlement, now)
    check_ins.record(license.pk, now, lease)
    # The snapshot is shared by concurrent requests: answer with a copy. A shallow one,
    # sharing the related rows it was read with (nothing here changes them); copy.copy
    # would take the slow road through pickling.
    answer = License.__new__(License)
    answer.__dict__ = {**license.__dict__, "lease_expires_at": lease, "last_check_in_at": now}
    return answer


def check_identity(product_code: str, hardware_id: str, license_key: str | None, username: str | None) -> tuple:
    """What names one remembered check: the same license however the key is typed."""
    key = normalize_code(license_key) if license_key else None
    return (product_code, key, (username or "").lower(), hardware_id)


def chain_keys(license: License) -> tuple[str, ...]:
    """The rows a check's answer is built from: a change to any of them retires it."""
    entitlement = license.entitlement
    rows = [
        ("licensing.customer", entitlement.customer_id),
        ("licensing.entitlement", entitlement.pk),
        ("licensing.licensetransaction", entitlement.transaction_id),
        ("licensing.product", entitlement.product_id),
        ("licensing.activationcode", license.activation_code_id),
        ("licensing.licenseuser", license.license_user_id),
        ("licensing.device", license.device_id),
        ("licensing.license", license.pk),
    ]
    return tuple(snapshots.version_key(label, pk) for label, pk in rows if pk is not None)


def license_release(
    *,
    product_code: str,
    hardware_id: str,
    license_key: str | None = None,
    username: str | None = None,
    license_id: str | None = None,
    actor: Actor,
) -> License:
    """A client gives its seat back. Allowed whatever happened above the license (a
    disabled customer may still free a device); refused for a suspended or revoked one."""
    license = None
    try:
        license = license_for_device(
            product_code=product_code,
            hardware_id=hardware_id,
            license_key=license_key,
            username=username,
            license_id=license_id,
        )
        if license.status != License.Status.ACTIVE:
            own = rules.Chain(license_status=license.status)  # only the license's own switch matters here
            raise refusal_for(rules.evaluate(own, timezone.now()))
        return license_deactivate(license=license, actor=actor)
    except Refusal as refusal:
        _record_refusal(actor, "license.deactivation_refused", refusal, license, hardware_id)
        raise


def _record_refusal(actor: Actor, action: str, refusal: Refusal, target, hardware_id: str) -> None:
    with transaction.atomic():
        # Audited only: a refusal changed nothing a check answers, and retiring every
        # worker's snapshots for it would let anyone with a client key keep them cold.
        audit.append(
            actor=actor,
            action=action,
            target=target,
            reason=refusal.code,
            after={"code": refusal.code, "reason": refusal.reason, "hardware_id": hardware_id[:255]},
        )
