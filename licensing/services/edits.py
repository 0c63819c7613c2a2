"""Creating records and editing their plain fields (never their status)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

from django.db import models, transaction

from ..audit import Actor, field_values, record_event
from ..errors import DomainError
from ..models import Entitlement

M = TypeVar("M", bound=models.Model)


def save_edits(
    *, instance: M, fields: Sequence[str], actor: Actor, links: Mapping[str, Iterable[models.Model]] | None = None
) -> M:
    """Create a record, or save edits to its plain fields (never its status: switches
    have their own services), with an audit event `<model>.created` / `<model>.updated`.
    `links`: many-to-many fields to set to these rows, recorded as lists of ids.

    Rules that depend on other rows are checked here, under the row's lock, because a
    form's validation runs before the lock and can be overtaken by a concurrent change.
    """
    creating = instance._state.adding
    with transaction.atomic():
        links = links or {}
        before = {}
        if not creating:
            current = type(instance).objects.select_for_update().get(pk=instance.pk)
            before = {**field_values(current, fields), **_link_ids(current, links)}
            if isinstance(instance, Entitlement):
                _check_seats_cover_licenses(instance)
        instance.save()
        for name, rows in links.items():
            getattr(instance, name).set(rows)
        record_event(
            actor=actor,
            action=f"{resource_name(instance)}.{'created' if creating else 'updated'}",
            target=instance,
            before=before,
            after={**field_values(instance, fields), **_link_ids(instance, links)},
        )
    return instance


# Event names use the words of DESIGN.md §5 rather than Django's model names.
RESOURCE_NAMES = {
    "activationcode": "activation_code",
    "customercontact": "customer_contact",
    "portalsettings": "portal_settings",
    "licensetransaction": "transaction",
    "licenseuser": "license_user",
    "webhookendpoint": "webhook_endpoint",
}


def resource_name(instance: models.Model) -> str:
    name = instance._meta.model_name
    return RESOURCE_NAMES.get(name, name)


def _link_ids(instance: models.Model, links: Mapping[str, object]) -> dict[str, list[str]]:
    return {name: sorted(str(pk) for pk in getattr(instance, name).values_list("pk", flat=True)) for name in links}


def _check_seats_cover_licenses(entitlement: Entitlement) -> None:
    in_use = entitlement.seats_in_use()
    if entitlement.seats < in_use:
        raise DomainError(
            f"{in_use} seats are in use; deactivate licenses before lowering seats to {entitlement.seats}.",
            code="seats_in_use",
        )
