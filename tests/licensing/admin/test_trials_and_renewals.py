"""Trials, grace and renewal in the vendor's admin: Renew and Convert to paid call the
services (`entitlement_renew`, `trial_convert`) and show their refusals on the form; the
list finds trials, entitlements ending soon and those in grace; products set their trial
terms; trials are listed read-only. Nothing here deletes anything."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from licensing import limits, services
from licensing.actors import Actor
from licensing.models import AuditEvent, Entitlement, Product, ProductFeature, Trial
from licensing.services import trials
from tests.factories import CustomerFactory, EntitlementFactory, LicenseFactory, ProductFactory
from tests.licensing.admin.test_list_pages import count_queries
from tests.licensing.admin.urls import change_url

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def trials_unlimited(monkeypatch):
    """Tests here hand out trials by the dozen, all from one (unknown) address."""
    monkeypatch.setattr(trials, "TRIALS_PER_ADDRESS", limits.Limit("trial-admin-test", attempts=1000, window=60))


@pytest.fixture
def frozen():
    with time_machine.travel(T0, tick=False):
        yield T0


def renew_url(entitlement: Entitlement) -> str:
    return reverse("admin:licensing_entitlement_renew", args=[entitlement.pk])


def convert_url(entitlement: Entitlement) -> str:
    return reverse("admin:licensing_entitlement_convert", args=[entitlement.pk])


def ending(at: dt.datetime, **fields) -> Entitlement:
    return EntitlementFactory(valid_from=at - 365 * DAY, valid_until=at, **fields)


def trial(email: str = "eve@example.com", hardware_id: str = "hw-trial-1", product: Product | None = None) -> Trial:
    """A trial handed out as GET /api/v4/trial_key hands it out."""
    product = product or ProductFactory(name="Photon", trial_allowed=True, trial_duration=14)
    return services.trial_start(product=product, hardware_id=hardware_id, email=email, actor=Actor.system("test"))


def listed(client, **filters) -> set[Entitlement]:
    response = client.get(reverse("admin:licensing_entitlement_changelist"), filters)
    assert response.status_code == 200
    return set(response.context["cl"].result_list)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- Renew -------------------------------------------------------------------------------


def test_renewing_by_days_from_the_current_end_moves_it_and_is_audited(client, superuser, frozen):
    entitlement = ending(T0 + 10 * DAY)
    client.force_login(superuser)
    assert renew_url(entitlement) in client.get(change_url(entitlement)).content.decode()

    response = client.post(renew_url(entitlement), {"days": "30", "start": "expiry", "reason": "PO 991"}, follow=True)

    assert response.redirect_chain == [(change_url(entitlement), 302)]
    entitlement.refresh_from_db()
    assert entitlement.valid_until == T0 + 40 * DAY
    event = AuditEvent.objects.for_target(entitlement).get(action="entitlement.renewed")
    assert (event.actor_label, event.reason) == ("root", "PO 991")
    assert event.after == {"valid_until": (T0 + 40 * DAY).isoformat()}
    assert messages_of(response) == [f"“{entitlement}” renewed: valid until 2026-04-11 09:00 UTC."]


def test_renewing_by_days_from_now_restarts_a_long_expired_entitlement(client, superuser, frozen):
    entitlement = ending(T0 - 100 * DAY)
    client.force_login(superuser)

    client.post(renew_url(entitlement), {"days": "365", "start": "now"})

    entitlement.refresh_from_db()
    assert entitlement.valid_until == T0 + 365 * DAY
    assert entitlement.verdict(T0).status == "active"


def test_renewing_to_a_date_sets_that_end(client, superuser, frozen):
    entitlement = ending(T0 + 10 * DAY)
    client.force_login(superuser)

    response = client.post(
        renew_url(entitlement), {"valid_until_0": "2027-03-31", "valid_until_1": "23:59:00", "start": "expiry"}
    )

    assert response.status_code == 302
    entitlement.refresh_from_db()
    assert entitlement.valid_until == dt.datetime(2027, 3, 31, 23, 59, tzinfo=dt.UTC)
    assert AuditEvent.objects.filter(action="entitlement.renewed").count() == 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"days": "0"}, "days", "A renewal is 1 to 3650 days."),
        ({"days": "5000"}, "days", "A renewal is 1 to 3650 days."),
        ({"days": "ten"}, "days", "Enter a whole number."),
        ({}, None, "Give either the new end of validity or a number of days."),
        (
            {"days": "3", "valid_until_0": "2027-01-01", "valid_until_1": "00:00:00"},
            None,
            "Give either the new end of validity or a number of days.",
        ),
        (
            {"valid_until_0": "2026-03-05", "valid_until_1": "00:00:00"},
            "valid_until",
            "A renewal moves the end of validity later; edit the entitlement to shorten it.",
        ),
        (
            {"valid_until_0": "2026-03-01", "valid_until_1": "00:00:00"},
            "valid_until",
            "The new end of validity would be in the past.",
        ),
        ({"valid_until_0": "someday", "valid_until_1": "noon"}, "valid_until", "Enter a valid date."),
        ({"days": "3", "start": "whenever"}, "start", "Select a valid choice."),
    ],
)
def test_a_bad_renewal_is_shown_on_the_form_and_changes_nothing(client, superuser, frozen, data, field, message):
    entitlement = ending(T0 + 10 * DAY)
    client.force_login(superuser)

    response = client.post(renew_url(entitlement), {"start": "expiry", **data})

    assert response.status_code == 200
    form = response.context["form"]
    errors = form.non_field_errors() if field is None else form.errors[field]
    assert any(message in error for error in errors), form.errors
    assert message in response.content.decode().replace("&#x27;", "'")
    entitlement.refresh_from_db()
    assert entitlement.valid_until == T0 + 10 * DAY
    assert not AuditEvent.objects.filter(action="entitlement.renewed").exists()


def test_view_only_staff_see_neither_button_and_are_refused_both_pages(client, support_user):
    entitlement = trial().entitlement
    before = entitlement.valid_until
    client.force_login(support_user)

    page = client.get(change_url(entitlement)).content.decode()

    assert renew_url(entitlement) not in page and convert_url(entitlement) not in page
    assert client.get(renew_url(entitlement)).status_code == 403
    assert client.post(renew_url(entitlement), {"days": "30", "start": "expiry"}).status_code == 403
    assert client.post(convert_url(entitlement), {"reason": "forged"}).status_code == 403
    entitlement.refresh_from_db()
    assert (entitlement.valid_until, entitlement.is_trial) == (before, True)
    assert not AuditEvent.objects.filter(action__in=["entitlement.renewed", "trial.converted"]).exists()


def test_a_perpetual_entitlement_offers_no_renew_and_refuses_one(client, superuser):
    entitlement = EntitlementFactory(valid_until=None)
    client.force_login(superuser)

    assert renew_url(entitlement) not in client.get(change_url(entitlement)).content.decode()
    response = client.post(renew_url(entitlement), {"days": "30", "start": "expiry"}, follow=True)

    assert response.redirect_chain == [(change_url(entitlement), 302)]
    assert messages_of(response) == [f"“{entitlement}” never ends: there is nothing to renew."]
    entitlement.refresh_from_db()
    assert entitlement.valid_until is None
    assert not AuditEvent.objects.filter(action="entitlement.renewed").exists()


def test_the_renew_page_shows_the_current_end_and_both_ways_to_renew(client, superuser, frozen):
    entitlement = ending(T0 + 10 * DAY)
    client.force_login(superuser)

    response = client.get(renew_url(entitlement))

    page = response.content.decode()
    assert "End of validity: Ends in 10 days (2026-03-12 09:00 UTC)." in page
    assert 'name="valid_until_0"' in page and 'name="days"' in page and 'name="reason"' in page
    assert response.context["form"]["start"].value() == "expiry"


# --- Convert to paid ---------------------------------------------------------------------


def test_converting_a_trial_moves_it_to_the_customer_keeps_its_devices_and_is_audited(client, superuser, frozen):
    handed_out = trial()
    entitlement = handed_out.entitlement
    license = LicenseFactory(activation_code=entitlement.activation_codes.get(), device__customer=entitlement.customer)
    buyer = CustomerFactory(name="Eve's Studio")
    client.force_login(superuser)
    page = client.get(change_url(entitlement)).content.decode()
    assert convert_url(entitlement) in page and 'class="status-badge trial-badge"' in page

    response = client.post(
        convert_url(entitlement),
        {"customer": str(buyer.pk), "valid_until_0": "2027-03-02", "valid_until_1": "09:00:00", "reason": "Order 7"},
        follow=True,
    )

    assert response.redirect_chain == [(change_url(entitlement), 302)]
    entitlement.refresh_from_db()
    assert (entitlement.is_trial, entitlement.customer, entitlement.valid_until) == (
        False,
        buyer,
        dt.datetime(2027, 3, 2, 9, 0, tzinfo=dt.UTC),
    )
    handed_out.refresh_from_db()
    assert handed_out.converted_at == T0
    license.refresh_from_db()
    assert license.device.customer == buyer
    event = AuditEvent.objects.for_target(entitlement).get(action="trial.converted")
    assert (event.actor_label, event.reason, event.before["is_trial"], event.after["is_trial"]) == (
        "root",
        "Order 7",
        True,
        False,
    )
    assert messages_of(response) == [f"Trial converted: “{entitlement}” is paid, valid until 2027-03-02 09:00 UTC."]
    page = response.content.decode()
    assert "trial-badge" not in page and convert_url(entitlement) not in page
    assert "From a trial" in page and "Converted to paid 2026-03-02 09:00 UTC" in page


def test_converting_with_no_end_keeps_the_customer_and_makes_it_perpetual(client, superuser):
    entitlement = trial().entitlement
    customer = entitlement.customer
    client.force_login(superuser)

    client.post(convert_url(entitlement), {"customer": "", "no_end": "on"})

    entitlement.refresh_from_db()
    assert (entitlement.is_trial, entitlement.customer, entitlement.valid_until) == (False, customer, None)


def test_converting_without_a_new_end_keeps_the_trials_end(client, superuser):
    entitlement = trial().entitlement
    end = entitlement.valid_until
    client.force_login(superuser)

    client.post(convert_url(entitlement), {"customer": "", "reason": ""})

    entitlement.refresh_from_db()
    assert (entitlement.is_trial, entitlement.valid_until) == (False, end)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"no_end": "on", "valid_until_0": "2027-01-01", "valid_until_1": "00:00:00"},
            "valid_until",
            "Give a new end, or tick “No end”, not both.",
        ),
        (
            {"valid_until_0": "2020-01-01", "valid_until_1": "00:00:00"},
            "valid_until",
            "Must be in the future and after the start of validity.",
        ),
        ({"customer": "not-a-customer"}, "customer", "is not a valid UUID."),
    ],
)
def test_a_bad_conversion_is_shown_on_the_form_and_changes_nothing(client, superuser, data, field, message):
    entitlement = trial().entitlement
    client.force_login(superuser)

    response = client.post(convert_url(entitlement), data)

    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field])
    entitlement.refresh_from_db()
    assert entitlement.is_trial
    assert not AuditEvent.objects.filter(action="trial.converted").exists()


def test_converting_a_paid_entitlement_is_refused(client, superuser):
    entitlement = EntitlementFactory()
    client.force_login(superuser)

    assert convert_url(entitlement) not in client.get(change_url(entitlement)).content.decode()
    response = client.post(convert_url(entitlement), {"no_end": "on"}, follow=True)

    assert messages_of(response) == [f"“{entitlement}” is not a trial: nothing to convert."]
    entitlement.refresh_from_db()
    assert entitlement.valid_until is not None
    assert not AuditEvent.objects.filter(action="trial.converted").exists()


# --- The list and the page ---------------------------------------------------------------


def test_the_list_marks_trials_and_filters_trial_or_paid(client, superuser):
    handed_out, paid = trial().entitlement, EntitlementFactory()
    client.force_login(superuser)

    page = client.get(reverse("admin:licensing_entitlement_changelist")).content.decode()

    assert page.count('class="status-badge trial-badge"') == 1
    assert listed(client, trial="yes") == {handed_out}
    assert listed(client, trial="no") == {paid}


def test_the_list_filters_entitlements_expiring_soon_and_in_grace(client, superuser, frozen, settings):
    settings.LICENSING_EXPIRY_NOTICE_DAYS = [30, 7]
    soon = ending(T0 + 10 * DAY)
    last_moment = ending(T0 + 30 * DAY)
    ending(T0 + 31 * DAY)  # later than the first notice
    in_grace = ending(T0 - 2 * DAY, grace_period=7 * DAY)
    grace_ends_now = ending(T0 - 7 * DAY, grace_period=7 * DAY)  # licenses work to this very moment
    ending(T0 - 8 * DAY, grace_period=7 * DAY)  # grace over
    ending(T0 - DAY)  # ended, no grace
    EntitlementFactory(valid_until=None)
    client.force_login(superuser)

    assert listed(client, ending="soon") == {soon, last_moment}
    assert listed(client, ending="grace") == {in_grace, grace_ends_now}
    assert listed(client, ending="grace", trial="yes") == set()
    page = client.get(reverse("admin:licensing_entitlement_changelist")).content.decode()
    assert "Expiring soon (within 30 days)" in page and "In grace" in page


def test_the_page_says_in_grace_until_and_lists_the_expiry_notices_sent(client, superuser, frozen):
    entitlement = ending(T0 + 5 * DAY, grace_period=7 * DAY)
    services.expiry_notices_send()  # the 7-day notice
    client.force_login(superuser)

    page = client.get(change_url(entitlement)).content.decode()
    assert "Ends in 5 days (2026-03-07 09:00 UTC), then 7 days of grace." in page
    assert "<td>7 days before the end</td><td>2026-03-07 09:00 UTC</td><td>2026-03-02 09:00 UTC</td>" in page

    with time_machine.travel(T0 + 6 * DAY, tick=False):
        page = client.get(change_url(entitlement)).content.decode()
    assert "In grace until 2026-03-14 09:00 UTC" in page


def test_grace_period_is_edited_on_the_page_through_the_service(client, superuser):
    from tests.licensing.admin.test_bad_input import entitlement_form_data

    entitlement = EntitlementFactory()
    client.force_login(superuser)

    response = client.post(change_url(entitlement), entitlement_form_data(entitlement, grace_period="14 00:00:00"))

    assert response.status_code == 302, response.content.decode()[:2000]
    entitlement.refresh_from_db()
    assert entitlement.grace_period == 14 * DAY
    event = AuditEvent.objects.for_target(entitlement).get(action="entitlement.updated")
    assert event.actor_label == "root"
    response = client.post(change_url(entitlement), entitlement_form_data(entitlement, grace_period="91 00:00:00"))
    assert "less than or equal to 90" in response.content.decode()


def test_entitlement_list_queries_do_not_grow_with_trials_grace_and_notices(
    client, superuser, django_assert_max_num_queries
):
    client.force_login(superuser)
    url = reverse("admin:licensing_entitlement_changelist")
    trial("a@example.com", "hw-a")
    few = count_queries(client, url)
    for n in range(15):
        trial(f"t{n}@example.com", f"hw-{n}")
        ending(dt.datetime.now(dt.UTC) - DAY, grace_period=7 * DAY)
    services.expiry_notices_send()
    for filters in ("", "?trial=yes", "?ending=grace", "?ending=soon&trial=no"):
        with django_assert_max_num_queries(few):
            assert client.get(url + filters).status_code == 200


# --- Products' trial terms ---------------------------------------------------------------


def product_form_data(product: Product, **overrides) -> dict:
    data = {
        "name": product.name,
        "code": product.code,
        "authorization_method": product.authorization_method,
        "trial_duration": product.trial_duration,
        "trial_seats": product.trial_seats,
    }
    return data | overrides


def test_the_products_trial_terms_are_saved_through_the_service(client, superuser):
    product = ProductFactory()
    export = ProductFeature.objects.create(product=product, code="export", name="Export")
    ProductFeature.objects.create(product=product, code="cloud", name="Cloud")
    client.force_login(superuser)
    page = client.get(change_url(product)).content.decode()
    assert "Trials" in page and 'name="trial_features"' in page

    response = client.post(
        change_url(product),
        product_form_data(product, trial_allowed="on", trial_duration=30, trial_seats=2, trial_features=[export.pk]),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    product.refresh_from_db()
    assert (product.trial_allowed, product.trial_duration, product.trial_seats) == (True, 30, 2)
    assert list(product.trial_features.all()) == [export]
    event = AuditEvent.objects.for_target(product).get(action="product.updated")
    assert event.after["trial_features"] == [str(export.pk)] and event.after["trial_allowed"] is True


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"trial_duration": 366}, "trial_duration", "less than or equal to 365"),
        ({"trial_seats": 0}, "trial_seats", "greater than or equal to 1"),
        ({"trial_allowed": "on", "authorization_method": "user"}, "trial_allowed", "only products activated with keys"),
    ],
)
def test_bad_trial_terms_are_refused_with_a_message(client, superuser, overrides, field, message):
    product = ProductFactory()
    client.force_login(superuser)

    response = client.post(change_url(product), product_form_data(product, **overrides))

    assert response.status_code == 200
    assert any(message in error for error in response.context["adminform"].form.errors[field])
    product.refresh_from_db()
    assert not product.trial_allowed and product.authorization_method == "license_key"


def test_a_trial_grants_only_the_products_own_features(client, superuser):
    product = ProductFactory()
    stranger = ProductFeature.objects.create(product=ProductFactory(), code="stranger", name="Stranger")
    client.force_login(superuser)

    assert "Stranger" not in client.get(change_url(product)).content.decode()
    response = client.post(change_url(product), product_form_data(product, trial_features=[stranger.pk]))

    assert response.status_code == 200
    assert "Select a valid choice" in str(response.context["adminform"].form.errors["trial_features"])
    assert not product.trial_features.exists()


def test_a_new_product_sets_trial_terms_but_features_only_once_it_has_them(client, superuser):
    client.force_login(superuser)
    page = client.get(reverse("admin:licensing_product_add")).content.decode()
    assert 'name="trial_allowed"' in page and 'name="trial_features"' not in page

    response = client.post(
        reverse("admin:licensing_product_add"),
        {"name": "Photon", "code": "photon", "authorization_method": "license_key", "trial_allowed": "on"}
        | {"trial_duration": 7, "trial_seats": 1},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    product = Product.objects.get(code="photon")
    assert (product.trial_allowed, product.trial_duration) == (True, 7)


# --- Trials ------------------------------------------------------------------------------


def test_trials_are_listed_read_only_and_filtered_by_product_and_conversion(client, superuser, frozen):
    eve = trial("eve@example.com", "hw-eve")
    other = trial("bob@example.com", "hw-bob", product=ProductFactory(name="Nova", trial_allowed=True))
    services.trial_convert(entitlement=other.entitlement, actor=Actor.system("test"))
    client.force_login(superuser)
    url = reverse("admin:licensing_trial_changelist")

    response = client.get(url)

    page = response.content.decode()
    assert all(text in page for text in ["eve@example.com", "hw-eve", "bob@example.com", "hw-bob", "Nova"])
    assert f'<a href="{change_url(eve.entitlement)}">{eve.entitlement}</a>' in page
    assert page.count("2026-03-02 09:00 UTC") == 3  # two started, one converted
    assert set(client.get(url, {"converted": "no"}).context["cl"].result_list) == {eve}
    assert set(client.get(url, {"converted": "yes"}).context["cl"].result_list) == {other}
    assert set(client.get(url, {"product__id__exact": str(eve.product_id)}).context["cl"].result_list) == {eve}
    assert 'name="_save"' not in client.get(change_url(eve)).content.decode()
    assert client.get(reverse("admin:licensing_trial_add")).status_code == 403
    assert client.post(reverse("admin:licensing_trial_delete", args=[eve.pk]), {"post": "yes"}).status_code == 403
    assert Trial.objects.count() == 2


def test_trial_list_queries_do_not_grow_with_rows(client, superuser, django_assert_max_num_queries):
    client.force_login(superuser)
    url = reverse("admin:licensing_trial_changelist")
    trial("a@example.com", "hw-a")
    few = count_queries(client, url)
    product = ProductFactory(trial_allowed=True)
    for n in range(20):
        trial(f"t{n}@example.com", f"hw-{n}", product=product)
    with django_assert_max_num_queries(few):
        assert client.get(url).status_code == 200
    assert few <= 10


@pytest.mark.parametrize("bad_id", ["not-a-customer", "1" * 300])
def test_a_malformed_customer_id_is_a_field_error_not_a_server_error(client, superuser, bad_id):
    # The customer autocomplete of the Convert form, and of the entitlement's add page,
    # shows the submitted choice again: a value that cannot be an id is not looked up.
    product = ProductFactory()
    client.force_login(superuser)

    response = client.post(reverse("admin:licensing_entitlement_add"), {"customer": bad_id, "product": product.pk})

    assert response.status_code == 200
    assert "is not a valid UUID" in str(response.context["adminform"].form.errors["customer"])
    assert not Entitlement.objects.exists()
