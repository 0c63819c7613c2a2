"""Client check-ins: the license a device holds, if every link of its chain allows it,
answered from worker memory while nothing it was built from changed."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db.models.base import ModelState
from django.utils import timezone

from .. import snapshots
from ..actors import Actor
from ..compiled import CompiledQuery
from ..errors import refusal_for
from ..models import License
from ..selectors import CLIENT_RELATIONS, license_for_device, normalize_code
from . import floating
from .activation import lease_until
from .checkins import check_ins


def license_check(
    *,
    product_code: str,
    hardware_id: str,
    license_key: str | None = None,
    username: str | None = None,
    versions: Any = snapshots.READ_NOW,
    actor: Actor | None = None,
) -> License:
    """A client's check-in: the license if every link of its chain allows it, with its
    lease renewed.

    The chain comes from this worker's memory while none of its rows changed since it
    was read (`licensing.snapshots`). When some did, only those are read again, and a
    row many licenses share (their customer, entitlement, code) once for all of them
    (for a license found by its key); else the chain comes from one query. The rules
    are evaluated on every check, at the current time. The renewal is buffered and
    written in bulk. Not audited: every device does this every refresh interval; the
    license keeps its last check-in time instead. `versions`: what this request already
    read, if anything.

    A floating license also renews or takes its slot (services/floating.py), and a
    refused one gives its slot back. `actor`: who checks, for what that records.
    """
    identity = check_identity(product_code, hardware_id, license_key, username)
    known_keys = snapshots.licenses.keys_for(identity)
    versions = versions or snapshots.Versions.read(list(known_keys))
    license = snapshots.licenses.get(identity, versions) or _rebuilt(identity, versions)
    if license is None:
        before = versions.of(known_keys) if known_keys else None  # read before the rows
        license = license_for_device(
            product_code=product_code, hardware_id=hardware_id, license_key=license_key, username=username
        )
        keys = chain_keys(license)
        snapshots.licenses.put(identity, keys, before if keys == known_keys else None, license)
    now = timezone.now()
    verdict = license.verdict(now)
    floats = license.entitlement.is_floating
    actor = actor or Actor.system("client check")
    if not verdict.is_active:
        raise floating.refused(license, verdict, actor=actor) if floats else refusal_for(verdict)
    slot = floating.slot_check_in(license, now=now, actor=actor, versions=versions) if floats else None
    # A floating device may run only while it holds its slot: that is its lease.
    lease = license.entitlement.within_validity(slot.until) if slot else lease_until(license.entitlement, now)
    check_ins.record(license.pk, now, lease)
    # The snapshot is shared by concurrent requests: answer with a copy. A shallow one,
    # sharing the related rows it was read with (nothing here changes them); copy.copy
    # would take the slow road through pickling.
    answer = License.__new__(License)
    answer.__dict__ = {**license.__dict__, "lease_expires_at": lease, "last_check_in_at": now, "slot": slot}
    return answer


def check_identity(product_code: str, hardware_id: str, license_key: str | None, username: str | None) -> tuple:
    """What names one remembered check: the same license however the key is typed."""
    key = normalize_code(license_key) if license_key else None
    return (product_code, key, (username or "").lower(), hardware_id)


def _label(path: str) -> str:
    model = License
    for name in filter(None, path.split("__")):
        model = model._meta.get_field(name).related_model
    return model._meta.label_lower


# The rows a check's answer is built from: the license and the relations the client
# lookup reads with it (selectors.CLIENT_RELATIONS), parents before their children.
CHAIN = tuple((path, _label(path)) for path in sorted(("", *CLIENT_RELATIONS), key=lambda p: p.count("__") + bool(p)))
# Rows that may be read again alone: the device and the license itself name what the
# device holds, so a change to either reads the whole chain again.
SHARED = frozenset(path for path, _ in CHAIN) - {"device", ""}


def chain_keys(license: License) -> tuple[str, ...]:
    """The rows a check's answer is built from: a change to any of them retires it."""
    return tuple(snapshots.version_key(label, pk) for _, label, pk in _chain(license))


def _chain(license: License) -> list[tuple[str, str, Any]]:
    """(relation, model label, id) of each row of the chain, in the order of its keys."""
    rows = _rows(license)
    return [(path, label, rows[path].pk) for path, label in CHAIN if rows[path] is not None]


def _rows(license: License) -> dict[str, Any]:
    """Each row of the license's chain by its relation, as read with it (None where the
    relation is empty)."""
    rows: dict[str, Any] = {"": license}
    for path, _ in CHAIN[1:]:
        parent_path, _, name = path.rpartition("__")
        parent = rows[parent_path]
        rows[path] = None if parent is None else getattr(parent, name)
    return rows


