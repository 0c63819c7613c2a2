"""The audit trail: one append-only row per change, refusal or other act worth recording."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.forms.models import model_to_dict

from .actors import Actor
from .limits import fallback_cache
from .models import AuditEvent


def append(
    *,
    actor: Actor,
    action: str,
    target: models.Model | None,
    reason: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event. Must run inside the transaction of what it records, so that
    the two commit or roll back together."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.append must run inside the transaction of what it records.")
    return AuditEvent.objects.create(
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


def append_sampled(*, kind: str, window: int, **event: Any) -> AuditEvent | None:
    """Append the first event of a `kind` in each `window` seconds, and only count the
    others: the next event appended of that kind says how many went unrecorded before it
    (`after["unrecorded_before"]`). For refusals an attacker can repeat at will (guessed
    keys), which would otherwise fill the trail with a row per guess."""
    digest = hashlib.sha256(kind.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    gate, skipped = f"audit:gate:{digest}", f"audit:skipped:{digest}"
    # Counted in this process while the shared cache is down, as attempt limits are.
    if not fallback_cache.add(gate, 1, window):
        if not fallback_cache.add(skipped, 1, 24 * 60 * 60):
            with contextlib.suppress(ValueError):  # gone between the two calls: one goes uncounted
                fallback_cache.incr(skipped)
        return None
    unrecorded = fallback_cache.get(skipped) or 0
    if unrecorded:
        fallback_cache.delete(skipped)
    if unrecorded:
        event["after"] = {**(event.get("after") or {}), "unrecorded_before": unrecorded}
    return append(**event)


def field_values(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The named concrete fields of `instance` as JSON-ready values, for before/after."""
    concrete = {f.name for f in instance._meta.concrete_fields}
    values = model_to_dict(instance, fields=[f for f in fields if f in concrete])
    for name in fields:  # model_to_dict skips non-editable fields such as status
        if name in concrete and name not in values:
            values[name] = getattr(instance, name)
    # Round-trip through Django's encoder so dates, durations and UUIDs store as text.
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder))
