"""Bad input in the admin gets a clear message and changes nothing; records keep the
shape the domain needs (relations fixed at creation, no deletes of switched records)."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from licensing.models import AuditEvent, Customer, Entitlement, License, LicenseUser
from tests.factories import (
    ActivationCodeFactory,
    CustomerFactory,
    EntitlementFactory,
    LicenseFactory,
    LicenseUserFactory,
    ProductFactory,
)
from tests.licensing.admin.urls import change_url

pytestmark = pytest.mark.django_db


def entitlement_form_data(entitlement: Entitlement, **overrides) -> dict:
    data = {
        "transaction": "",
        "license_model": entitlement.license_model,
        "seats": entitlement.seats,
        "max_activations": entitlement.max_activations or "",
        "floating_timeout": entitlement.floating_timeout,
        "max_borrow_time": entitlement.max_borrow_time,
        "valid_from_0": entitlement.valid_from.strftime("%Y-%m-%d"),
        "valid_from_1": entitlement.valid_from.strftime("%H:%M:%S"),
        "valid_until_0": entitlement.valid_until.strftime("%Y-%m-%d"),
        "valid_until_1": entitlement.valid_until.strftime("%H:%M:%S"),
        "max_consumptions": "",
        "max_overages": "",
        "reset_period": "never",
        "lease_period": "1 00:00:00",
        "offline_grace": "7 00:00:00",
        "grace_period": "00:00:00",
        "activation_codes-TOTAL_FORMS": 0,
        "activation_codes-INITIAL_FORMS": 0,
        "feature_grants-TOTAL_FORMS": 0,
        "feature_grants-INITIAL_FORMS": 0,
    }
    return data | overrides


def test_editing_seats_through_the_admin_is_audited(client, superuser):
    entitlement = EntitlementFactory(seats=5)
    client.force_login(superuser)
    response = client.post(change_url(entitlement), entitlement_form_data(entitlement, seats=8))
    assert response.status_code == 302
    event = AuditEvent.objects.for_target(entitlement).get(action="entitlement.updated")
    assert (event.before["seats"], event.after["seats"], event.actor_label) == (5, 8, superuser.username)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_consumptions", "-1", "greater than or equal to"),
        ("max_consumptions", "9" * 30, "less than or equal to"),
        ("max_overages", "5", "Allow overages to set how many"),
        ("reset_period", "hourly", "Select a valid choice"),
        ("lease_period", "-1 00:00:00", "greater than or equal to"),
        ("lease_period", "0", "greater than or equal to"),
        ("offline_grace", "999999999 00:00:00", "less than or equal to"),
        ("offline_grace", "4000 00:00:00", "less than or equal to"),
        ("seats", "0", "greater than or equal to 1"),
        ("seats", "-3", "greater than or equal to"),
        ("seats", "lots", "Enter a whole number"),
        ("seats", "9" * 30, "less than or equal to"),
        ("valid_until_0", "2001-01-01", "after the start of validity"),
        ("valid_from_0", "yesterday-ish", "Enter a valid date"),
    ],
)
def test_invalid_entitlement_field_is_refused_with_a_message(client, superuser, field, value, message):
    entitlement = EntitlementFactory(seats=5)
    client.force_login(superuser)
    response = client.post(change_url(entitlement), entitlement_form_data(entitlement, **{field: value}))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Entitlement.objects.get(pk=entitlement.pk).seats == 5
    assert not AuditEvent.objects.exists()


def test_seats_cannot_be_lowered_below_seats_in_use_in_the_admin(client, superuser):
    license = LicenseFactory(activation_code__entitlement__seats=3)
    LicenseFactory(activation_code=license.activation_code, entitlement=license.entitlement)
    client.force_login(superuser)
    response = client.post(change_url(license.entitlement), entitlement_form_data(license.entitlement, seats=1))
    assert response.status_code == 200
    assert "2 seats are in use" in response.content.decode()
    assert Entitlement.objects.get(pk=license.entitlement_id).seats == 3


def test_entitlement_customer_and_product_are_fixed_after_creation(client, superuser):
    entitlement = EntitlementFactory()
    original = (entitlement.customer_id, entitlement.product_id)
    client.force_login(superuser)
    client.post(
        change_url(entitlement),
        entitlement_form_data(entitlement, customer=CustomerFactory().pk, product=ProductFactory().pk),
    )
    entitlement.refresh_from_db()
    assert (entitlement.customer_id, entitlement.product_id) == original


def test_activation_code_cannot_be_moved_to_another_entitlement(client, superuser):
    code = ActivationCodeFactory()
    original = code.entitlement_id
    client.force_login(superuser)
    client.post(change_url(code), {"entitlement": EntitlementFactory().pk, "max_activations": ""})
    code.refresh_from_db()
    assert code.entitlement_id == original


def test_license_user_gets_only_own_user_based_entitlements(client, superuser):
    user = LicenseUserFactory()
    user_product = ProductFactory(authorization_method="user")
    own = EntitlementFactory(customer=user.customer, product=user_product)
    foreign = EntitlementFactory(product=user_product)
    keyed = EntitlementFactory(customer=user.customer)
    client.force_login(superuser)

    for bad, message in [(foreign, "belongs to another customer"), (keyed, "activated with keys")]:
        response = client.post(
            change_url(user), {"username": user.username, "name": "", "entitlements": [own.pk, bad.pk]}
        )
        assert message in response.content.decode()
    assert not LicenseUser.objects.get(pk=user.pk).entitlements.exists()

    client.post(change_url(user), {"username": user.username, "name": "", "entitlements": [own.pk]})
    assert list(LicenseUser.objects.get(pk=user.pk).entitlements.all()) == [own]


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "", "'; DROP TABLE x;--", "1" * 300])
def test_bulk_action_with_malformed_ids_changes_nothing(client, superuser, bad_id):
    customer = CustomerFactory()
    client.force_login(superuser)
    response = client.post(
        reverse("admin:licensing_customer_changelist"),
        {"action": "disable_selected", "_selected_action": [str(customer.pk), bad_id], "confirm": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert "Nothing was changed" in response.content.decode()
    assert Customer.objects.get(pk=customer.pk).status == Customer.Status.ACTIVE


@pytest.mark.parametrize("model", ["customer", "entitlement", "licensetransaction", "activationcode", "license"])
def test_switched_records_cannot_be_deleted_even_by_a_superuser(client, superuser, model):
    factories = {
        "customer": CustomerFactory,
        "entitlement": EntitlementFactory,
        "activationcode": ActivationCodeFactory,
        "license": LicenseFactory,
    }
    if model == "licensetransaction":
        from tests.factories import LicenseTransactionFactory

        obj = LicenseTransactionFactory()
    else:
        obj = factories[model]()
    client.force_login(superuser)
    assert client.post(reverse(f"admin:licensing_{model}_delete", args=[obj.pk]), {"post": "yes"}).status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_revoked_license_stays_after_a_forged_bulk_delete(client, superuser):
    license = LicenseFactory()
    client.force_login(superuser)
    client.post(
        reverse("admin:licensing_license_changelist"),
        {"action": "delete_selected", "_selected_action": [str(license.pk)], "post": "yes"},
    )
    assert License.objects.filter(pk=license.pk).exists()


def test_user_with_switch_permission_but_no_view_permission_learns_nothing(client, roles):
    from django.contrib.auth.models import Permission

    from tests.factories import StaffUserFactory

    user = StaffUserFactory()
    user.user_permissions.add(Permission.objects.get(codename="disable_customer"))
    customer = CustomerFactory(name="Secret Corp")
    client.force_login(user)
    response = client.get(reverse("admin:licensing_customer_action", args=[customer.pk, "disable"]))
    assert response.status_code == 403
    assert "Secret Corp" not in response.content.decode()


def test_demo_data_refuses_to_load_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("load_demo")
    assert not Customer.objects.exists()


def test_demo_data_loads_twice_without_duplicates(settings):
    settings.DEBUG = True
    call_command("load_demo")
    counts = (Customer.objects.count(), Entitlement.objects.count(), License.objects.count())
    call_command("load_demo")
    assert (Customer.objects.count(), Entitlement.objects.count(), License.objects.count()) == counts
    assert counts[0] >= 2
    assert dt.timedelta(0) < Entitlement.objects.first().lease_period


def test_staff_add_a_license_user_with_password_and_entitlements(client, superuser):
    customer = CustomerFactory()
    entitlement = EntitlementFactory(customer=customer, product=ProductFactory(authorization_method="user"))
    client.force_login(superuser)
    add = reverse("admin:licensing_licenseuser_add")
    response = client.post(
        add, {"customer": customer.pk, "username": "Ann@Acme.example", "name": "", "entitlements": [entitlement.pk]}
    )
    assert "A new license user needs a password." in response.content.decode()
    response = client.post(
        add,
        {
            "customer": customer.pk,
            "username": "Ann@Acme.example",
            "name": "Ann",
            "new_password": "correct horse",
            "entitlements": [entitlement.pk],
        },
    )
    assert response.status_code == 302
    user = LicenseUser.objects.get()
    assert user.username == "ann@acme.example" and user.check_password("correct horse")
    assert list(user.entitlements.all()) == [entitlement]

    twin = client.post(
        add, {"customer": CustomerFactory().pk, "username": "ANN@acme.example", "name": "", "new_password": "x y z w"}
    )
    assert "A license user with this username already exists." in twin.content.decode()
    assert LicenseUser.objects.count() == 1
