"""Read-side vocabulary of the domain. Managers built from these never write.

The models import these querysets, so rows of other models are reached through the app
registry (`_model`) rather than by importing `licensing.models`: the two stay layered.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import uuid

from django.apps import apps
from django.db import connections, models
from django.db.models import Q
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
        one indexed fact: the rows are found through those facts' indexes (one condition
        per rule on this table's own columns, ORed), not by evaluating the whole chain on
        every row of a large table."""
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
        # A row that fails a deciding rule owes its status to it unless an earlier rule of
        # another status fails too: only rows found by such an outranked rule need their
        # whole chain evaluated (the annotation), the others are the answer as found.
        conditions = []
        for rule in deciding:
            failing = _failing(self.model, rule, self.chain_paths[rule.fact], now, postgresql)
            earlier = applicable[: applicable.index(rule)]
            outranked = any(other not in deciding for other in earlier)
            conditions.append(failing & Q(**decided) if outranked else failing)
        return rows.filter(functools.reduce(operator.or_, conditions))


def _failing(model: type[models.Model], rule: rules.Rule, path: str, now: dt.datetime, postgresql: bool) -> Q:
    """The condition on `model`'s own columns under which `rule` fails, its fact at
    `path`. On PostgreSQL the ids of the related rows whose fact fails are read first
    (one query) and matched as a list through the foreign key's index. The planner then
    knows how many there are: it combines the rules into one bitmap scan of `model`'s
    indexes, or walks the ordering's index testing each row against a hashed list, as
    the numbers say. Joined instead, it expects many rows and reads the whole table;
    given as a subquery, it expects ten and walks the index testing each row against
    every id (a thousand comparisons a row)."""
    head, _, rest = path.partition("__")
    field = model._meta.get_field(head)
    if postgresql and rest and field.many_to_one:
        related = field.related_model._base_manager.filter(_related_failing(field.related_model, rule, rest, now))
        ids = list(related.order_by().values_list("pk", flat=True)[: MAX_LITERAL_IDS + 1])
        if len(ids) > MAX_LITERAL_IDS:  # too long to write out: found by the subquery, in the same query
            return Q(_AnyOf(models.F(head), models.Func(related.order_by().values("pk"), function="ARRAY")))
        return Q(_AnyOf(models.F(head), ids))
    return rule.condition(path, now)


# The most ids written into a query as a literal list (about 80 kB of SQL).
MAX_LITERAL_IDS = 2_000


def _related_failing(model: type[models.Model], rule: rules.Rule, path: str, now: dt.datetime) -> Q:
    """As `_failing`, for the rows whose ids are read: a fact further away is matched
    through a subquery run once (`= ANY(ARRAY(...))`), in the same query."""
    head, _, rest = path.partition("__")
    field = model._meta.get_field(head)
    if rest and field.many_to_one:
        related = field.related_model._base_manager.filter(_related_failing(field.related_model, rule, rest, now))
        return Q(_AnyOf(models.F(head), models.Func(related.order_by().values("pk"), function="ARRAY")))
    return rule.condition(path, now)


class _AnyOf(models.Lookup):
    """`column = ANY(values)` (PostgreSQL), for an array expression or a list of ids.

    A list is written into the SQL as a literal, not passed as a parameter: a prepared
    statement's generic plan would not know a parameter's length, and would test each
    row against every value again. Only ids (UUIDs, integers) are written so, which
    need no quoting beyond the literal's own."""

    lookup_name = "any_of"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        if isinstance(value, list):
            if not all(isinstance(item, uuid.UUID | int) and not isinstance(item, bool) for item in value):
                raise TypeError("Only ids are written into SQL as a literal.")
            array_type = self.lhs.output_field.db_type(connection)
            return f"'{{{','.join(str(item) for item in value)}}}'::{array_type}[]", []
        return super().get_db_prep_lookup(value, connection)

    def as_sql(self, compiler, connection) -> tuple[str, tuple]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", (*lhs_params, *rhs_params)


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

    def ending_within(self, window: dt.timedelta, now: dt.datetime | None = None) -> EntitlementQuerySet:
        """Still valid, and ending within `window` (through the index on valid_until)."""
        now = now or timezone.now()
        return self.filter(valid_until__gte=now, valid_until__lte=now + window)

    def in_grace(self, now: dt.datetime | None = None) -> EntitlementQuerySet:
        """Past their end, within their grace period: licenses still work. Bounded by the
        longest grace first, which the index on valid_until serves; each row's own grace
        then picks those still in it."""
        now = now or timezone.now()
        return self.filter(valid_until__lt=now, valid_until__gte=now - rules.MAX_GRACE_PERIOD).filter(
            valid_until__gte=now - models.F("grace_period")
        )


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
