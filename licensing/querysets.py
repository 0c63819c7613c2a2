"""Read-side vocabulary of the domain. Managers built from these never write.

The models import these querysets, so rows of other models are reached through the app
registry (`_model`) rather than by importing `licensing.models`: the two stay layered.
"""

from __future__ import annotations

import datetime as dt

from django.apps import apps
from django.db import connections, models
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import rules

# A portal account (licensing.models.base.PortalAccount): a customer contact or a license user.
PortalAccount = models.Model

# Where each fact of rules.Chain sits, seen from each model. Only these maps differ
# between models; the rules themselves are shared.
CUSTOMER_PATHS = {"customer_status": "status"}
ENTITLEMENT_PATHS = {
    "customer_status": "customer__status",
    "entitlement_status": "status",
    "transaction_status": "transaction__status",
    "valid_from": "valid_from",
    "valid_until": "valid_until",
}
ACTIVATION_CODE_PATHS = {
    **{fact: f"entitlement__{path}" for fact, path in ENTITLEMENT_PATHS.items()},
    "code_status": "status",
}
LICENSE_PATHS = {
    **{fact: f"entitlement__{path}" for fact, path in ENTITLEMENT_PATHS.items()},
    "code_status": "activation_code__status",
    "license_status": "status",
}


class EffectiveStatusQuerySet(models.QuerySet):
    chain_paths: dict[str, str] = {}

    def with_effective_status(self, now: dt.datetime | None = None) -> EffectiveStatusQuerySet:
        """Annotate `effective_status` and `effective_reason` (licensing/rules.py) in SQL."""
        return self.annotate(**rules.effective_status_annotations(self.chain_paths, now or timezone.now()))

    def effectively(
        self, status: str | None = None, *, reason: str | None = None, now: dt.datetime | None = None
    ) -> EffectiveStatusQuerySet:
        """Rows of this effective status (or reason), on the `with_effective_status`
        annotation (added if missing). Every status but active is decided by rules, each on
        one indexed fact: the rows come from those facts' indexes (a union of one lookup
        per rule), not from evaluating the whole chain on every row of a large table."""
        now = now or timezone.now()
        rows = self if "effective_status" in self.query.annotations else self.with_effective_status(now)
        decided = {"effective_reason": reason} if reason else {"effective_status": status}
        if reason is None and status == rules.EffectiveStatus.ACTIVE:
            return rows.filter(**decided)  # no rule decides it: most rows, found soon in any order
        applicable = [rule for rule in rules.RULES if rule.fact in self.chain_paths]
        deciding = [rule for rule in applicable if (rule.reason == reason if reason else rule.status == status)]
        if not deciding:
            return rows.none()
        postgresql = connections[self.db].vendor == "postgresql"
        found = [_failing(self.model, rule, self.chain_paths[rule.fact], now, postgresql) for rule in deciding]
        union = found[0].union(*found[1:])
        if postgresql:
            # = ANY(ARRAY(...)): the ids are gathered first and each row fetched by its
            # key. With IN (...) the planner hashes the ids and scans the whole table
            # for them, expecting thousands (200,000 entitlements read for 4,000 ids).
            candidates = rows.filter(_AnyOf(models.F("pk"), models.Subquery(union)))
        else:
            candidates = rows.filter(pk__in=union)
        # A row that fails a deciding rule may still owe its status to an earlier rule, and
        # then the annotation decides. When every earlier rule decides this same status,
        # the candidates are the answer and no row needs its whole chain evaluated.
        last = applicable.index(deciding[-1])
        outranked = any(rule not in deciding for rule in applicable[:last])
        return candidates.filter(**decided) if outranked else candidates


def _failing(model: type[models.Model], rule: rules.Rule, path: str, now: dt.datetime, postgresql: bool):
    """The ids of `model`'s rows on which `rule` fails, its fact at `path`. On
    PostgreSQL a fact of a related row is found in that row's own table first, and its
    ids matched through the foreign key's index (`= ANY(ARRAY(...))`): joined instead,
    the planner expects many rows and scans the whole table (every entitlement read for
    the few hundred of the disabled customers)."""
    head, _, rest = path.partition("__")
    field = model._meta.get_field(head)
    if postgresql and rest and field.many_to_one:
        related = _failing(field.related_model, rule, rest, now, postgresql)
        return model._base_manager.filter(_AnyOf(models.F(head), models.Subquery(related))).order_by().values("pk")
    return model._base_manager.filter(rule.condition(path, now)).order_by().values("pk")


