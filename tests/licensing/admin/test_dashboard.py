"""The admin's home page: a tile per figure staff act on, each correct for the rows there
are, each a link to the admin list of exactly the rows it counts, in a constant number of
queries; a tile about rows the staff member may not view is not shown."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from licensing import services
from licensing.models import (
    AuditEvent,
    Customer,
    Entitlement,
    FloatingSlot,
    License,
    Trial,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from licensing.roles import role_permissions
from tests.factories import (
    ActivationCodeFactory,
    CustomerFactory,
    EntitlementFactory,
    LicenseFactory,
    ProductFactory,
    StaffUserFactory,
    WebhookEndpointFactory,
)
from tests.licensing.admin.urls import change_url

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
FLOATING = Entitlement.LicenseModel.FLOATING
ALL_TILES = {
    "disabled-customers",
    "failing-webhooks",
    "expiring",
    "in-grace",
    "node-locked-seats",
    "floating-seats",
    "trials",
}


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


# --- Seeding -------------------------------------------------------------------------------


def disabled_customer(actor, **fields) -> Customer:
    customer = CustomerFactory(**fields)
    services.customer_disable(customer=customer, actor=actor, reason="unpaid")
    return customer


def node_locked(customer, *, seats: int, used: int = 0, **fields) -> Entitlement:
    if fields.get("valid_until"):  # sold a year before its end
        fields.setdefault("valid_from", fields["valid_until"] - 365 * DAY)
    entitlement = EntitlementFactory(customer=customer, seats=seats, **fields)
    code = ActivationCodeFactory(entitlement=entitlement)
    for _ in range(used):
        LicenseFactory(activation_code=code)
    return entitlement


def running(license: License, *, for_: dt.timedelta = dt.timedelta(minutes=10)) -> FloatingSlot:
    now = timezone.now()
    return FloatingSlot.objects.create(license=license, entitlement=license.entitlement, ends_at=now + for_)


def floating(customer, *, seats: int, live: int, lapsed: int = 0) -> Entitlement:
    code = ActivationCodeFactory(
        entitlement__customer=customer, entitlement__license_model=FLOATING, entitlement__seats=seats
    )
    for _ in range(live):
        running(LicenseFactory(activation_code=code))
    for _ in range(lapsed):
        running(LicenseFactory(activation_code=code), for_=-DAY)
    return code.entitlement


def delivery(endpoint: WebhookEndpoint, status: str, *, completed: dt.datetime | None = None) -> WebhookDelivery:
    event = WebhookEvent.objects.create(type="customer.disabled", payload="{}")
    return WebhookDelivery.objects.create(event=event, endpoint=endpoint, status=status, completed_at=completed)


def failed(endpoint: WebhookEndpoint, *, ago: dt.timedelta) -> WebhookDelivery:
    return delivery(endpoint, WebhookDelivery.Status.FAILED, completed=timezone.now() - ago)


def trial(customer, *, started_ago: dt.timedelta, converted_ago: dt.timedelta | None = None) -> Trial:
    """A trial record as GET /api/v4/trial_key leaves it, backdated (its own node-locked
    entitlement of 1 seat, valid for a year, so it adds to what is sold)."""
    now = timezone.now()
    entitlement = EntitlementFactory(customer=customer, seats=1, is_trial=converted_ago is None)
    return Trial.objects.create(
        product=entitlement.product,
        entitlement=entitlement,
        hardware_id=f"hw-{entitlement.pk}",
        email=f"{entitlement.pk}@trial.example",
        created_at=now - started_ago,
        converted_at=now - converted_ago if converted_ago is not None else None,
    )


@pytest.fixture
def seeded(frozen, actor):
    """Rows of every kind, each with neighbours that must not be counted."""
    acme = CustomerFactory(name="Acme")
    bolt = disabled_customer(actor, name="Bolt")
    disabled_customer(actor, name="Core")
    # Node-locked, working: 5 + 3 + 4 + 2 seats sold, 2 + 1 used.
    node_locked(acme, seats=5, used=2)
    node_locked(acme, seats=3, used=1, valid_until=NOW + 10 * DAY)  # expiring
    node_locked(acme, seats=4, valid_until=NOW - 2 * DAY, grace_period=7 * DAY)  # in grace: still works
    node_locked(acme, seats=2, valid_until=NOW + 60 * DAY)  # ends after the first notice's window
    # Not working: not sold now, and their used seats are not in use.
    node_locked(acme, seats=10, used=1, valid_until=NOW - 30 * DAY)  # expired, grace long over
    node_locked(acme, seats=6, valid_until=NOW - 20 * DAY, grace_period=7 * DAY)  # past its grace
    node_locked(bolt, seats=7, used=1)  # customer disabled
    node_locked(bolt, seats=1, valid_until=NOW + 5 * DAY)  # expiring all the same
    # Floating: 3 devices running on Acme's 5 seats, 1 lapsed; 1 still running on Bolt's.
    floating(acme, seats=5, live=3, lapsed=1)
    floating(bolt, seats=4, live=1)
    # Webhooks: 3 deliveries to 2 endpoints failed this week; older failures, successes
    # and pending ones are not counted.
    first, second, third = WebhookEndpointFactory.create_batch(3)
    failed(first, ago=DAY)
    failed(first, ago=2 * DAY)
    failed(second, ago=6 * DAY)
    delivery(second, WebhookDelivery.Status.SUCCEEDED, completed=NOW)
    failed(third, ago=10 * DAY)
    delivery(third, WebhookDelivery.Status.PENDING)
    # Trials: 2 started this week (one of them converted), 1 older one converted this week.
    trial(acme, started_ago=2 * DAY)
    trial(acme, started_ago=3 * DAY, converted_ago=DAY)
    trial(acme, started_ago=20 * DAY, converted_ago=2 * DAY)
    trial(acme, started_ago=20 * DAY)
    trial(acme, started_ago=10 * DAY, converted_ago=9 * DAY)
    return NOW


def tiles(response) -> dict:
    assert response.status_code == 200
    return {tile.key: tile for group in response.context["tile_groups"] for tile in group.tiles}


def dashboard(client) -> dict:
    return tiles(client.get(reverse("admin:index")))


def listed(client, url: str):
    """The changelist a link leads to."""
    response = client.get(url)
    assert response.status_code == 200, url
    assert "cl" in response.context, f"{url} is not a list (redirected for a bad filter?)"
    return response.context["cl"]


# --- The figures ---------------------------------------------------------------------------


def test_each_figure_counts_the_seeded_rows(client, superuser, seeded):
    client.force_login(superuser)

    shown = dashboard(client)

    assert set(shown) == ALL_TILES
    assert shown["disabled-customers"].figure == 2
    assert shown["failing-webhooks"].figure == 2
    assert shown["failing-webhooks"].detail == "3 deliveries failed in the last 7 days."
    assert shown["expiring"].figure == 2
    assert shown["expiring"].title == "Expiring within 30 days"
    assert shown["in-grace"].figure == 1
    # 4 node-locked entitlements above and the 5 trials' (1 seat each) work now.
    seats = shown["node-locked-seats"]
    assert (seats.figure, seats.of) == (3, 14 + 5)
    assert seats.detail == "Activated devices, of the seats of 9 active entitlements."
    floating_seats = shown["floating-seats"]
    assert (floating_seats.figure, floating_seats.of) == (4, 5)
    assert shown["trials"].figure == 2
    assert shown["trials"].links[0].text == "2 converted to paid"


def test_problems_are_red_and_what_needs_doing_soon_amber_only_when_there_is_any(client, superuser, seeded):
    client.force_login(superuser)
    shown = dashboard(client)
    assert shown["disabled-customers"].tone == shown["failing-webhooks"].tone == "problem"
    assert shown["expiring"].tone == shown["in-grace"].tone == "attention"
    assert shown["node-locked-seats"].tone == shown["trials"].tone == "neutral"

    Customer.objects.update(status=Customer.Status.ACTIVE)
    WebhookDelivery.objects.all().delete()
    Entitlement.objects.update(valid_until=None)

    quiet = dashboard(client)
    assert {tile.tone for tile in quiet.values()} == {"neutral"}
    assert quiet["disabled-customers"].figure == quiet["failing-webhooks"].figure == 0


def test_the_page_shows_the_tiles_their_links_and_the_models_below(client, superuser, seeded):
    client.force_login(superuser)
    response = client.get(reverse("admin:index"))
    page = response.content.decode()

    for key in ALL_TILES:
        assert f'data-tile="{key}"' in page
    assert '<a class="dash-main" href="/admin/licensing/customer/?disabled=yes">' in page
    assert 'class="dash-tile dash-problem" data-tile="disabled-customers"' in page
    assert '<meter class="dash-meter" min="0" max="19" value="3"' in page
    # Django's list of models stays on the page, below the tiles.
    assert response.context["app_list"]
    assert page.index('data-tile="trials"') < page.index(f'href="{reverse("admin:licensing_license_changelist")}"')
    assert "licensing/dashboard.css" in page


def test_without_expiry_notices_there_is_no_expiring_tile(client, superuser, seeded, settings):
    settings.LICENSING_EXPIRY_NOTICE_DAYS = []
    client.force_login(superuser)
    assert set(dashboard(client)) == ALL_TILES - {"expiring"}


# --- Each link lists exactly the rows counted ----------------------------------------------


def test_the_disabled_customers_tile_leads_to_the_disabled_customers(client, superuser, seeded):
    client.force_login(superuser)
    tile = dashboard(client)["disabled-customers"]
    cl = listed(client, tile.url)
    assert cl.result_count == tile.figure
    assert {customer.name for customer in cl.queryset} == {"Bolt", "Core"}


def test_the_expiring_and_grace_tiles_lead_to_those_entitlements(client, superuser, seeded):
    client.force_login(superuser)
    shown = dashboard(client)
    expiring = listed(client, shown["expiring"].url)
    assert expiring.result_count == shown["expiring"].figure == 2
    assert all(NOW < e.valid_until <= NOW + 30 * DAY for e in expiring.queryset)
    in_grace = listed(client, shown["in-grace"].url)
    assert in_grace.result_count == shown["in-grace"].figure == 1
    assert [e.seats for e in in_grace.queryset] == [4]


def test_the_seat_tiles_lead_to_the_entitlements_and_slots_they_add_up(client, superuser, seeded):
    client.force_login(superuser)
    shown = dashboard(client)

    node_locked_seats = shown["node-locked-seats"]
    cl = listed(client, node_locked_seats.url)
    assert cl.result_count == 9
    assert sum(e.seats_used for e in cl.queryset) == node_locked_seats.figure
    assert sum(e.seats for e in cl.queryset) == node_locked_seats.of

    floating_seats = shown["floating-seats"]
    slots = listed(client, floating_seats.url)
    assert slots.result_count == floating_seats.figure == 4
    entitlements = listed(client, floating_seats.links[0].url)
    assert entitlements.result_count == 1
    assert sum(e.seats for e in entitlements.queryset) == floating_seats.of


def test_the_webhook_tile_leads_to_the_failed_deliveries_it_counts(client, superuser, seeded):
    client.force_login(superuser)
    tile = dashboard(client)["failing-webhooks"]
    cl = listed(client, tile.url)
    assert cl.result_count == 3
    assert {d.status for d in cl.queryset} == {WebhookDelivery.Status.FAILED}
    assert len({d.endpoint_id for d in cl.queryset}) == tile.figure


def test_the_trials_tile_leads_to_the_trials_started_and_converted_this_week(client, superuser, seeded):
    client.force_login(superuser)
    tile = dashboard(client)["trials"]
    started = listed(client, tile.url)
    assert started.result_count == tile.figure == 2
    assert all(t.created_at >= NOW - 7 * DAY for t in started.queryset)
    converted_link, running_link = tile.links
    converted = listed(client, converted_link.url)
    assert converted.result_count == 2
    assert all(t.converted_at >= NOW - 7 * DAY for t in converted.queryset)
    running_trials = listed(client, running_link.url)
    assert running_trials.result_count == Entitlement.objects.filter(is_trial=True).count() == 2


# --- The latest changes --------------------------------------------------------------------


def test_the_ten_latest_audit_events_link_to_what_they_changed(client, superuser, frozen):
    customer = CustomerFactory(name="Acme")
    for minutes in range(12):
        AuditEvent.objects.create(
            occurred_at=NOW - dt.timedelta(minutes=minutes),
            actor_type=AuditEvent.ActorType.STAFF,
            actor_label="root",
            action=f"customer.updated.{minutes}",
            target_type="licensing.customer",
            target_id=customer.pk,
            target_repr=customer.name,
        )
    AuditEvent.objects.create(
        occurred_at=NOW + dt.timedelta(seconds=1), actor_type=AuditEvent.ActorType.CLIENT, action="license.refused"
    )
    client.force_login(superuser)

    response = client.get(reverse("admin:index"))

    rows = response.context["audit_rows"]
    assert [row.event.action for row in rows] == ["license.refused"] + [f"customer.updated.{m}" for m in range(9)]
    assert rows[0].url is None  # names nothing
    assert {row.url for row in rows[1:]} == {change_url(customer)}
    page = response.content.decode()
    assert f'<a href="{change_url(customer)}">Acme</a>' in page
    assert f'href="{reverse("admin:licensing_auditevent_changelist")}"' in page


# --- Constant queries ----------------------------------------------------------------------


def populate(n: int, actor) -> None:
    """n rows of every kind the dashboard counts."""
    now = timezone.now()
    product = ProductFactory()
    for i in range(n):
        customer = disabled_customer(actor) if i % 2 else CustomerFactory()
        node_locked(customer, seats=3, used=1, product=product)
        node_locked(customer, seats=2, product=product, valid_until=now + 3 * DAY)
        node_locked(customer, seats=2, product=product, valid_until=now - DAY, grace_period=3 * DAY)
        floating(customer, seats=2, live=1, lapsed=1)
        failed(WebhookEndpointFactory(), ago=DAY)
        trial(customer, started_ago=DAY, converted_ago=DAY / 2)


def queries_of(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("admin:index")).status_code == 200
    return len(captured)


@pytest.mark.parametrize("who", ["superuser", "support_user"])
def test_the_dashboard_costs_the_same_queries_for_2_or_20_rows_of_each_kind(
    client, who, request, actor, django_assert_num_queries
):
    client.force_login(request.getfixturevalue(who))
    populate(2, actor)
    few = queries_of(client)

    populate(18, actor)

    with django_assert_num_queries(few):
        shown = dashboard(client)
    # Half the customers are disabled: the other half's one license each is in use.
    assert shown["node-locked-seats"].figure == 10
    assert shown["disabled-customers"].figure == 10
    assert shown["failing-webhooks"].figure == 20
    assert shown["trials"].figure == 20
    assert few <= 20


# --- Permissions ---------------------------------------------------------------------------


def staff_who_may_view(*models: str):
    """A staff member with the support role's view permissions, minus those not named."""
    codenames = [c for c in role_permissions()["support"] if c.removeprefix("view_") in models]
    user = StaffUserFactory()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="licensing", codename__in=codenames))
    return user


