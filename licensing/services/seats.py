"""Seat counters: how many licenses hold a seat of each entitlement, and through each
activation code (`seats_used`), kept by every change that takes a seat or gives one back
rather than counted again, so that a 100,000-seat site license activates and answers as
fast as a five-seat one.

A license holds a seat while it is active or suspended (License.SEAT_HOLDING). The
counts move only under the entitlement's row lock, which an activation takes before it
reads them and a seat's release takes before it locks the license: so they are exact
for whoever holds that lock; services/activation.py says the lock order.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import connections, router
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from ..models import ActivationCode, Entitlement, License


def taken(entitlement: Entitlement, code: ActivationCode | None = None) -> None:
    """A license that held no seat now holds one (through `code`, if a code). The
    instances count it too: their rows are locked, so they now read what the rows hold,
    and an answer can show them without reading them again."""
    _add(Entitlement, entitlement.pk, 1)
    entitlement.seats_used += 1
    if code is not None:
        _add(ActivationCode, code.pk, 1)
        code.seats_used += 1


def given_back(license: License) -> None:
    """`license`, which held a seat, holds none any more."""
    _add(Entitlement, license.entitlement_id, -1)
    if license.activation_code_id is not None:
        _add(ActivationCode, license.activation_code_id, -1)


def moved(from_code_id: Any, to_code: ActivationCode | None) -> None:
    """A license kept its seat but now holds it through another code (or user: None);
    `to_code` counts it too, as in `taken`."""
    if from_code_id == (to_code.pk if to_code is not None else None):
        return
    if from_code_id is not None:
        _add(ActivationCode, from_code_id, -1)
    if to_code is not None:
        _add(ActivationCode, to_code.pk, 1)
        to_code.seats_used += 1


def recount() -> None:
    """Set every count from the licenses holding seats now: for licenses written around
    the services (a bulk load, a repair by hand). One UPDATE per table."""
    for model, by in ((Entitlement, "entitlement"), (ActivationCode, "activation_code")):
        held = (
            License.objects.holding_seat()
            .filter(**{by: OuterRef("pk")})
            .order_by()
            .values(by)
            .annotate(n=Count("pk"))
            .values("n")
        )
        model.objects.update(seats_used=Coalesce(Subquery(held), Value(0)))


def _add(model: type[Entitlement | ActivationCode], pk: Any, delta: int) -> None:
    # The statement of `model.objects.filter(pk=pk).update(seats_used=F("seats_used") +
    # delta)`, written once: every activation and release runs two, and compiling them
    # through the ORM cost more than PostgreSQL takes to run them.
    using = router.db_for_write(model)
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(_add_sql(model, using), [delta, model._meta.pk.get_db_prep_value(pk, connection)])


@functools.cache
def _add_sql(model: type[Entitlement | ActivationCode], using: str) -> str:
    quote = connections[using].ops.quote_name
    table, pk, used = quote(model._meta.db_table), quote(model._meta.pk.column), quote("seats_used")
    return f"UPDATE {table} SET {used} = {used} + %s WHERE {pk} = %s"  # noqa: S608 (names from the models)
