"""What a client is told about its license: the license body of the client API and the
payload of a license file. Shared by the client API and the portal."""

from __future__ import annotations

import datetime as dt
from typing import Any

from . import metering, rules
from .models import License, Trial

# A client checks in this often, so that one missed check (a laptop waking, a blip in
# the network) still lands inside the lease.
REFRESH_SHARE_OF_LEASE = 2
MIN_REFRESH_SECONDS = 30
# A floating device checks in three times per slot timeout: two missed checks still keep
# its slot.
FLOATING_REFRESHES = 3
MIN_FLOATING_REFRESH_SECONDS = 10


def license_body(
    license: License, *, now: dt.datetime, nonce: str | None = None, verdict: rules.Verdict | None = None
) -> dict[str, Any]:
    """`verdict`: the license's at `now`, when the caller has just evaluated it."""
    entitlement = license.entitlement
    verdict = verdict or license.verdict(now)
    lease_seconds = int(entitlement.lease_period.total_seconds())
    body: dict[str, Any] = {
        "id": str(license.pk),
        "license_key": license.activation_code.code if license.activation_code_id else None,
        "user": license.license_user.username if license.license_user_id else None,
        "product_details": {
            "short_code": entitlement.product.code,
            "authorization_method": entitlement.product.authorization_method,
        },
        "customer": {"id": str(entitlement.customer_id), "name": entitlement.customer.name},
        "license_enabled": verdict.status not in _NOT_ENABLED,
        "license_active": verdict.is_active,
        "is_expired": verdict.status == rules.EffectiveStatus.EXPIRED,
        "status": verdict.status.value,
        "reason": verdict.reason.value if verdict.reason else None,
        "validity_period": entitlement.valid_until,
        # Past the end of validity, licenses work on through the grace period.
        "in_grace": entitlement.in_grace(now),
        "grace_until": entitlement.grace_until,
        "is_trial": entitlement.is_trial,
        "valid_from": entitlement.valid_from,
        "license_model": entitlement.license_model,
        "max_activations": entitlement.seats,
        "times_activated": entitlement.seats_used,
        "features": entitlement.features(now),
        "lease_expires_at": license.lease_expires_at,
        "refresh_interval": max(MIN_REFRESH_SECONDS, lease_seconds // REFRESH_SHARE_OF_LEASE),
        "offline_grace": int(entitlement.offline_grace.total_seconds()),
        "server_time": now,
        # The device this answer is about: a client checks it is its own.
        "hardware_id": license.device.hardware_id,
    }
    body.update(_features_and_consumption(entitlement, now))
    if entitlement.is_floating:
        body.update(_floating(license, entitlement, now))
    if license.activation_code_id and license.activation_code.max_activations is not None:
        body["key_max_activations"] = license.activation_code.max_activations
        body["key_times_activated"] = license.activation_code.seats_used
    if nonce is not None:
        body["nonce"] = nonce
    return body


def _features_and_consumption(entitlement, now: dt.datetime) -> dict[str, Any]:
    """Each granted feature in full (`product_features`), and a metered entitlement's
    terms and use: what a client needs to open modules and meter offline. The counters
    are read only for an entitlement that has meters (one query)."""
    used = metering.usage_now(entitlement, now)
    granted = entitlement.granted_features(now)
    terms: dict[str, Any] = {
        "product_features": [metering.feature_object(t, entitlement, now, used.get(t["code"])) for t in granted]
    }
    if meter := metering.entitlement_meter(entitlement):
        terms.update(metering.meter_fields(meter, used.get(None, 0), entitlement, now))
    return terms


def _floating(license: License, entitlement, now: dt.datetime) -> dict[str, Any]:
    """A floating license's terms, and the slot this answer holds (none when the answer
    took none: a portal's view, a refused check)."""
    slot = license.slot
    terms: dict[str, Any] = {
        # A floating device checks in well within its slot's timeout, and may run offline
        # only while its slot is held: its lease is the slot (or the borrow).
        "refresh_interval": max(MIN_FLOATING_REFRESH_SECONDS, entitlement.floating_timeout // FLOATING_REFRESHES),
    }
    if slot:
        terms["lease_expires_at"] = entitlement.within_validity(slot.until)
    return {
        **terms,
        # Registered devices: the entitlement's own cap on them, if any; `seats` run at once.
        "max_activations": entitlement.max_activations,
        "floating_seats": entitlement.seats,
        "floating_timeout": entitlement.floating_timeout,
        "floating_until": slot.until if slot else None,
        "floating_in_use_devices": slot.in_use if slot else None,
        "max_borrow_time": entitlement.max_borrow_time,
        "is_borrowed": slot.is_borrowed(now) if slot else False,
        "borrowed_until": slot.borrowed_until if slot and slot.is_borrowed(now) else None,
    }


def trial_body(
    trial: Trial, *, key: str, now: dt.datetime, hardware_id: str, nonce: str | None = None
) -> dict[str, Any]:
    """The answer to a trial key request from the machine `hardware_id`: the key and what
    the trial allows (the trial may be another machine's, found by the email address)."""
    entitlement = trial.entitlement
    body: dict[str, Any] = {
        "license_key": key,
        "is_trial": True,
        "product": trial.product.code,
        "valid_from": entitlement.valid_from,
        "valid_until": entitlement.valid_until,
        "is_expired": entitlement.verdict(now).status == rules.EffectiveStatus.EXPIRED,
        "max_activations": entitlement.seats,
        "features": entitlement.features(now),
        "server_time": now,
        "hardware_id": hardware_id,
    }
    if nonce is not None:
        body["nonce"] = nonce
    return body


_NOT_ENABLED = {rules.EffectiveStatus.DISABLED, rules.EffectiveStatus.SUSPENDED, rules.EffectiveStatus.REVOKED}


def license_file_payload(license: License, *, now: dt.datetime) -> dict[str, Any]:
    """The license body (which names its device) plus what an offline client needs:
    until when it may run without reaching the server."""
    entitlement = license.entitlement
    expires = entitlement.within_validity(now + entitlement.offline_grace)
    if entitlement.is_floating and license.slot is not None:
        # Offline, a floating license is a borrowed slot: it ends with it.
        expires = entitlement.within_validity(license.slot.until)
    return {**license_body(license, now=now), "issued_at": now, "expires_at": expires}
