"""Status switches: disable/enable, suspend/resume, revoke, deactivate."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import models, transaction
from django.utils import timezone

from .. import rules
from ..actors import Actor
from ..audit import field_values
from ..errors import InvalidTransition
from ..models import ActivationCode, Customer, Entitlement, License, LicenseTransaction
from . import floating, seats
from .recording import lock_row, record_change

M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class Transition:
    """A switch: from which statuses it may be flipped, to which, and what it is called.

    `action` is also the audit action and (with the webhooks) the event type.
    """

    action: str
    verb: str
    sources: tuple[str, ...]
    target: str
    stamps: str | None = None  # a date field the switch also sets, e.g. "deactivated_at"
    gives_back_seat: bool = False  # a license's switch that may end its hold on a seat

    def allows(self, status: str) -> bool:
        return status in self.sources

    @property
    def stops(self) -> bool:
        """Whether the licenses below stop working (every switch but to active)."""
        return self.target != rules.EffectiveStatus.ACTIVE


CUSTOMER_DISABLE = Transition("customer.disabled", "disable", (Customer.Status.ACTIVE,), Customer.Status.DISABLED)
CUSTOMER_ENABLE = Transition("customer.enabled", "enable", (Customer.Status.DISABLED,), Customer.Status.ACTIVE)

ENTITLEMENT_DISABLE = Transition(
    "entitlement.disabled", "disable", (Entitlement.Status.ACTIVE,), Entitlement.Status.DISABLED
)
ENTITLEMENT_ENABLE = Transition(
    "entitlement.enabled", "enable", (Entitlement.Status.DISABLED,), Entitlement.Status.ACTIVE
)

TRANSACTION_SUSPEND = Transition(
    "transaction.suspended", "suspend", (LicenseTransaction.Status.ACTIVE,), LicenseTransaction.Status.SUSPENDED
)
TRANSACTION_RESUME = Transition(
    "transaction.resumed", "resume", (LicenseTransaction.Status.SUSPENDED,), LicenseTransaction.Status.ACTIVE
)

CODE_DISABLE = Transition(
    "activation_code.disabled", "disable", (ActivationCode.Status.ACTIVE,), ActivationCode.Status.DISABLED
)
CODE_ENABLE = Transition(
    "activation_code.enabled", "enable", (ActivationCode.Status.DISABLED,), ActivationCode.Status.ACTIVE
)
CODE_REVOKE = Transition(
    "activation_code.revoked",
    "revoke",
    (ActivationCode.Status.ACTIVE, ActivationCode.Status.DISABLED),
    ActivationCode.Status.REVOKED,
)

LICENSE_SUSPEND = Transition("license.suspended", "suspend", (License.Status.ACTIVE,), License.Status.SUSPENDED)
LICENSE_RESUME = Transition("license.resumed", "resume", (License.Status.SUSPENDED,), License.Status.ACTIVE)
LICENSE_REVOKE = Transition(
    "license.revoked",
    "revoke",
    (License.Status.ACTIVE, License.Status.SUSPENDED, License.Status.DEACTIVATED),
    License.Status.REVOKED,
    gives_back_seat=True,
)
# Only an active license can be deactivated: a suspended one must not free itself and
# come back active through a fresh activation.
LICENSE_DEACTIVATE = Transition(
    "license.deactivated",
    "deactivate",
    (License.Status.ACTIVE,),
    License.Status.DEACTIVATED,
    stamps="deactivated_at",
    gives_back_seat=True,
)


# A license user taken off an entitlement: their licenses on it give their seats back,
# suspended ones too, since the user may no longer activate that entitlement at all.
LICENSE_USER_REMOVED = Transition(
    "license.deactivated",
    "deactivate",
    (License.Status.ACTIVE, License.Status.SUSPENDED),
    License.Status.DEACTIVATED,
    stamps="deactivated_at",
    gives_back_seat=True,
)


def switch(
    instance: M,
    transition: Transition,
    *,
    actor: Actor,
    reason: str,
    guard: Callable[[M], None] | None = None,
    also: Mapping[str, Any] | None = None,
    savepoint: bool = True,
) -> M:
    """Flip one status switch under a row lock and record it. `guard` may refuse the
    change first, from the locked row; `also` sets bookkeeping fields with it (not
    audited). A caller whose own transaction ends with any refusal may spare the
    savepoint (`savepoint=False`)."""
    model = type(instance)
    with transaction.atomic(savepoint=savepoint):
        # Re-read under lock: the caller's copy may be stale, and two staff members
        # clicking at once must not both pass the state check. A seat's release locks
        # the entitlement (the seat count's lock) first, as activations do.
        # A switch that stops a code or a license locks its entitlement too: it frees
        # floating slots (below), which change only under that lock.
        above = transition.gives_back_seat or (transition.stops and model in (ActivationCode, License))
        locked = lock_row(model, instance.pk, first=("entitlement",) if above else ())
        if guard is not None:  # the caller's own refusal, if it has a more precise one
            guard(locked)
        if not transition.allows(locked.status):
            raise InvalidTransition(_refusal(locked, transition))
        before = field_values(locked, SWITCH_FIELDS)
        if transition.gives_back_seat and locked.holds_seat:
            seats.given_back(locked)
        now = timezone.now()
        locked.status = transition.target
        locked.status_reason = reason
        locked.status_changed_at = now
        changed = ["status", "status_reason", "status_changed_at", "updated_at"]
        if transition.stamps:
            setattr(locked, transition.stamps, now)
            changed.append(transition.stamps)
        for name, value in (also or {}).items():
            setattr(locked, name, value)
            changed.append(name)
        locked.save(update_fields=changed)
        record_change(
            actor=actor,
            action=transition.action,
            target=locked,
            reason=reason,
            before=before,
            after=field_values(locked, SWITCH_FIELDS),
        )
        if transition.stops:
            # Every device below stops at its next check: their floating slots free now.
            floating.slots_free_below(locked, actor=actor, reason=transition.action)
    return locked


SWITCH_FIELDS = ("status", "status_reason", "status_changed_at")


def _refusal(instance: models.Model, transition: Transition) -> str:
    noun = instance._meta.verbose_name
    if instance.status == rules.REVOKED:
        return f"This {noun} is revoked, and revocation is final."
    return f"Cannot {transition.verb} this {noun}: it is {instance.get_status_display().lower()}."


def customer_disable(*, customer: Customer, actor: Actor, reason: str = "") -> Customer:
    """Disable a customer: every entitlement stops working at the client's next check.
    One row changes, however much the customer owns."""
    return switch(customer, CUSTOMER_DISABLE, actor=actor, reason=reason)


def customer_enable(*, customer: Customer, actor: Actor, reason: str = "") -> Customer:
    """Re-enable a customer; entitlements disabled on their own stay disabled."""
    return switch(customer, CUSTOMER_ENABLE, actor=actor, reason=reason)


def entitlement_disable(*, entitlement: Entitlement, actor: Actor, reason: str = "") -> Entitlement:
    return switch(entitlement, ENTITLEMENT_DISABLE, actor=actor, reason=reason)


def entitlement_enable(*, entitlement: Entitlement, actor: Actor, reason: str = "") -> Entitlement:
    return switch(entitlement, ENTITLEMENT_ENABLE, actor=actor, reason=reason)


def transaction_suspend(
    *, license_transaction: LicenseTransaction, actor: Actor, reason: str = ""
) -> LicenseTransaction:
    """Suspend every license the transaction provisioned (10Duke's suspend-licenses)."""
    return switch(license_transaction, TRANSACTION_SUSPEND, actor=actor, reason=reason)


def transaction_resume(
    *, license_transaction: LicenseTransaction, actor: Actor, reason: str = ""
) -> LicenseTransaction:
    return switch(license_transaction, TRANSACTION_RESUME, actor=actor, reason=reason)


def activation_code_disable(*, activation_code: ActivationCode, actor: Actor, reason: str = "") -> ActivationCode:
    return switch(activation_code, CODE_DISABLE, actor=actor, reason=reason)


def activation_code_enable(*, activation_code: ActivationCode, actor: Actor, reason: str = "") -> ActivationCode:
    return switch(activation_code, CODE_ENABLE, actor=actor, reason=reason)


def activation_code_revoke(*, activation_code: ActivationCode, actor: Actor, reason: str = "") -> ActivationCode:
    """Revoke a code for good: it can never activate again."""
    return switch(activation_code, CODE_REVOKE, actor=actor, reason=reason)


def license_suspend(*, license: License, actor: Actor, reason: str = "") -> License:
    return switch(license, LICENSE_SUSPEND, actor=actor, reason=reason)


def license_resume(*, license: License, actor: Actor, reason: str = "") -> License:
    return switch(license, LICENSE_RESUME, actor=actor, reason=reason)


def license_revoke(*, license: License, actor: Actor, reason: str = "") -> License:
    """Revoke a license for good: that device can never activate this entitlement again."""
    return switch(license, LICENSE_REVOKE, actor=actor, reason=reason)


def license_deactivate(*, license: License, actor: Actor, reason: str = "") -> License:
    """Deactivate a license; its seat is free at once."""
    return switch(license, LICENSE_DEACTIVATE, actor=actor, reason=reason)
