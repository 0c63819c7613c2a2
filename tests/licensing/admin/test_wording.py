"""The admin speaks the vendor's words, not the developer's: "Record" and "Who", record
types by name, changes as "field: before → after", durations as "1 day", one date
format, filters with plain titles that can match something."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from licensing import services
from licensing.models import AuditEvent, Entitlement
from tests.factories import CustomerFactory, EntitlementFactory, LicenseFactory, LicenseTransactionFactory
from tests.licensing.admin.test_bad_input import entitlement_form_data
from tests.licensing.admin.urls import change_url

pytestmark = pytest.mark.django_db

DJANGO_MOMENT = re.compile(r"\b(a\.m\.|p\.m\.|noon|midnight)")


def text_of(html: str) -> str:
    """What a person reads: the page without its tags (and their attributes)."""
    return re.sub(r"<[^>]*>", " ", html)


def audited_entitlement(actor) -> Entitlement:
    entitlement = EntitlementFactory(customer=CustomerFactory(name="Acme"))
    services.entitlement_update(
        entitlement=entitlement, data={"lease_period": dt.timedelta(hours=6), "seats": 7}, actor=actor
    )
    order = LicenseTransactionFactory(customer=entitlement.customer)
    services.transaction_suspend(license_transaction=order, actor=actor, reason="payment failed")
    return entitlement


def test_the_audit_log_says_record_and_who_in_words(client, superuser, actor):
    audited_entitlement(actor)
    client.force_login(superuser)

    page = text_of(client.get(reverse("admin:licensing_auditevent_changelist")).content.decode())

    for developer_words in ("TARGET REPR", "Target repr", "ACTOR LABEL", "Actor label", "licensing.", "{", "00:00:00"):
        assert developer_words not in page, developer_words
    assert "Record" in page and "Who" in page
    assert "License transaction" in page  # the record's type, and a filter choice
    assert "test (System)" in page
    assert "payment failed" in page
    assert not DJANGO_MOMENT.search(page)


def test_an_audit_event_page_lists_its_changes_in_words(client, superuser, actor):
    entitlement = audited_entitlement(actor)
    event = AuditEvent.objects.for_target(entitlement).get(action="entitlement.updated")
    client.force_login(superuser)
    page = client.get(reverse("admin:licensing_auditevent_change", args=[event.pk])).content.decode()
    assert "Lease period:</span> 1 day → 6 hours" in page
    assert "Seats:</span> 5 → 7" in page
    assert "{" not in text_of(page.split('id="content"')[1])


def test_the_entitlement_page_writes_durations_in_words(client, superuser, actor):
    entitlement = audited_entitlement(actor)
    client.force_login(superuser)

    html = client.get(change_url(entitlement)).content.decode()

    assert "00:00:00" not in html
    assert 'name="lease_period" value="6 hours"' in html
    assert 'name="offline_grace" value="7 days"' in html
    assert "e.g. “1 day” for a day" in html  # the model's example, in the words the field takes
    assert not DJANGO_MOMENT.search(text_of(html))


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("6 hours", dt.timedelta(hours=6)),
        ("1 day 12 hours", dt.timedelta(days=1, hours=12)),
        ("2d 3h", dt.timedelta(days=2, hours=3)),
        ("90 minutes", dt.timedelta(minutes=90)),
        ("1 00:00:00", dt.timedelta(days=1)),  # Django's own format still works
    ],
)
def test_durations_are_typed_in_words(client, superuser, typed, expected):
    entitlement = EntitlementFactory()
    client.force_login(superuser)
    response = client.post(change_url(entitlement), entitlement_form_data(entitlement, lease_period=typed))
    assert response.status_code == 302
    entitlement.refresh_from_db()
    assert entitlement.lease_period == expected


def test_a_duration_that_is_not_one_is_refused(client, superuser):
    entitlement = EntitlementFactory()
    client.force_login(superuser)
    response = client.post(change_url(entitlement), entitlement_form_data(entitlement, lease_period="6 fortnights"))
    assert response.status_code == 200
    assert "Enter a valid duration." in response.content.decode()


def test_filters_have_plain_titles_and_offer_only_what_can_match(client, superuser):
    client.force_login(superuser)

    def offered(url_name: str) -> dict[str, list[str]]:
        cl = client.get(reverse(url_name)).context["cl"]
        return {spec.title: [choice["display"] for choice in spec.choices(cl)] for spec in cl.filter_specs}

    customers = offered("admin:licensing_customer_changelist")
    assert "disabled" not in customers
    assert customers["status"] == ["All", "Disabled", "Enabled"]

    entitlements = offered("admin:licensing_entitlement_changelist")["effective status"]
    assert entitlements == ["All", "Active", "Disabled", "Suspended", "Not yet valid", "Expired"]

    licenses = offered("admin:licensing_license_changelist")["effective status"]
    assert {"Revoked", "Deactivated"} <= set(licenses)


def test_a_deactivated_license_shows_no_lease(client, superuser, actor):
    license = LicenseFactory(lease_expires_at=timezone.now() + dt.timedelta(days=1))
    services.license_deactivate(license=license, actor=actor)
    client.force_login(superuser)

    page = client.get(change_url(license)).content.decode()
    lease = re.search(r'field-lease_expires".*?<div class="readonly">(.*?)</div>', page, re.DOTALL)[1]
    assert lease.strip() == "—"

    listed = client.get(reverse("admin:licensing_license_changelist")).content.decode()
    cell = listed.split('class="field-lease_expires"')[1].split("</td>")[0]
    assert cell.strip(">").strip() == "—"


def test_lists_and_pages_write_moments_one_way(client, superuser):
    entitlement = EntitlementFactory(customer=CustomerFactory(name="Acme"))
    client.force_login(superuser)
    for url in (
        reverse("admin:licensing_customer_changelist"),
        reverse("admin:licensing_entitlement_changelist"),
        change_url(entitlement.customer),
        change_url(entitlement),
    ):
        page = text_of(client.get(url).content.decode())
        assert not DJANGO_MOMENT.search(page), url
    listed = client.get(reverse("admin:licensing_entitlement_changelist")).content.decode()
    until = timezone.localtime(entitlement.valid_until)
    assert f'<span class="nowrap">{until:%Y-%m-%d}</span> <span class="nowrap">{until:%H:%M}</span>' in listed


def test_the_entitlement_list_names_an_entitlement_by_its_product_beside_its_customer(client, superuser):
    entitlement = EntitlementFactory(customer=CustomerFactory(name="Acme Corporation"), product__name="Studio Desktop")
    client.force_login(superuser)
    page = client.get(reverse("admin:licensing_entitlement_changelist")).content.decode()
    assert "Studio Desktop for Acme Corporation" not in text_of(page)  # (a checkbox's label for screen readers has it)
    assert f'<a href="{change_url(entitlement)}">Studio Desktop' in page
    assert "Acme Corporation" in page
