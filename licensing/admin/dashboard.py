"""The admin's home page: a tile for each figure staff act on (what is broken, what
needs attention soon, how much is used), each a link to the admin list of exactly the
rows it counts; then the latest changes, and Django's list of models below.

Django's own index view renders it (templates/admin/index.html) with the tiles as extra
context: `install` wraps the site's `index`, so the page keeps all that Django's index
has (its permission check, `app_list`, the site's context). The figures are the
selectors' (licensing/selectors.py), a constant number of aggregate queries; a tile about
rows the staff member may not view is neither computed nor shown.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.apps import apps
from django.contrib import admin
from django.contrib.admin.exceptions import NotRegistered
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import formats, timezone

from .. import selectors
from ..models import AuditEvent, Customer, Entitlement, FloatingSlot, Trial, WebhookDelivery
from ..services.renewals import first_notice_window

# How far back "this week" and "recently failed" reach.
WEEK = dt.timedelta(days=7)
AUDIT_EVENTS_SHOWN = 10

# A tile's tone: red for what is wrong now, amber for what needs doing soon. Only a
# figure above zero takes a tone; nothing to see reads as neutral.
PROBLEM, ATTENTION, NEUTRAL = "problem", "attention", "neutral"

MayView = Callable[[type[models.Model]], bool]


@dataclass(frozen=True)
class Link:
    text: str
    url: str


@dataclass(frozen=True)
class Tile:
    key: str  # names the tile in the page (data-tile) and in tests
    title: str
    figure: int
    url: str  # the list of exactly the rows `figure` counts
    detail: str = ""
    tone: str = NEUTRAL
    of: int | None = None  # "37 of 50": the whole the figure is part of
    links: tuple[Link, ...] = ()

    @property
    def meter(self) -> bool:
        return self.of is not None and self.of > 0


@dataclass(frozen=True)
class TileGroup:
    key: str
    heading: str
    tiles: list[Tile]


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    url: str | None  # the target's admin page, when there is one the viewer may see


def changelist(model: type[models.Model], **filters: str) -> str:
    """The admin list of `model`, filtered by the list's own query parameters."""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def toned(figure: int, tone: str) -> str:
    return tone if figure else NEUTRAL


def plural(count: int, singular: str, many: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (many or singular + 's')}"


# --- The tiles ---------------------------------------------------------------------------


def disabled_customers_tile(now: dt.datetime, may_view: MayView) -> Tile:
    count = selectors.disabled_customer_count()
    return Tile(
        key="disabled-customers",
        title="Disabled customers",
        figure=count,
        url=changelist(Customer, disabled="yes"),
        detail="None of their licenses work until they are enabled again.",
        tone=toned(count, PROBLEM),
    )


def failing_webhooks_tile(now: dt.datetime, may_view: MayView) -> Tile:
    # Whole seconds: the link carries the same bound as the count, readably.
    since = (now - WEEK).replace(microsecond=0)
    failed = selectors.failed_webhooks(since=since)
    return Tile(
        key="failing-webhooks",
        title="Failing webhook endpoints",
        figure=failed.endpoints,
        url=changelist(
            WebhookDelivery, status__exact=WebhookDelivery.Status.FAILED, completed_at__gte=since.isoformat()
        ),
        detail=f"{plural(failed.deliveries, 'delivery', 'deliveries')} failed in the last 7 days.",
        tone=toned(failed.endpoints, PROBLEM),
    )


def expiring_tile(now: dt.datetime, may_view: MayView) -> Tile | None:
    window = first_notice_window()
    if window is None:  # no expiry notices configured: the list offers no such filter
        return None
    count = selectors.expiring_entitlement_count(window, now=now)
    return Tile(
        key="expiring",
        title=f"Expiring within {window.days} days",
        figure=count,
        url=changelist(Entitlement, ending="soon"),
        detail=f"Entitlements still valid that end by {formats.date_format(timezone.localtime(now + window))}.",
        tone=toned(count, ATTENTION),
    )


def in_grace_tile(now: dt.datetime, may_view: MayView) -> Tile:
    count = selectors.in_grace_entitlement_count(now=now)
    return Tile(
        key="in-grace",
        title="In grace",
        figure=count,
        url=changelist(Entitlement, ending="grace"),
        detail="Past their end: licenses keep working until the grace period ends.",
        tone=toned(count, ATTENTION),
    )


def working_entitlements_url(license_model: str) -> str:
    """The list of the entitlements of a license model that work now (selectors.working_entitlements)."""
    return changelist(Entitlement, effective_status="active", license_model__exact=license_model)


