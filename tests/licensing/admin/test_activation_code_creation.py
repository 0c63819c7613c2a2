"""Activation codes come with a new entitlement ("Activation codes to create") and from the
entitlement page's Generate code button, both through `activation_code_create` (audited),
and only for staff who may add activation codes."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from licensing.models import ActivationCode, AuditEvent, Entitlement, Product
from tests.factories import CustomerFactory, EntitlementFactory, ProductFactory
from tests.licensing.admin.urls import action_url, change_url

pytestmark = pytest.mark.django_db

ADD_URL = "admin:licensing_entitlement_add"


def add_form(customer, product, **overrides) -> dict:
    start = timezone.now() - dt.timedelta(hours=1)
    data = {
        "customer": customer.pk,
        "product": product.pk,
        "transaction": "",
        "license_model": Entitlement.LicenseModel.NODE_LOCKED,
        "seats": 5,
        "max_activations": "",
        "floating_timeout": 600,
        "max_borrow_time": 0,
        "valid_from_0": start.strftime("%Y-%m-%d"),
        "valid_from_1": start.strftime("%H:%M:%S"),
        "valid_until_0": "",
        "valid_until_1": "",
        "max_consumptions": "",
        "max_overages": "",
        "reset_period": "never",
        "lease_period": "1 day",
        "offline_grace": "7 days",
        "grace_period": "0",
    }
    return data | overrides


def test_the_add_form_offers_one_code_by_default(client, superuser):
    client.force_login(superuser)
    form = client.get(reverse(ADD_URL)).context["adminform"].form
    field = form.fields["activation_codes_to_create"]
    assert (field.initial, field.min_value, field.max_value) == (1, 0, 100)


def test_creating_an_entitlement_creates_the_codes_asked_for_through_the_service(client, superuser):
    customer, product = CustomerFactory(), ProductFactory()
    client.force_login(superuser)

    response = client.post(reverse(ADD_URL), add_form(customer, product, activation_codes_to_create=3), follow=True)

    entitlement = Entitlement.objects.get()
    codes = ActivationCode.objects.filter(entitlement=entitlement)
    assert codes.count() == 3
    created = AuditEvent.objects.filter(action="activation_code.created", target_id__in=codes.values("pk"))
    assert created.count() == 3
    assert {event.actor_label for event in created} == {superuser.username}
    assert "3 activation codes created." in response.content.decode()


def test_creating_an_entitlement_with_no_codes_asked_for_creates_none(client, superuser):
    client.force_login(superuser)
    client.post(reverse(ADD_URL), add_form(CustomerFactory(), ProductFactory(), activation_codes_to_create=0))
    assert Entitlement.objects.count() == 1
    assert ActivationCode.objects.count() == 0


@pytest.mark.parametrize("count", ["101", "-1", "many"])
def test_a_number_of_codes_out_of_range_is_refused_and_nothing_is_created(client, superuser, count):
    client.force_login(superuser)
    response = client.post(
        reverse(ADD_URL), add_form(CustomerFactory(), ProductFactory(), activation_codes_to_create=count)
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["activation_codes_to_create"]
    assert not Entitlement.objects.exists()
    assert not ActivationCode.objects.exists()


def test_a_product_activated_by_license_users_gets_no_codes(client, superuser):
    product = ProductFactory(authorization_method=Product.AuthorizationMethod.USER)
    client.force_login(superuser)
    response = client.post(
        reverse(ADD_URL), add_form(CustomerFactory(), product, activation_codes_to_create=2), follow=True
    )
    assert Entitlement.objects.count() == 1
    assert not ActivationCode.objects.exists()
    assert "No activation codes were made" in response.content.decode()


def test_staff_who_may_not_add_codes_are_not_offered_any_and_get_none(client, licensing_admin):
    from django.contrib.auth.models import Permission

    licensing_admin.groups.first().permissions.remove(Permission.objects.get(codename="add_activationcode"))
    client.force_login(licensing_admin)
    assert "activation_codes_to_create" not in client.get(reverse(ADD_URL)).context["adminform"].form.fields

    response = client.post(
        reverse(ADD_URL), add_form(CustomerFactory(), ProductFactory(), activation_codes_to_create=5)
    )

    assert response.status_code == 302
    assert Entitlement.objects.count() == 1
    assert not ActivationCode.objects.exists()


def test_generate_code_makes_one_code_and_shows_it_in_full(client, superuser):
    entitlement = EntitlementFactory()
    client.force_login(superuser)
    page = client.get(change_url(entitlement)).content.decode()
    assert action_url(entitlement, "generate-code") in page

    confirmation = client.get(action_url(entitlement, "generate-code"))
    assert confirmation.status_code == 200
    assert not ActivationCode.objects.exists()  # a GET changes nothing

    response = client.post(action_url(entitlement, "generate-code"), follow=True)

    code = ActivationCode.objects.get(entitlement=entitlement)
    event = AuditEvent.objects.for_target(code).get()
    assert (event.action, event.actor_label) == ("activation_code.created", superuser.username)
    assert response.redirect_chain[-1][0] == change_url(entitlement)
    assert f"Activation code {code.code} created" in response.content.decode()


def test_generate_code_is_neither_offered_nor_allowed_without_permission_to_add_codes(client, support_user):
    entitlement = EntitlementFactory()
    client.force_login(support_user)
    assert action_url(entitlement, "generate-code") not in client.get(change_url(entitlement)).content.decode()
    assert client.post(action_url(entitlement, "generate-code")).status_code == 403
    assert not ActivationCode.objects.exists()


def test_generate_code_is_not_offered_for_a_product_activated_by_license_users(client, superuser):
    entitlement = EntitlementFactory(product=ProductFactory(authorization_method=Product.AuthorizationMethod.USER))
    client.force_login(superuser)
    assert action_url(entitlement, "generate-code") not in client.get(change_url(entitlement)).content.decode()
    client.post(action_url(entitlement, "generate-code"))
    assert not ActivationCode.objects.exists()
