"""Creating records and editing their plain fields (never their status)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from django.db import models, transaction

from ..audit import Actor, field_values, record_event
from ..errors import DomainError
from ..models import Entitlement

M = TypeVar("M", bound=models.Model)


def save_edits(*, instance: M, fields: Sequence[str], actor: Actor) -> M:
    """Create a record, or save edits to its plain fields (never its status: switches
    have their own services), with an audit event `<model>.created` / `<model>.updated`.

    Rules that depend on other rows are checked here, under the row's lock, because a
    form's validation runs before the lock and can be overtaken by a concurrent change.
    """
    creating = instance._state.adding
    with transaction.atomic():
        before = {}
        if not creating:
            current = type(instance).objects.select_for_update().get(pk=instance.pk)
            before = field_values(current, fields)
            if isinstance(instance, Entitlement):
                _check_seats_cover_licenses(instance)
        instance.save()
        record_event(
            actor=actor,
            action=f"{instance._meta.model_name}.{'created' if creating else 'updated'}",
            target=instance,
            before=before,
            after=field_values(instance, fields),
        )
    return instance


def _check_seats_cover_licenses(entitlement: Entitlement) -> None:
    in_use = entitlement.seats_in_use()
    if entitlement.seats < in_use:
        raise DomainError(
            f"{in_use} seats are in use; deactivate licenses before lowering seats to {entitlement.seats}.",
            code="seats_in_use",
        )