def test_support_staff_see_every_tile(client, support_user, seeded):
    client.force_login(support_user)
    assert set(dashboard(client)) == ALL_TILES


def test_a_tile_about_rows_the_user_may_not_view_is_not_shown(client, seeded):
    everything_but_customers = [
        "entitlement", "floatingslot", "trial", "auditevent", "webhookdelivery", "webhookendpoint", "license",
    ]  # fmt: skip
    client.force_login(staff_who_may_view(*everything_but_customers))

    response = client.get(reverse("admin:index"))

    assert set(tiles(response)) == ALL_TILES - {"disabled-customers"}
    page = response.content.decode()
    assert 'data-tile="disabled-customers"' not in page
    assert "?disabled=yes" not in page
    # The customers' own audit events are listed, but lead nowhere the user may not go.
    customer_events = [row for row in response.context["audit_rows"] if row.event.target_type == "licensing.customer"]
    assert customer_events
    assert all(row.url is None for row in customer_events)


def test_staff_who_may_view_only_customers_see_only_their_tile(client, seeded):
    client.force_login(staff_who_may_view("customer"))

    response = client.get(reverse("admin:index"))

    assert set(tiles(response)) == {"disabled-customers"}
    assert response.context["audit_rows"] is None
    page = response.content.decode()
    assert "Latest changes" not in page
    assert "Trials started" not in page


def test_trial_staff_who_may_not_view_entitlements_get_no_link_to_them(client, seeded):
    client.force_login(staff_who_may_view("trial"))
    shown = dashboard(client)
    assert set(shown) == {"trials"}
    assert [link.text for link in shown["trials"].links] == ["2 converted to paid"]


def test_staff_who_may_view_nothing_see_no_tiles(client, seeded):
    client.force_login(StaffUserFactory())
    response = client.get(reverse("admin:index"))
    assert response.context["tile_groups"] == []
    assert "You don’t have permission to view or edit anything." in response.content.decode()
