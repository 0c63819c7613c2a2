"""Confirmation pages say what will happen before anyone clicks: how many entitlements
and devices stop or work again, which entitlements stay off and why, that a revocation is
final; in colours that mean one thing, and in a constant number of queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from licensing import services
from licensing.models import License
from tests.factories import (
    ActivationCodeFactory,
    CustomerFactory,
    EntitlementFactory,
    LicenseFactory,
    LicenseTransactionFactory,
)
from tests.licensing.admin.urls import action_url, change_url

pytestmark = pytest.mark.django_db


def confirmation(client, obj, name: str) -> str:
    response = client.get(action_url(obj, name))
    assert response.status_code == 200
    return response.content.decode()


def customer_with_licenses(entitlements: int, licenses_each: int):
    customer = CustomerFactory(name="Acme")
    for _ in range(entitlements):
        code = ActivationCodeFactory(entitlement=EntitlementFactory(customer=customer))
        for _ in range(licenses_each):
            LicenseFactory(activation_code=code)
    return customer


def test_disable_customer_says_how_many_entitlements_and_devices_stop(client, superuser, actor):
    customer = customer_with_licenses(entitlements=2, licenses_each=3)
    already_off = EntitlementFactory(customer=customer)
    services.entitlement_disable(entitlement=already_off, actor=actor)
    deactivated = License.objects.filter(entitlement__customer=customer).first()
    services.license_deactivate(license=deactivated, actor=actor)
    client.force_login(superuser)

    page = confirmation(client, customer, "disable")

    # Those already off (an entitlement disabled on its own, a deactivated license) do not "stop".
    assert "<strong>2 entitlements</strong> and <strong>5 devices</strong> (active licenses) stop working" in page


def test_bulk_disable_counts_every_chosen_customer_in_constant_queries(client, superuser):
    def queries(customers) -> tuple[int, str]:
        data = {"action": "disable_selected", "_selected_action": [str(c.pk) for c in customers]}
        with CaptureQueriesContext(connection) as captured:
            response = client.post(reverse("admin:licensing_customer_changelist"), data)
        return len(captured), response.content.decode()

    client.force_login(superuser)
    few, _ = queries([customer_with_licenses(1, 1), customer_with_licenses(1, 1)])
    many = [customer_with_licenses(2, 2) for _ in range(10)]
    more, page = queries(many)
    assert "<strong>20 entitlements</strong> and <strong>40 devices</strong>" in page
    assert more == few


def test_enable_customer_lists_what_stays_off_and_why(client, superuser, actor):
    customer = CustomerFactory(name="Acme")
    EntitlementFactory(customer=customer, product__name="Studio Desktop")
    charged_back = EntitlementFactory(customer=customer, product__name="Studio Mobile")
    services.entitlement_disable(entitlement=charged_back, actor=actor, reason="chargeback")
    order = LicenseTransactionFactory(customer=customer, external_id="ORDER-77")
    unpaid = EntitlementFactory(customer=customer, product__name="Studio Render", transaction=order)
    services.transaction_suspend(license_transaction=order, actor=actor, reason="payment failed")
    LicenseFactory(activation_code__entitlement=unpaid)
    services.customer_disable(customer=customer, actor=actor, reason="audit")
    client.force_login(superuser)

    page = confirmation(client, customer, "enable")

    assert "<strong>1 entitlement</strong> and <strong>0 devices</strong> (licenses) work again" in page
    assert "These stay off" in page
    assert f'href="{change_url(charged_back)}">Studio Mobile for Acme</a>: disabled on its own (“chargeback”)' in page
    assert "Studio Render for Acme</a>: suspended by its transaction ORDER-77 (“payment failed”)" in page
    assert "Studio Desktop for Acme" not in page


def test_enable_customer_says_when_nothing_stays_off(client, superuser, actor):
    customer = customer_with_licenses(entitlements=1, licenses_each=2)
    services.customer_disable(customer=customer, actor=actor)
    client.force_login(superuser)
    page = confirmation(client, customer, "enable")
    assert "<strong>1 entitlement</strong> and <strong>2 devices</strong> (licenses) work again" in page
    assert "No entitlement stays off" in page


@pytest.mark.parametrize(("make", "kind"), [(ActivationCodeFactory, "code"), (LicenseFactory, "license")])
def test_revoking_looks_final(client, superuser, make, kind):
    obj = make()
    client.force_login(superuser)
    page = confirmation(client, obj, "revoke")
    assert "final" in page
    assert "This is final: it cannot be undone." in page
    assert "switch-tone-danger" in page
    assert f'class="switch-submit switch-danger" value="Revoke {kind}"' in page
    assert f'class="switch-button switch-danger">Revoke {kind}</a>' in client.get(change_url(obj)).content.decode()


def test_resume_licenses_explains_itself_and_counts_what_comes_back(client, superuser, actor):
    order = LicenseTransactionFactory()
    code = ActivationCodeFactory(entitlement=EntitlementFactory(customer=order.customer, transaction=order))
    LicenseFactory.create_batch(2, activation_code=code)
    services.transaction_suspend(license_transaction=order, actor=actor)
    client.force_login(superuser)

    page = confirmation(client, order, "resume")

    assert "work again at their clients&#x27; next check, except those stopped for another reason" in page
    assert "<strong>1 entitlement</strong> and <strong>2 devices</strong> (licenses) work again" in page
    assert "switch-tone-go" in page


def test_colours_mean_one_thing(client, superuser, actor):
    entitlement = EntitlementFactory()
    client.force_login(superuser)
    page = client.get(change_url(entitlement)).content.decode()
    assert 'class="switch-button switch-danger">Disable entitlement</a>' in page
    assert 'class="switch-button switch-neutral">Renew</a>' in page
    assert 'class="switch-button switch-neutral">Generate code</a>' in page

    services.entitlement_disable(entitlement=entitlement, actor=actor)
    page = client.get(change_url(entitlement)).content.decode()
    assert 'class="switch-button switch-go">Enable entitlement</a>' in page

    license = LicenseFactory()
    page = client.get(change_url(license)).content.decode()
    assert 'class="switch-button switch-danger">Suspend license</a>' in page
    assert 'class="switch-button switch-neutral">Deactivate license</a>' in page


def test_disable_entitlement_and_code_count_the_devices_that_stop(client, superuser):
    code = ActivationCodeFactory()
    LicenseFactory.create_batch(3, activation_code=code)
    client.force_login(superuser)
    assert "<strong>3 devices</strong> (active licenses) stop working" in confirmation(client, code, "disable")
    assert "<strong>3 devices</strong> (active licenses) stop working" in confirmation(
        client, code.entitlement, "disable"
    )