def _rebuilt(identity: tuple, versions: snapshots.Versions) -> License | None:
    """The remembered license of `identity` with the shared rows that changed since read
    again, each from this worker's memory if another license already read it at its
    current version; None where the whole chain must be read.

    Only for a license found by its key: a key names one entitlement, and a device holds
    one license of an entitlement, so whatever changes above it, the same license is
    the one found. (A user may hold licenses of several entitlements on one device, and
    gain one without any row of this chain changing: which one answers is chosen from
    the database.) Also read whole when the license or the device changed, a row now
    points elsewhere, or what was looked up no longer matches.
    """
    outdated = snapshots.licenses.outdated(identity)
    if outdated is None or identity[1] is None:
        return None
    current = versions.of(outdated.keys)  # read before any row below
    if current is None:
        return None
    license = outdated.value
    chain = {
        path: (label, pk, key, was, now)
        for (path, label, pk), key, was, now in zip(
            _chain(license), outdated.keys, outdated.versions, current, strict=True
        )
    }
    changed = {path for path, (_, _, _, was, now) in chain.items() if was != now}
    if changed - SHARED:
        return None
    if "entitlement" in changed and "activation_code" in chain:
        # Every seat taken or given back bumps the entitlement, not the code whose count
        # moves with it (recording.record_change): read the code again too.
        changed.add("activation_code")
    fresh = {}
    for path in changed:
        label, pk, key, _, now = chain[path]
        keys, seen = (key,), (now,)
        if path == "activation_code":  # a code's row is as current as its entitlement's
            keys, seen = (key, chain["entitlement"][2]), (now, chain["entitlement"][4])
        row = snapshots.rows.get(keys, versions)
        if row is None:
            row = _row(label, pk)
            if row is None:
                return None
            snapshots.rows.put(keys, keys, seen, row)
        fresh[path] = row
    rebuilt = _with_rows(license, fresh)
    if rebuilt is None or not _matches(rebuilt, identity):
        return None
    # Under the versions read before the rows; read again no later than the rows kept.
    snapshots.licenses.put(identity, outdated.keys, current, rebuilt, expires=outdated.expires)
    return rebuilt


def _row(label: str, pk: Any) -> Any | None:
    """One row of a chain, read again after it changed: every worker reads each changed
    row once, so on a busy site this runs for every change times every worker. Its SQL
    is compiled once per model (licensing/compiled.py): compiling costs more than the
    primary-key lookup itself."""
    query = _row_queries.get(label)
    if query is None:
        model = apps.get_model(label)
        query = _row_queries.setdefault(
            label,
            CompiledQuery(model, (), (), lambda pk: model._base_manager.filter(pk=pk), ids={"pk": model._meta.pk}),
        )
    found = query(pk=pk)
    return found[0] if found else None


_row_queries: dict[str, CompiledQuery] = {}


def _with_rows(license: License, fresh: dict[str, Any]) -> License | None:
    """A copy of `license` with the `fresh` rows in place of the old ones, and copies of
    the rows above them (shared rows are never changed: other licenses hold them); None
    if a row it keeps is no longer the one its parent points at."""
    old = _rows(license)
    parents = {path.rpartition("__")[0] for path, _ in CHAIN if path}
    built: dict[str, Any] = {"": _copied(license)}
    for path, _ in CHAIN[1:]:
        parent_path, _, name = path.rpartition("__")
        parent = built[parent_path]
        row = fresh.get(path, old[path])
        if parent is None:
            built[path] = None
            continue
        if row is not None and path in parents:
            row = _copied(row)
        if not _attach(parent, name, row):
            return None
        built[path] = row
    return built[""]


def _copied(instance: Any) -> Any:
    """A shallow copy of a model instance with its own cache of related rows."""
    copy = type(instance).__new__(type(instance))
    copy.__dict__ = {**instance.__dict__}
    copy._state = ModelState()
    copy._state.db, copy._state.adding = instance._state.db, instance._state.adding
    copy._state.fields_cache = {**instance._state.fields_cache}
    return copy


def _attach(instance: Any, name: str, row: Any) -> bool:
    field = instance._meta.get_field(name)
    if getattr(instance, field.attname) != (row.pk if row is not None else None):
        return False
    field.set_cached_value(instance, row)
    return True


def _matches(license: License, identity: tuple) -> bool:
    """Whether the rebuilt chain is still what the lookup by key would find (a product's
    code may have changed)."""
    product_code, key, _, _ = identity
    code = license.activation_code
    return license.entitlement.product.code == product_code and code is not None and code.code == key