def node_locked_seats_tile(now: dt.datetime, may_view: MayView) -> Tile:
    use = selectors.node_locked_seat_use(now=now)
    return Tile(
        key="node-locked-seats",
        title="Node-locked seats in use",
        figure=use.in_use,
        of=use.sold,
        url=working_entitlements_url(Entitlement.LicenseModel.NODE_LOCKED),
        detail=f"Activated devices, of the seats of {plural(use.entitlements, 'active entitlement')}.",
    )


def floating_seats_tile(now: dt.datetime, may_view: MayView) -> Tile:
    use = selectors.floating_seat_use(now=now)
    return Tile(
        key="floating-seats",
        title="Floating seats in use",
        figure=use.in_use,
        of=use.sold,
        url=changelist(FloatingSlot),
        detail=f"Devices running now, of the seats of {plural(use.entitlements, 'active floating entitlement')}.",
        links=(Link("Floating entitlements", working_entitlements_url(Entitlement.LicenseModel.FLOATING)),),
    )


def trials_tile(now: dt.datetime, may_view: MayView) -> Tile:
    since = (now - WEEK).replace(microsecond=0)
    trials = selectors.trials_since(since)
    links = [Link(f"{trials.converted} converted to paid", changelist(Trial, converted_at__gte=since.isoformat()))]
    if may_view(Entitlement):
        links.append(Link("Trials running", changelist(Entitlement, trial="yes")))
    return Tile(
        key="trials",
        title="Trials started this week",
        figure=trials.started,
        url=changelist(Trial, created_at__gte=since.isoformat()),
        detail="Handed out in the last 7 days.",
        links=tuple(links),
    )


# Each tile with the models whose rows it counts: shown only to staff who may view them all.
TileBuilder = Callable[[dt.datetime, MayView], Tile | None]
Tiles = list[tuple[tuple[type[models.Model], ...], TileBuilder]]

NEEDS_ATTENTION: Tiles = [
    ((Customer,), disabled_customers_tile),
    ((WebhookDelivery,), failing_webhooks_tile),
    ((Entitlement,), expiring_tile),
    ((Entitlement,), in_grace_tile),
]
IN_USE: Tiles = [
    ((Entitlement,), node_locked_seats_tile),
    ((FloatingSlot, Entitlement), floating_seats_tile),
    ((Trial,), trials_tile),
]


def build(tiles: Tiles, now: dt.datetime, may_view: MayView) -> list[Tile]:
    built = (builder(now, may_view) for needed, builder in tiles if all(may_view(model) for model in needed))
    return [tile for tile in built if tile is not None]


# --- The latest changes ------------------------------------------------------------------


def audit_rows(may_view: MayView) -> list[AuditRow]:
    return [AuditRow(event, target_url(event, may_view)) for event in selectors.latest_audit_events(AUDIT_EVENTS_SHOWN)]


def target_url(event: AuditEvent, may_view: MayView) -> str | None:
    """The admin page of what the event changed, from its stored type and id; None when
    it names nothing (a refused attempt), a model without admin, or one the viewer may
    not see. A target deleted since lands on the admin's own "does not exist" notice."""
    if not event.target_type or event.target_id is None:
        return None
    try:
        model = apps.get_model(event.target_type)
    except (LookupError, ValueError):
        return None
    if not may_view(model):
        return None
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[event.target_id])


# --- The page ----------------------------------------------------------------------------


def viewer(site: admin.AdminSite, request: HttpRequest) -> MayView:
    """Whether the signed-in staff member may view a model's rows in this admin site,
    asked of the model's admin (which reads the user's permissions once per request)."""

    @functools.cache
    def may_view(model: type[models.Model]) -> bool:
        try:
            model_admin = site.get_model_admin(model)
        except NotRegistered:
            return False
        return model_admin.has_view_permission(request)

    return may_view


def dashboard_context(site: admin.AdminSite, request: HttpRequest) -> dict[str, Any]:
    now, may_view = timezone.now(), viewer(site, request)
    groups = [
        TileGroup("attention", "Needs attention", build(NEEDS_ATTENTION, now, may_view)),
        TileGroup("in-use", "In use", build(IN_USE, now, may_view)),
    ]
    return {
        "tile_groups": [group for group in groups if group.tiles],
        "audit_rows": audit_rows(may_view) if may_view(AuditEvent) else None,
        "audit_url": changelist(AuditEvent),
    }


def install(site: admin.AdminSite) -> None:
    """Serve the dashboard as `site`'s index. The site builds its URLs from `site.index`
    when the URLconf first reads `site.urls`, after every admin module is imported."""
    django_index = site.index

    @functools.wraps(django_index)
    def index(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return django_index(request, extra_context={**dashboard_context(site, request), **(extra_context or {})})

    site.index = index


install(admin.site)
