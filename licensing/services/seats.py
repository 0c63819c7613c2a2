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

from typing import Any

from django.db.models import Count, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from ..models import ActivationCode, Entitlement, License


def taken(entitlement_id: Any, code_id: Any = None) -> None:
    """A license that held no seat now holds one (through `code_id`, if a code)."""
    _add(Entitlement, entitlement_id, 1)
    if code_id is not None:
        _add(ActivationCode, code_id, 1)


def given_back(license: License) -> None:
    """`license`, which held a seat, holds none any more."""
    _add(Entitlement, license.entitlement_id, -1)
    if license.activation_code_id is not None:
        _add(ActivationCode, license.activation_code_id, -1)


def moved(from_code_id: Any, to_code_id: Any) -> None:
    """A license kept its seat but now holds it through another code (or user: None)."""
    if from_code_id == to_code_id:
        return
    if from_code_id is not None:
        _add(ActivationCode, from_code_id, -1)
    if to_code_id is not None:
        _add(ActivationCode, to_code_id, 1)


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
    model.objects.filter(pk=pk).update(seats_used=F("seats_used") + delta)