class _AnyOf(models.Lookup):
    """`column = ANY(ARRAY(subquery))` (PostgreSQL): the subquery runs once, before the
    rows are looked up by the column's index."""

    lookup_name = "any_of"

    def as_sql(self, compiler, connection) -> tuple[str, tuple]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = compiler.compile(self.rhs)
        return f"{lhs} = ANY(ARRAY({rhs}))", (*lhs_params, *rhs_params)


def _model(name: str) -> type[models.Model]:
    return apps.get_model("licensing", name)


def _count(rows: models.QuerySet, by: str) -> models.Subquery:
    """How many `rows` there are, as a subquery of the outer row they are filtered on."""
    return models.Subquery(rows.order_by().values(by).annotate(n=models.Count("pk")).values("n"))


def sees_whole_customer(account: PortalAccount) -> bool:
    """The portal's access rule, in one place. A customer contact sees everything its
    customer owns; a license user sees only the entitlements assigned to them and the
    licenses they hold. Every portal read goes through a `for_account` below."""
    return isinstance(account, _model("CustomerContact"))


class CustomerQuerySet(EffectiveStatusQuerySet):
    chain_paths = CUSTOMER_PATHS

    def with_floating_use(self, now: dt.datetime | None = None) -> CustomerQuerySet:
        """Annotate `floating_in_use` (devices holding a floating slot now) and
        `floating_seats` (slots of the customer's floating entitlements; None without
        any), one indexed aggregate each per row."""
        live = _model("FloatingSlot").objects.live(now).filter(entitlement__customer=models.OuterRef("pk"))
        floating = _model("Entitlement").objects.filter(customer=models.OuterRef("pk"), license_model="floating")
        seats = floating.order_by().values("customer").annotate(total=models.Sum("seats")).values("total")
        return self.annotate(
            floating_in_use=Coalesce(_count(live, "entitlement__customer"), 0),
            floating_seats=models.Subquery(seats),
        )

    def for_account(self, account: PortalAccount) -> CustomerQuerySet:
        return self.filter(pk=account.customer_id)

    def disabled(self) -> CustomerQuerySet:
        return self.filter(status=rules.DISABLED)

    def enabled(self) -> CustomerQuerySet:
        return self.exclude(status=rules.DISABLED)


class EntitlementQuerySet(EffectiveStatusQuerySet):
    chain_paths = ENTITLEMENT_PATHS

    def with_floating_use(self, now: dt.datetime | None = None) -> EntitlementQuerySet:
        """Annotate `floating_in_use`: devices holding a floating slot now (0 for a
        node-locked entitlement), one indexed count per row."""
        live = _count(_model("FloatingSlot").objects.live(now).filter(entitlement=models.OuterRef("pk")), "entitlement")
        return self.annotate(floating_in_use=Coalesce(live, 0))

    def for_account(self, account: PortalAccount) -> EntitlementQuerySet:
        mine = self.filter(customer_id=account.customer_id)
        return mine if sees_whole_customer(account) else mine.filter(license_users=account)


class ActivationCodeQuerySet(EffectiveStatusQuerySet):
    chain_paths = ACTIVATION_CODE_PATHS

    def for_account(self, account: PortalAccount) -> ActivationCodeQuerySet:
        # Codes are the customer's to hand out; a license user signs in with a password.
        if not sees_whole_customer(account):
            return self.none()
        return self.filter(entitlement__customer_id=account.customer_id)


class LicenseQuerySet(EffectiveStatusQuerySet):
    chain_paths = LICENSE_PATHS

    def for_account(self, account: PortalAccount) -> LicenseQuerySet:
        mine = self.filter(entitlement__customer_id=account.customer_id)
        return mine if sees_whole_customer(account) else mine.filter(license_user=account)

    def holding_seat(self) -> LicenseQuerySet:
        return self.filter(status__in=_model("License").SEAT_HOLDING)


class FloatingSlotQuerySet(models.QuerySet):
    def live(self, now: dt.datetime | None = None) -> FloatingSlotQuerySet:
        """Slots held now: their end is still ahead. A lapsed slot is free whether or not
        anything has tidied it away yet."""
        return self.filter(ends_at__gt=now or timezone.now())

    def lapsed(self, now: dt.datetime | None = None) -> FloatingSlotQuerySet:
        return self.filter(ends_at__lte=now or timezone.now())

    def for_account(self, account: PortalAccount) -> FloatingSlotQuerySet:
        return self.filter(license__in=_model("License").objects.for_account(account))
