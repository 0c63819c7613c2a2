"""A record's History link shows its audit events (who, when, why, what changed in words),
not Django's LogEntry rows, which nothing here writes."""

import pytest
from django.contrib import admin
from django.urls import reverse

from licensing import services
from licensing.models import AuditEvent, Customer, Entitlement
from tests.factories import CustomerFactory, EntitlementFactory, LicenseFactory, LicenseTransactionFactory
from tests.licensing.admin.urls import change_url

pytestmark = pytest.mark.django_db

DJANGO_EMPTY_HISTORY = "doesn’t have a change history"


def history_url(obj) -> str:
    return reverse(f"admin:licensing_{obj._meta.model_name}_history", args=[obj.pk])


def test_history_of_a_customer_lists_its_audited_switches_with_who_and_why(client, superuser, actor):
    customer = CustomerFactory(name="Acme")
    services.customer_disable(customer=customer, actor=actor, reason="Invoice 42 overdue")
    services.customer_enable(customer=customer, actor=actor)
    client.force_login(superuser)

    page = client.get(history_url(customer)).content.decode()

    assert DJANGO_EMPTY_HISTORY not in page
    assert page.index("customer.enabled") < page.index("customer.disabled")  # newest first
    assert "Invoice 42 overdue" in page
    assert "test (System)" in page
    assert "Status:</span> Active → Disabled" in page


def test_history_of_an_entitlement_shows_its_edits_in_words(client, superuser, actor):
    entitlement = EntitlementFactory(seats=5)
    services.entitlement_update(entitlement=entitlement, data={"seats": 8}, actor=actor)
    client.force_login(superuser)

    page = client.get(history_url(entitlement)).content.decode()

    assert "entitlement.updated" in page
    assert "Seats:</span> 5 → 8" in page
    assert "{" not in page.split('id="change-history"')[1]


def test_history_pages_through_many_events(client, superuser, actor):
    customer = CustomerFactory()
    for _ in range(30):
        services.customer_disable(customer=customer, actor=actor)
        services.customer_enable(customer=customer, actor=actor)
    client.force_login(superuser)

    first = client.get(history_url(customer))
    second = client.get(history_url(customer), {"p": 2})

    assert len(first.context["rows"]) == 50
    assert len(second.context["rows"]) == 10
    assert "60 changes" in first.content.decode()


def test_history_is_refused_to_staff_without_view_permission(client, actor):
    from tests.factories import StaffUserFactory

    customer = CustomerFactory()
    client.force_login(StaffUserFactory())
    assert client.get(history_url(customer)).status_code == 403


def test_history_of_an_unknown_record_redirects_with_a_message(client, superuser):
    client.force_login(superuser)
    url = reverse("admin:licensing_customer_history", args=["00000000-0000-0000-0000-000000000000"])
    response = client.get(url, follow=True)
    assert "doesn’t exist" in response.content.decode()


@pytest.mark.parametrize(
    "make",
    [CustomerFactory, EntitlementFactory, LicenseTransactionFactory, LicenseFactory],
    ids=["customer", "entitlement", "transaction", "license"],
)
def test_every_history_link_leads_to_the_audit_history(client, superuser, make):
    obj = make()
    client.force_login(superuser)
    page = client.get(change_url(obj)).content.decode()
    assert history_url(obj) in page
    response = client.get(history_url(obj))
    assert response.status_code == 200
    assert "admin/licensing/object_history.html" in [template.name for template in response.templates]


def test_every_licensing_model_admin_shows_the_audit_history():
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label == "licensing":
            assert type(model_admin).history_view.__qualname__ == "AuditHistoryMixin.history_view", model


def test_record_page_links_to_all_its_history_when_it_has_more_than_it_shows(client, superuser, actor):
    entitlement = EntitlementFactory()
    for _ in range(13):
        services.entitlement_disable(entitlement=entitlement, actor=actor)
        services.entitlement_enable(entitlement=entitlement, actor=actor)
    client.force_login(superuser)
    page = client.get(change_url(entitlement)).content.decode()
    assert page.count("entitlement.disabled") + page.count("entitlement.enabled") == 25
    assert f'href="{history_url(entitlement)}">All changes of this record' in page
    assert AuditEvent.objects.for_target(entitlement).count() == 26
    assert Entitlement.objects.count() == Customer.objects.count() == 1
