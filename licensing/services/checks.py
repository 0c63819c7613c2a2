"""Client check-ins: the license a device holds, if every link of its chain allows it,
answered from worker memory while nothing it was built from changed."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from .. import snapshots
from ..errors import refusal_for
from ..models import License
from ..selectors import license_for_device, normalize_code
from .activation import lease_until
from .checkins import check_ins


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
