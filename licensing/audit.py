"""Who did what: actors, and the one function that writes audit events."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.forms.models import model_to_dict

from . import snapshots, webhooks
from .models import AuditEvent, License

if TYPE_CHECKING:
    from django.http import HttpRequest


@dataclass(frozen=True)
class Actor:
    type: str
    id: str = ""
    label: str = ""
    ip: str | None = None

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(AuditEvent.ActorType.SYSTEM, label=label)

    @classmethod
    def client(cls, credential: Any, ip: str | None) -> Actor:
        return cls(AuditEvent.ActorType.CLIENT, id=str(credential.pk), label=credential.name, ip=ip)

    @classmethod
    def api_token(cls, token: Any, ip: str | None) -> Actor:
        return cls(AuditEvent.ActorType.API_TOKEN, id=str(token.pk), label=token.name, ip=ip)

    @classmethod
    def portal(cls, account: Any, request: HttpRequest) -> Actor:
        return cls(AuditEvent.ActorType.PORTAL, id=str(account.pk), label=account.email_address, ip=client_ip(request))

    @classmethod
    def staff(cls, request: HttpRequest) -> Actor:
        user = request.user
        return cls(AuditEvent.ActorType.STAFF, id=str(user.pk), label=user.get_username(), ip=client_ip(request))


def client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: trusting X-Forwarded-For needs a known proxy in front, which is a
    # deployment decision (set it in the proxy-aware middleware, not here).
    return request.META.get("REMOTE_ADDR") or None


def record_event(
    *,
    actor: Actor,
    action: str,
    target: models.Model | None,
    reason: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    invalidates: bool = True,
) -> AuditEvent:
    """Append one audit event, and the webhook event if `action` is one vendors subscribe
    to. Must run inside the transaction of the change it records, so that the change and
    its records commit or roll back together."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_event must run inside the transaction of the change it records.")
    # An audited change may alter what a client check answers: retire the snapshots
    # built from this row (licensing/snapshots.py). A license's changes also move its
    # entitlement's seat count. Only records of things that changed nothing opt out.
    if invalidates and target is not None:
        seats = ("licensing.entitlement", target.entitlement_id) if isinstance(target, License) else None
        snapshots.bump(target, seats)
    event = AuditEvent.objects.create(
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label[:200],
        ip=actor.ip,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=target.pk if target is not None else None,
        target_repr=str(target)[:200] if target is not None else "",
        reason=reason,
        before=before or {},
        after=after or {},
    )
    # The webhook outbox row, in this same transaction: a change that rolls back emits nothing.
    webhooks.emit(action, target)
    return event


def field_values(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The named concrete fields of `instance` as JSON-ready values, for before/after."""
    concrete = {f.name for f in instance._meta.concrete_fields}
    values = model_to_dict(instance, fields=[f for f in fields if f in concrete])
    for name in fields:  # model_to_dict skips non-editable fields such as status
        if name in concrete and name not in values:
            values[name] = getattr(instance, name)
    # Round-trip through Django's encoder so dates, durations and UUIDs store as text.
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder))
