"""List pages show effective status computed in the query, in a constant number of
queries whatever the row count."""

from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from licensing import services
from licensing.models import AuditEvent
from tests.factories import (
    ActivationCodeFactory,
    CustomerFactory,
    EntitlementFactory,
    LicenseFactory,
    LicenseTransactionFactory,
    LicenseUserFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db


def populate(n: int) -> None:
    for _ in range(n):
        transaction = LicenseTransactionFactory()
        LicenseFactory(
            activation_code__entitlement__customer=transaction.customer,
            activation_code__entitlement__transaction=transaction,
        )


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    "page",
    [
        "admin:licensing_customer_changelist",
        "admin:licensing_entitlement_changelist",
        "admin:licensing_activationcode_changelist",
        "admin:licensing_license_changelist",
        "admin:licensing_licensetransaction_changelist",
        "admin:licensing_device_changelist",
        "admin:licensing_auditevent_changelist",
    ],
)
def test_list_page_queries_do_not_grow_with_rows(client, superuser, page, django_assert_max_num_queries, actor):
    client.force_login(superuser)
    url = reverse(page)
    populate(2)
    few = count_queries(client, url)
    populate(40)
    for customer in CustomerFactory._meta.model.objects.all()[:10]:
        services.customer_disable(customer=customer, actor=actor)
    with django_assert_max_num_queries(few):
        response = client.get(url)
    assert response.status_code == 200
    assert few <= 12


def test_customer_page_with_many_entitlements_renders_in_constant_queries(
    client, superuser, django_assert_max_num_queries
):
    client.force_login(superuser)
    small, large = CustomerFactory(), CustomerFactory()
    EntitlementFactory(customer=small)
    EntitlementFactory.create_batch(60, customer=large)
    few = count_queries(client, reverse("admin:licensing_customer_change", args=[small.pk]))
    with django_assert_max_num_queries(few):
        client.get(reverse("admin:licensing_customer_change", args=[large.pk]))


def test_entitlement_list_reads_disabled_after_customer_disable_and_restores_after_enable(client, superuser, actor):
    customer = CustomerFactory()
    _, second = EntitlementFactory.create_batch(2, customer=customer)
    services.entitlement_disable(entitlement=second, actor=actor)
    client.force_login(superuser)
    url = reverse("admin:licensing_entitlement_changelist") + f"?customer__id__exact={customer.pk}"

    services.customer_disable(customer=customer, actor=actor)
    page = client.get(url).content.decode()
    assert page.count("Disabled: customer disabled") == 2

    services.customer_enable(customer=customer, actor=actor)
    page = client.get(url).content.decode()
    assert page.count("Disabled: customer disabled") == 0
    assert page.count("Disabled: entitlement disabled") == 1
    assert page.count(">Active</span>") == 1


def test_customer_list_filters_disabled_and_searches(client, superuser, actor):
    acme = CustomerFactory(name="Acme", email="it@acme.example", external_id="CRM-77")
    other = CustomerFactory(name="Globex")
    services.customer_disable(customer=acme, actor=actor)
    client.force_login(superuser)
    url = reverse("admin:licensing_customer_changelist")

    disabled = client.get(url, {"disabled": "yes"}).context["cl"].result_list
    assert list(disabled) == [acme]
    enabled = client.get(url, {"disabled": "no"}).context["cl"].result_list
    assert list(enabled) == [other]
    for term in ("Acme", "it@acme.example", "CRM-77"):
        assert list(client.get(url, {"q": term}).context["cl"].result_list) == [acme]


def test_entitlement_list_filters_by_effective_status(client, superuser, actor):
    active = EntitlementFactory()
    disabled = EntitlementFactory()
    services.customer_disable(customer=disabled.customer, actor=actor)
    client.force_login(superuser)
    url = reverse("admin:licensing_entitlement_changelist")
    assert list(client.get(url, {"effective_status": "disabled"}).context["cl"].result_list) == [disabled]
    assert list(client.get(url, {"effective_status": "active"}).context["cl"].result_list) == [active]
    # An unknown value filters nothing rather than failing.
    assert client.get(url, {"effective_status": "bogus"}).status_code == 200


def test_activation_code_search_is_exact_match_only(client, superuser):
    code = ActivationCodeFactory()
    ActivationCodeFactory()
    client.force_login(superuser)
    url = reverse("admin:licensing_activationcode_changelist")
    assert list(client.get(url, {"q": code.code}).context["cl"].result_list) == [code]
    assert list(client.get(url, {"q": code.code[:4]}).context["cl"].result_list) == []


