"""What each client request costs the database, counted: an activation or a
deactivation is one transaction whatever it writes, and a check reads at most once,
writing nothing itself (its check-in is written later, in bulk, with others')."""

import uuid

import pytest

from licensing.models import Product
from licensing.services.checkins import check_ins
from tests.factories import ActivationCodeFactory, EntitlementFactory, LicenseUserFactory, ProductFactory
from tests.transactions import tally

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def code():
    return ActivationCodeFactory(entitlement__product__code="studio", entitlement__seats=100)


@pytest.fixture
def warm_app(app, code, settings):
    """A client whose credential this worker already remembers, as in steady traffic."""
    settings.LICENSING_CHECKIN_FLUSH_SECONDS = 3600  # check-ins wait for the bulk write
    for hardware_id in ("warm-up-1", "warm-up-2"):
        assert activate(app, code, hardware_id).status_code == 200
    return app


def activate(app, code, hardware_id):
    return app.post("activate_license", {"product": "studio", "hardware_id": hardware_id, "license_key": code.code})


def check(app, code, hardware_id):
    return app.get("check_license", {"product": "studio", "hardware_id": hardware_id, "license_key": code.code})


def test_activating_a_new_device_is_one_transaction(warm_app, code):
    with tally() as cost:
        assert activate(warm_app, code, "hw-new").status_code == 200
    assert (cost.transactions, cost.queries) == (1, 8), cost
    # Seats are read from the locked entitlement and code, and their counts moved by
    # one: no license is counted, so a site license activates as fast as a small one.
    assert not any("COUNT(" in sql.upper() for sql in cost.statements), cost


def test_activating_an_active_device_again_is_one_transaction(warm_app, code):
    activate(warm_app, code, "hw-1")
    with tally() as cost:
        assert activate(warm_app, code, "hw-1").status_code == 200
    assert (cost.transactions, cost.queries) == (1, 4), cost


def test_activating_as_a_license_user_checks_the_password_outside_its_one_transaction(warm_app):
    product = ProductFactory(code="suite", authorization_method=Product.AuthorizationMethod.USER)
    user = LicenseUserFactory(username="ada@customer.example", raw_password="correct horse")
    user.entitlements.add(EntitlementFactory(product=product, customer=user.customer))
    body = {"product": "suite", "hardware_id": "hw-u", "username": "ada@customer.example", "password": "correct horse"}
    with tally() as cost:
        assert warm_app.post("activate_license", body).status_code == 200
    # The product and the user are read, and the password checked, before the activation's
    # one transaction opens: none is open while the password hashes.
    assert cost.autocommitted == 2 and cost.ended == 1, cost


def test_deactivating_is_one_transaction(warm_app, code):
    activate(warm_app, code, "hw-1")
    body = {"product": "studio", "hardware_id": "hw-1", "license_key": code.code}
    with tally() as cost:
        assert warm_app.post("deactivate_license", body).status_code == 200
    assert (cost.transactions, cost.queries) == (1, 7), cost
    assert not any("COUNT(" in sql.upper() for sql in cost.statements), cost


def test_a_check_that_must_read_reads_once_and_writes_nothing(warm_app, code):
    activate(warm_app, code, "hw-1")
    with tally() as cost:
        assert check(warm_app, code, "hw-1").status_code == 200
    assert (cost.transactions, cost.queries) == (1, 1), cost
    assert cost.statements[0].lstrip().upper().startswith("SELECT"), cost


def test_a_check_with_nothing_changed_costs_the_database_nothing(warm_app, code):
    activate(warm_app, code, "hw-1")
    check(warm_app, code, "hw-1")  # learns which rows the answer is built from
    check(warm_app, code, "hw-1")  # remembers it
    with tally() as cost:
        assert check(warm_app, code, "hw-1").status_code == 200
    assert (cost.transactions, cost.queries) == (0, 0), cost


def test_the_check_ins_of_many_checks_are_one_transaction(warm_app, code):
    for n in range(5):
        activate(warm_app, code, f"hw-{n}")
        check(warm_app, code, f"hw-{n}")
    with tally() as cost:
        check_ins.flush()
    assert (cost.transactions, cost.queries) == (1, 1), cost


def test_an_offline_activation_is_one_transaction(warm_app, code):
    request = warm_app.offline_request("activation", product="studio", hardware_id="hw-off", license_key=code.code)
    with tally() as cost:
        assert warm_app.post_raw("activate_offline", request).status_code == 200
    assert cost.transactions == 1, cost


def test_a_refused_activation_writes_its_audit_row_alone(warm_app, code):
    with tally() as cost:
        response = warm_app.post(
            "activate_license", {"product": "studio", "hardware_id": "hw-x", "license_key": uuid.uuid4().hex}
        )
    assert response.json()["code"] == "license_not_found"
    # The lookup's, which found nothing and so wrote nothing, and the refusal's record.
    assert cost.transactions == 2, cost
