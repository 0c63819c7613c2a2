"""Less hopping: a record's page lists what hangs below it (a transaction's entitlements,
an entitlement's licenses and license users, a code's licenses), the first rows with a
link to all of them; counts on list pages lead to the rows they count. Each list costs
the same queries for 2 rows as for 20."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from licensing import services
from licensing.models import License, Product
from tests.factories import (
    ActivationCodeFactory,
    CustomerFactory,
    EntitlementFactory,
    LicenseFactory,
    LicenseTransactionFactory,
    LicenseUserFactory,
    ProductFactory,
)
from tests.licensing.admin.urls import change_url

pytestmark = pytest.mark.django_db


def count_queries(client, url: str) -> int:
    client.get(url)  # warm: what is read once per process
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def licensed_code(licenses: int, **entitlement):
    code = ActivationCodeFactory(entitlement=EntitlementFactory(seats=50, **entitlement))
    for _ in range(licenses):
        LicenseFactory(activation_code=code)
    return code


def test_entitlement_page_lists_its_licenses_with_device_status_and_last_check_in(client, superuser, actor):
    code = licensed_code(2)
    first, second = License.objects.filter(activation_code=code).select_related("device")
    services.license_suspend(license=second, actor=actor)
    client.force_login(superuser)

    page = client.get(change_url(code.entitlement)).content.decode()
    licenses = page.split('id="licenses-group"')[1].split("</fieldset>")[0]

    assert f'<a href="{change_url(first)}">{first.device.hostname}</a>' in licenses
    assert first.device.hardware_id in licenses
    assert "Suspended: license suspended" in licenses
    assert "Last check-in" in licenses
    assert f"Code …{code.code[-4:]}" in licenses


def test_entitlement_page_lists_its_license_users(client, superuser):
    entitlement = EntitlementFactory(product=ProductFactory(authorization_method=Product.AuthorizationMethod.USER))
    user = LicenseUserFactory(customer=entitlement.customer, name="Jane Doe")
    user.entitlements.add(entitlement)
    client.force_login(superuser)
    page = client.get(change_url(entitlement)).content.decode()
    users = page.split('id="license_users-group"')[1].split("</fieldset>")[0]
    assert f'<a href="{change_url(user)}">{user.username}</a>' in users
    assert "Jane Doe" in users
    see_all = reverse("admin:licensing_licenseuser_changelist") + f"?entitlements__id__exact={entitlement.pk}"
    assert see_all in users
    assert list(client.get(see_all).context["cl"].result_list) == [user]


def test_transaction_page_lists_its_entitlements(client, superuser):
    order = LicenseTransactionFactory()
    entitlement = EntitlementFactory(customer=order.customer, transaction=order, product__name="Studio Render")
    EntitlementFactory(customer=order.customer)  # not of this order
    client.force_login(superuser)
    page = client.get(change_url(order)).content.decode()
    listed = page.split('id="entitlements-group"')[1].split("</fieldset>")[0]
    assert f'<a href="{change_url(entitlement)}">Studio Render ' in listed
    assert listed.count('class="form-row"') == 1


def test_activation_code_page_lists_its_licenses(client, superuser):
    code = licensed_code(2)
    LicenseFactory()  # another code's
    client.force_login(superuser)
    page = client.get(change_url(code)).content.decode()
    listed = page.split('id="licenses-group"')[1].split("</fieldset>")[0]
    assert listed.count('class="form-row"') == 2


@pytest.mark.parametrize(
    ("parent", "grow"),
    [
        ("entitlement", lambda code, n: [LicenseFactory(activation_code=code) for _ in range(n)]),
        ("code", lambda code, n: [LicenseFactory(activation_code=code) for _ in range(n)]),
        (
            "transaction",
            lambda code, n: EntitlementFactory.create_batch(
                n, customer=code.entitlement.customer, transaction=code.entitlement.transaction
            ),
        ),
        ("customer", lambda code, n: EntitlementFactory.create_batch(n, customer=code.entitlement.customer)),
    ],
)
def test_related_lists_cost_the_same_queries_for_2_rows_as_for_20(
    client, superuser, django_assert_num_queries, parent, grow
):
    client.force_login(superuser)

    def page_of(code):
        entitlement = code.entitlement
        return {
            "entitlement": entitlement,
            "code": code,
            "transaction": entitlement.transaction,
            "customer": entitlement.customer,
        }[parent]

    def new_code():
        customer = CustomerFactory()
        order = LicenseTransactionFactory(customer=customer)
        return ActivationCodeFactory(entitlement=EntitlementFactory(customer=customer, transaction=order, seats=50))

    small, large = new_code(), new_code()
    grow(small, 2)
    grow(large, 20)
    few = count_queries(client, change_url(page_of(small)))
    client.get(change_url(page_of(large)))
    with django_assert_num_queries(few):
        client.get(change_url(page_of(large)))


def test_a_long_related_list_shows_its_first_rows_and_links_to_all(client, superuser):
    code = licensed_code(23)
    client.force_login(superuser)
    page = client.get(change_url(code.entitlement)).content.decode()
    listed = page.split('id="licenses-group"')[1].split("</fieldset>")[0]
    assert listed.count('class="form-row"') == 20
    see_all = reverse("admin:licensing_license_changelist") + f"?entitlement__id__exact={code.entitlement.pk}"
    assert "The first 20 are shown." in listed
    assert f'href="{see_all}"' in listed
    assert client.get(see_all).context["cl"].result_count == 23


def test_saving_an_entitlement_leaves_its_listed_licenses_alone(client, superuser):
    from tests.licensing.admin.test_bad_input import entitlement_form_data

    code = licensed_code(3)
    entitlement = code.entitlement
    client.force_login(superuser)
    # What a browser posts back of the lists (their management forms) is ignored.
    data = entitlement_form_data(entitlement, seats=9) | {"licenses-TOTAL_FORMS": 3, "licenses-INITIAL_FORMS": 3}
    response = client.post(change_url(entitlement), data)
    assert response.status_code == 302
    entitlement.refresh_from_db()
    assert entitlement.seats == 9
    assert License.objects.filter(activation_code=code).count() == 3


def test_counts_on_list_pages_lead_to_the_rows_they_count(client, superuser):
    code = licensed_code(2)
    customer = code.entitlement.customer
    EntitlementFactory(customer=customer)
    client.force_login(superuser)

    customers = client.get(reverse("admin:licensing_customer_changelist")).content.decode()
    to_entitlements = reverse("admin:licensing_entitlement_changelist") + f"?customer__id__exact={customer.pk}"
    assert f'<a href="{to_entitlements}">2</a>' in customers
    assert client.get(to_entitlements).context["cl"].result_count == 2

    entitlements = client.get(reverse("admin:licensing_entitlement_changelist")).content.decode()
    to_licenses = reverse("admin:licensing_license_changelist") + f"?entitlement__id__exact={code.entitlement.pk}"
    assert f'<a href="{to_licenses}">2 / 50</a>' in entitlements
    assert client.get(to_licenses).context["cl"].result_count == 2
