"""What a switch will do to the rows below the ones chosen, said on its confirmation page
before anyone clicks: how many entitlements and devices stop or work again, and which
entitlements stay off on their own, and why.

Each function takes every chosen row at once and reads a fixed number of queries (a
count, or a capped list), however many rows were chosen or hang below them. "Devices"
are licenses that work now (or would): one per device and entitlement.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from .. import rules
from ..models import ActivationCode, Customer, Entitlement, License, LicenseTransaction
from ..querysets import ENTITLEMENT_PATHS, LICENSE_PATHS
from .display import change_link, changelist_url

# Entitlements named one by one as staying off; more are a link away.
STAYING_OFF_SHOWN = 20
ACTIVE = rules.EffectiveStatus.ACTIVE


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def working(rows: QuerySet) -> int:
    """How many of `rows` (entitlements or licenses) work now."""
    return rows.effectively(ACTIVE).count()


def working_without(rows: QuerySet, paths: dict[str, str], fact: str) -> int:
    """How many of `rows` would work with the switch at `fact` back on: the access rules
    (licensing/rules.py) without that one, in SQL, so that whatever else stops a row (its
    own switch, its transaction, its end of validity) still counts."""
    others = {name: path for name, path in paths.items() if name != fact}
    annotations = rules.effective_status_annotations(others, timezone.now())
    return rows.annotate(**annotations).filter(effective_status=ACTIVE).count()


def stop(entitlements: int | None, devices: int) -> str:
    if entitlements is None:
        return format_html("<strong>{}</strong> (active licenses) stop working at their next check.", _devices(devices))
    return format_html(
        "<strong>{}</strong> and <strong>{}</strong> (active licenses) stop working at their next check.",
        plural(entitlements, "entitlement"),
        _devices(devices),
    )


def start(entitlements: int | None, devices: int) -> str:
    if entitlements is None:
        return format_html("<strong>{}</strong> (licenses) work again at their next check.", _devices(devices))
    return format_html(
        "<strong>{}</strong> and <strong>{}</strong> (licenses) work again at their next check.",
        plural(entitlements, "entitlement"),
        _devices(devices),
    )


def _devices(count: int) -> str:
    return plural(count, "device")


# --- Customers ---------------------------------------------------------------------------


def customer_disable(customers: Sequence[Customer]) -> list[str]:
    entitlements = Entitlement.objects.filter(customer__in=customers)
    licenses = License.objects.filter(entitlement__customer__in=customers)
    return [stop(working(entitlements), working(licenses))]


def customer_enable(customers: Sequence[Customer]) -> list[str]:
    entitlements = Entitlement.objects.filter(customer__in=customers)
    licenses = License.objects.filter(entitlement__customer__in=customers)
    back = start(
        working_without(entitlements, ENTITLEMENT_PATHS, "customer_status"),
        working_without(licenses, LICENSE_PATHS, "customer_status"),
    )
    return [back, staying_off(customers)]


def staying_off(customers: Sequence[Customer]) -> str:
    """The customers' entitlements that enabling them does not bring back: disabled on
    their own, or suspended by their transaction, each with the reason recorded."""
    switched_off = Q(status=Entitlement.Status.DISABLED) | Q(transaction__status=LicenseTransaction.Status.SUSPENDED)
    rows = list(
        Entitlement.objects.filter(customer__in=customers)
        .filter(switched_off)
        .select_related("customer", "product", "transaction")
        .order_by("customer__name", "product__name", "pk")[: STAYING_OFF_SHOWN + 1]
    )
    if not rows:
        return mark_safe(
            "<p>No entitlement stays off: none is disabled on its own or suspended by its transaction.</p>"
        )
    more = ""
    if len(rows) > STAYING_OFF_SHOWN:
        rows = rows[:STAYING_OFF_SHOWN]
        more = format_html(
            '<li>… and more: <a href="{}">see the disabled entitlements</a>.</li>',
            changelist_url(Entitlement, status__exact=Entitlement.Status.DISABLED),
        )
    return format_html(
        '<p>These stay off, each for its own reason:</p><ul class="staying-off">{}{}</ul>',
        format_html_join("", "<li>{}: {}</li>", ((change_link(row), why_off(row)) for row in rows)),
        more,
    )


def why_off(entitlement: Entitlement) -> str:
    reasons = []
    if entitlement.status == Entitlement.Status.DISABLED:
        reasons.append(format_html("disabled on its own ({})", recorded(entitlement.status_reason)))
    transaction = entitlement.transaction
    if transaction is not None and transaction.status == LicenseTransaction.Status.SUSPENDED:
        reasons.append(
            format_html("suspended by its transaction {} ({})", transaction, recorded(transaction.status_reason))
        )
    return format_html_join("; ", "{}", ((reason,) for reason in reasons))


def recorded(reason: str) -> str:
    return format_html("“{}”", reason) if reason else "no reason recorded"


# --- Entitlements, transactions, codes ---------------------------------------------------------


def entitlement_disable(entitlements: Sequence[Entitlement]) -> list[str]:
    return [stop(None, working(License.objects.filter(entitlement__in=entitlements)))]


def entitlement_enable(entitlements: Sequence[Entitlement]) -> list[str]:
    licenses = License.objects.filter(entitlement__in=entitlements)
    return [start(None, working_without(licenses, LICENSE_PATHS, "entitlement_status"))]


def transaction_suspend(transactions: Sequence[LicenseTransaction]) -> list[str]:
    entitlements = Entitlement.objects.filter(transaction__in=transactions)
    licenses = License.objects.filter(entitlement__transaction__in=transactions)
    return [stop(working(entitlements), working(licenses))]


def transaction_resume(transactions: Sequence[LicenseTransaction]) -> list[str]:
    entitlements = Entitlement.objects.filter(transaction__in=transactions)
    licenses = License.objects.filter(entitlement__transaction__in=transactions)
    return [
        start(
            working_without(entitlements, ENTITLEMENT_PATHS, "transaction_status"),
            working_without(licenses, LICENSE_PATHS, "transaction_status"),
        )
    ]


def code_stop(codes: Sequence[ActivationCode]) -> list[str]:
    return [stop(None, working(License.objects.filter(activation_code__in=codes)))]


def code_enable(codes: Sequence[ActivationCode]) -> list[str]:
    licenses = License.objects.filter(activation_code__in=codes)
    return [start(None, working_without(licenses, LICENSE_PATHS, "code_status"))]