def test_audit_events_are_read_only_in_the_admin(client, superuser, actor):
    services.customer_disable(customer=CustomerFactory(), actor=actor)
    event = AuditEvent.objects.get()
    client.force_login(superuser)
    assert client.get(reverse("admin:licensing_auditevent_add")).status_code == 403
    assert client.post(reverse("admin:licensing_auditevent_delete", args=[event.pk])).status_code == 403
    page = client.get(reverse("admin:licensing_auditevent_change", args=[event.pk])).content.decode()
    assert 'name="_save"' not in page


def test_license_user_page_with_many_entitlements_renders_in_constant_queries(
    client, superuser, django_assert_max_num_queries
):
    client.force_login(superuser)
    product = ProductFactory(authorization_method="user")
    few_user, many_user = LicenseUserFactory(), LicenseUserFactory()
    few_user.entitlements.add(EntitlementFactory(customer=few_user.customer, product=product))
    many_user.entitlements.add(*EntitlementFactory.create_batch(30, customer=many_user.customer, product=product))
    few = count_queries(client, reverse("admin:licensing_licenseuser_change", args=[few_user.pk]))
    with django_assert_max_num_queries(few):
        client.get(reverse("admin:licensing_licenseuser_change", args=[many_user.pk]))


def test_entitlement_autocomplete_runs_in_constant_queries(client, superuser, django_assert_max_num_queries):
    client.force_login(superuser)
    url = reverse("admin:autocomplete")
    params = {"app_label": "licensing", "model_name": "licenseuser", "field_name": "entitlements", "term": ""}
    EntitlementFactory.create_batch(2)
    few = count_queries(client, url + "?" + urlencode(params))
    EntitlementFactory.create_batch(18)
    with django_assert_max_num_queries(few):
        response = client.get(url, params)
    assert len(response.json()["results"]) == 20


def test_saving_a_customer_does_not_revalidate_each_entitlement(client, superuser, django_assert_max_num_queries):
    client.force_login(superuser)

    def save(customer):
        """Post the change form as a browser would, inline management data included."""
        url = reverse("admin:licensing_customer_change", args=[customer.pk])
        page = client.get(url)
        data = {"name": customer.name, "kind": customer.kind, "email": customer.email}
        data["external_id"] = f"CRM-{customer.pk}"
        for inline in page.context["inline_admin_formsets"]:
            formset = inline.formset
            data |= {f"{formset.prefix}-{key}": value for key, value in formset.management_form.initial.items()}
            for form in formset.forms:
                data[f"{form.prefix}-id"] = form.instance.pk
                data[f"{form.prefix}-customer"] = customer.pk
        with CaptureQueriesContext(connection) as captured:
            assert client.post(url, data).status_code == 302
        return len(captured)

    small, large = CustomerFactory(), CustomerFactory()
    EntitlementFactory(customer=small, transaction=LicenseTransactionFactory(customer=small))
    for _ in range(30):
        EntitlementFactory(customer=large, transaction=LicenseTransactionFactory(customer=large))
    assert save(large) == save(small)


def test_the_audit_logs_filters_offer_the_actions_and_targets_it_holds_and_filter_by_them(client, superuser, actor):
    customer = CustomerFactory()
    services.customer_disable(customer=customer, actor=actor)
    services.customer_enable(customer=customer, actor=actor)
    services.entitlement_disable(entitlement=EntitlementFactory(), actor=actor)
    client.force_login(superuser)
    url = reverse("admin:licensing_auditevent_changelist")

    page = client.get(url).context
    offered = {
        spec.title: [choice["display"] for choice in spec.choices(page["cl"])] for spec in page["cl"].filter_specs
    }

    assert offered["action"] == ["All", "customer.disabled", "customer.enabled", "entitlement.disabled"]
    # Record types in words; the filter's values stay the stored ones.
    assert offered["record type"] == ["All", "Customer", "Entitlement"]
    by_type = client.get(url, {"target_type": "licensing.entitlement"}).context["cl"].result_list
    assert [event.action for event in by_type] == ["entitlement.disabled"]
    shown = client.get(url, {"action": "customer.enabled"}).context["cl"].result_list
    assert [event.action for event in shown] == ["customer.enabled"]
