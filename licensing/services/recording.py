"""What every change leaves behind, written in the transaction of the change itself, so
that the change and its records commit or roll back together."""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from django.db import models

from .. import audit, outbox, snapshots
from ..actors import Actor
from ..compiled import CompiledQuery
from ..models import AuditEvent, License

M = TypeVar("M", bound=models.Model)


def lock_row(model: type[M], pk: Any, *, first: tuple[str, ...] = ()) -> M:
    """The row, locked for the rest of the transaction, with the relations its label
    reads (joined, not locked): what a change records, in one query. The relations named
    in `first` are locked too, and before it (PostgreSQL locks in the order FOR UPDATE OF
    names them): the order in which others lock them.

    FOR NO KEY UPDATE, the lock Django's UPDATE of the row takes anyway: it queues other
    changes of the row but not the foreign-key checks of rows pointing at it. (FOR
    UPDATE made editing a license user deadlock with that user's activations: the edit
    held the user and waited for the entitlement; the activation held the entitlement
    and its new license's check waited for the user.)"""
    found = _locking(model, first)(pk=pk)
    if not found:
        raise model.DoesNotExist(f"{model._meta.object_name} matching query does not exist.")
    return found[0]


@functools.cache
def _locking(model: type[M], first: tuple[str, ...]) -> CompiledQuery:
    """`lock_row`'s query for `model`, compiled once (licensing/compiled.py): Django would
    compile its joins again for every change, which costs a release more than the
    database takes to run it."""
    related = {*getattr(model, "label_relations", ()), *first}
    paths = tuple(
        sorted({"__".join(path.split("__")[: n + 1]) for path in related for n in range(path.count("__") + 1)})
    )
    return CompiledQuery(
        model,
        paths,
        (),
        lambda pk: model.objects.select_related(*related).filter(pk=pk).order_by(),
        lock=(*first, ""),
        ids={"pk": model._meta.pk},
    )


def record_change(
    *,
    actor: Actor,
    action: str,
    target: models.Model,
    reason: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    retires: bool = True,
) -> AuditEvent:
    """Record a change of `target`, in three steps:

    1. the audit event: who, when, why, before and after;
    2. retiring the client-check snapshots built from the row (licensing/snapshots.py),
       so every worker reads it afresh at its next check; a license's change also moves
       its entitlement's seat count;
    3. the webhook outbox row, for an `action` that vendors subscribe to.

    Records of acts that change nothing a client check reads (a refused activation, a
    test event) call `audit.append` alone; a change of something kept apart from what
    checks remember (a floating slot, services/floating.py) passes `retires=False`.
    """
    event = audit.append(actor=actor, action=action, target=target, reason=reason, before=before, after=after)
    if retires:
        seats = ("licensing.entitlement", target.entitlement_id) if isinstance(target, License) else None
        snapshots.bump(target, seats)
    outbox.emit(action, target)
    return event
