"""The access rules, in one place.

A license's effective status is computed from the chain customer → entitlement →
transaction → validity window → activation code → license; the first failing rule wins.
Each switch is stored only where it was flipped, so the rules read it from there.

The rules are data (`RULES`), and both readers are generated from them:

* `evaluate(chain, now)` answers for objects already in memory (a client check, a portal
  page);
* `effective_status_annotations(paths, now)` builds the `Case` expressions that lists use,
  so a page of 1,000 entitlements costs one query, not 1,000.

Because both walk the same list in the same order, they cannot disagree.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django.db import models
from django.db.models import Case, F, Q, Value, When


class EffectiveStatus(models.TextChoices):
    """The coarse status people see on a badge."""

    ACTIVE = "active", "Active"
    DISABLED = "disabled", "Disabled"
    SUSPENDED = "suspended", "Suspended"
    NOT_YET_VALID = "not_yet_valid", "Not yet valid"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"
    DEACTIVATED = "deactivated", "Deactivated"


class Reason(models.TextChoices):
    """Why something is not active: the machine codes the APIs answer with."""

    CUSTOMER_DISABLED = "customer_disabled", "customer disabled"
    ENTITLEMENT_DISABLED = "entitlement_disabled", "entitlement disabled"
    TRANSACTION_SUSPENDED = "transaction_suspended", "license transaction suspended"
    NOT_YET_VALID = "not_yet_valid", "not yet valid"
    EXPIRED = "expired", "validity period ended"
    CODE_DISABLED = "code_disabled", "activation code disabled"
    CODE_REVOKED = "code_revoked", "activation code revoked"
    LICENSE_SUSPENDED = "license_suspended", "license suspended"
    LICENSE_REVOKED = "license_revoked", "license revoked"
    # Not a switch but the end of a license's life: the device gave its
    # seat back. Checked last, so a revoked code still explains itself as revoked.
    LICENSE_DEACTIVATED = "license_deactivated", "seat released"


@dataclass(frozen=True)
class Chain:
    """The facts the rules read, taken from one path through the model.

    Links that do not exist on a path (an entitlement has no license; a user-based
    license has no code; an entitlement may have no transaction) stay `None`, and a rule
    on a missing link never fails.
    """

    customer_status: str | None = None
    entitlement_status: str | None = None
    transaction_status: str | None = None
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    # How long after `valid_until` licenses keep working: the grace period.
    grace_period: dt.timedelta | None = None
    code_status: str | None = None
    license_status: str | None = None


NOW = object()  # stands for "the evaluation time" in a rule's operand


@dataclass(frozen=True)
class Rule:
    reason: Reason
    status: EffectiveStatus
    fact: str  # a field of Chain
    lookup: str  # a Django lookup: "exact", "gt" or "lt"
    operand: object  # a stored value, or NOW
    # A duration stored beside the fact (a field of the same row, and of Chain) that the
    # fact is moved by before the comparison: the grace after the end of validity. Only
    # for "lt".
    slack: str | None = None

    def __post_init__(self) -> None:
        if self.slack is not None and self.lookup != "lt":
            raise ValueError('A slack moves a deadline: it applies to an "lt" rule.')

    def fails(self, chain: Chain, now: dt.datetime) -> bool:
        value = getattr(chain, self.fact)
        if value is None:
            return False
        if self.slack is not None:
            value += getattr(chain, self.slack) or dt.timedelta(0)
        operand = now if self.operand is NOW else self.operand
        return _COMPARE[self.lookup](value, operand)

    def condition(self, path: str, now: dt.datetime) -> Q:
        operand = now if self.operand is NOW else self.operand
        condition = Q(**{f"{path}__{self.lookup}": operand})
        if self.slack is None:
            return condition
        # fact + slack < now, beside the plain comparison that it implies (a slack is
        # never negative): the fact's index serves that one alone.
        prefix, _, _ = path.rpartition("__")
        slack = F(f"{prefix}__{self.slack}" if prefix else self.slack)
        return condition & Q(**{f"{path}__lt": operand - slack})


_COMPARE: dict[str, Callable[[object, object], bool]] = {
    "exact": operator.eq,
    "gt": operator.gt,
    "lt": operator.lt,
}

# Stored switch values. They mirror the models' Status choices; the models import
# them from here so that a renamed status cannot silently stop matching a rule.
DISABLED = "disabled"
SUSPENDED = "suspended"
REVOKED = "revoked"
DEACTIVATED = "deactivated"

# The longest grace period an entitlement may have: a quarter, time enough to renew.
# (Queries bound their search for ended entitlements by it.)
MAX_GRACE_PERIOD = dt.timedelta(days=90)

# The rules, in order. First failing rule wins.
RULES: tuple[Rule, ...] = (
    Rule(Reason.CUSTOMER_DISABLED, EffectiveStatus.DISABLED, "customer_status", "exact", DISABLED),
    Rule(Reason.ENTITLEMENT_DISABLED, EffectiveStatus.DISABLED, "entitlement_status", "exact", DISABLED),
    Rule(Reason.TRANSACTION_SUSPENDED, EffectiveStatus.SUSPENDED, "transaction_status", "exact", SUSPENDED),
    Rule(Reason.NOT_YET_VALID, EffectiveStatus.NOT_YET_VALID, "valid_from", "gt", NOW),
    # Licenses keep working through the grace period after the end (in grace).
    Rule(Reason.EXPIRED, EffectiveStatus.EXPIRED, "valid_until", "lt", NOW, slack="grace_period"),
    Rule(Reason.CODE_DISABLED, EffectiveStatus.DISABLED, "code_status", "exact", DISABLED),
    Rule(Reason.CODE_REVOKED, EffectiveStatus.REVOKED, "code_status", "exact", REVOKED),
    Rule(Reason.LICENSE_SUSPENDED, EffectiveStatus.SUSPENDED, "license_status", "exact", SUSPENDED),
    Rule(Reason.LICENSE_REVOKED, EffectiveStatus.REVOKED, "license_status", "exact", REVOKED),
    Rule(Reason.LICENSE_DEACTIVATED, EffectiveStatus.DEACTIVATED, "license_status", "exact", DEACTIVATED),
)


@dataclass(frozen=True)
class Verdict:
    status: EffectiveStatus
    reason: Reason | None

    @property
    def is_active(self) -> bool:
        return self.status == EffectiveStatus.ACTIVE

    @property
    def label(self) -> str:
        return describe(self.status, self.reason)


ACTIVE = Verdict(EffectiveStatus.ACTIVE, None)


def evaluate(chain: Chain, now: dt.datetime) -> Verdict:
    """The effective status of one chain at `now`."""
    for rule in RULES:
        if rule.fails(chain, now):
            return Verdict(rule.status, rule.reason)
    return ACTIVE


def effective_status_annotations(paths: Mapping[str, str], now: dt.datetime) -> dict[str, Case]:
    """`effective_status` and `effective_reason` as SQL, for a model whose chain facts sit
    at `paths` (Chain field → ORM lookup path). Facts a model lacks are left out, exactly
    as `evaluate` skips missing links."""
    rules = [rule for rule in RULES if rule.fact in paths]
    status = Case(
        *[When(rule.condition(paths[rule.fact], now), then=Value(rule.status.value)) for rule in rules],
        default=Value(EffectiveStatus.ACTIVE.value),
        output_field=models.CharField(),
    )
    reason = Case(
        *[When(rule.condition(paths[rule.fact], now), then=Value(rule.reason.value)) for rule in rules],
        default=Value(""),
        output_field=models.CharField(),
    )
    return {"effective_status": status, "effective_reason": reason}


def describe(status: str, reason: str | None) -> str:
    """Human text for a status and reason: "Disabled: customer disabled"."""
    label = EffectiveStatus(status).label
    if not reason:
        return label
    return f"{label}: {Reason(reason).label}"
