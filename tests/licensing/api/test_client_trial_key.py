"""GET /api/v4/trial_key: one trial per product and machine (and per email address),
answered again for good, limited per client address, and converted in one step."""

import concurrent.futures
import datetime as dt

import pytest
import requests
import time_machine
from django.utils import timezone

from licensing import limits, services
from licensing.actors import Actor
from licensing.errors import InvalidEdit
from licensing.models import ActivationCode, AuditEvent, Customer, Device, Entitlement, License, Trial, WebhookEvent
from licensing.services import trials
from tests.factories import CustomerFactory, EntitlementFactory, ProductFactory, WebhookEndpointFactory
from tests.licensing.api.conftest import auth_headers, client_api_server, verify_response

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def product():
    product = ProductFactory(code="studio", trial_allowed=True, trial_duration=14, trial_seats=2)
    feature = product.features.create(code="export", name="Export")
    product.features.create(code="render-farm", name="Render farm")
    product.trial_features.set([feature])
    return product


def trial_key(app, hardware_id="hw-1", email="ada@example.com", **params):
    return app.get("trial_key", {"product": "studio", "hardware_id": hardware_id, "email": email, **params})


def activate(app, key, hardware_id="hw-1"):
    return app.post("activate_license", {"product": "studio", "hardware_id": hardware_id, "license_key": key})


def check(app, key, hardware_id="hw-1"):
    return app.get("check_license", {"product": "studio", "hardware_id": hardware_id, "license_key": key})


def test_a_trial_key_is_a_signed_answer_for_this_machine(app, product):
    WebhookEndpointFactory()
    now = timezone.now()
    response = trial_key(app, nonce="n-1")
    assert response.status_code == 200
    verify_response(response)
    body = response.json()
    assert body["is_trial"] is True
    assert body["hardware_id"] == "hw-1"
    assert body["nonce"] == "n-1"
    assert body["max_activations"] == 2
    assert body["features"] == {"export": True}
    assert body["is_expired"] is False
    entitlement = Entitlement.objects.get()
    assert entitlement.is_trial
    assert abs(entitlement.valid_until - (now + 14 * DAY)) < dt.timedelta(minutes=1)
    assert ActivationCode.objects.get().code == body["license_key"]
    customer = entitlement.customer
    assert (customer.kind, customer.email) == (Customer.Kind.PERSON, "ada@example.com")
    assert WebhookEvent.objects.filter(type="trial.started").count() == 1


def test_the_trial_key_activates_and_its_license_says_trial(app, product):
    key = trial_key(app).json()["license_key"]
    activated = activate(app, key)
    assert activated.status_code == 200
    assert activated.json()["is_trial"] is True
    assert activated.json()["features"] == {"export": True}


def test_the_same_machine_gets_the_same_key_also_after_the_trial_ended(app, product):
    key = trial_key(app).json()["license_key"]
    assert trial_key(app).json()["license_key"] == key
    with time_machine.travel(timezone.now() + 30 * DAY):
        again = trial_key(app)
        assert again.json()["license_key"] == key
        assert again.json()["is_expired"] is True
        refused = activate(app, key)
    assert (refused.json()["code"], refused.json()["reason"]) == ("license_not_active", "expired")
    assert Trial.objects.count() == Entitlement.objects.count() == 1


def test_a_second_email_on_the_same_machine_gets_no_second_trial(app, product):
    key = trial_key(app, email="ada@example.com").json()["license_key"]
    assert trial_key(app, email="grace@example.com").json()["license_key"] == key
    assert Entitlement.objects.count() == 1


def test_the_same_email_on_another_machine_gets_the_same_trial(app, product):
    key = trial_key(app, hardware_id="hw-1", email="Ada@Example.com").json()["license_key"]
    other = trial_key(app, hardware_id="hw-2", email="ada@example.com ")
    assert other.json()["license_key"] == key
    assert other.json()["hardware_id"] == "hw-2"  # the answer is bound to the machine that asked
    assert Entitlement.objects.count() == 1


def test_each_product_has_its_own_trial(app, product):
    ProductFactory(code="sketch", trial_allowed=True)
    studio = trial_key(app).json()["license_key"]
    sketch = app.get("trial_key", {"product": "sketch", "hardware_id": "hw-1", "email": "ada@example.com"})
    assert sketch.json()["license_key"] != studio
    assert Customer.objects.count() == 1  # one trial customer per address


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"product": "nope"}, "unknown_product"),
        ({"email": "not-an-address"}, "invalid_parameters"),
        ({"email": "ada@example.com\x00"}, "invalid_parameters"),
        ({"email": "a" * 300 + "@example.com"}, "invalid_parameters"),
        ({"email": ""}, "missing_parameters"),
        ({"hardware_id": ""}, "missing_parameters"),
        ({"hardware_id": "h" * 256}, "invalid_parameters"),
    ],
)
def test_bad_input_is_refused_with_its_code_and_creates_nothing(app, product, params, code):
    response = trial_key(app, **params)
    assert response.status_code == 400
    verify_response(response)
    assert response.json()["code"] == code
    assert not Trial.objects.exists() and not Entitlement.objects.exists() and not Customer.objects.exists()


def test_a_product_without_trials_refuses(app, product):
    product.trial_allowed = False
    product.save()
    response = trial_key(app)
    assert (response.status_code, response.json()["code"]) == (400, "trial_not_allowed")
    assert not Entitlement.objects.exists()


def test_the_switches_apply_to_trials(app, product):
    key = trial_key(app).json()["license_key"]
    activate(app, key)
    customer = Entitlement.objects.get().customer
    services.customer_disable(customer=customer, actor=Actor.system("test"), reason="abuse")
    refused = check(app, key)
    assert (refused.json()["code"], refused.json()["reason"]) == ("license_not_enabled", "customer_disabled")


def test_too_many_new_trials_from_one_address_get_a_signed_429(app, product, monkeypatch):
    monkeypatch.setattr(trials, "TRIALS_PER_ADDRESS", limits.Limit("trial-test", attempts=2, window=3600))
    for n in range(2):
        assert trial_key(app, hardware_id=f"hw-{n}", email=f"p{n}@example.com").status_code == 200
    refused = trial_key(app, hardware_id="hw-9", email="p9@example.com")
    assert refused.status_code == 429
    verify_response(refused)
    assert refused.json()["code"] == "rate_limited"
    assert int(refused["Retry-After"]) > 0
    assert Trial.objects.count() == 2
    # A machine that has its trial is answered whatever the count.
    assert trial_key(app, hardware_id="hw-0", email="p0@example.com").status_code == 200


def test_converting_keeps_the_activated_device_working_without_activating_again(app, product, actor):
    WebhookEndpointFactory()
    key = trial_key(app).json()["license_key"]
    assert activate(app, key).status_code == 200
    entitlement = Entitlement.objects.get()
    buyer = CustomerFactory(name="Acme")
    end = timezone.now() + 365 * DAY
    services.trial_convert(entitlement=entitlement, customer=buyer, valid_until=end, actor=actor, reason="PO 7")
    checked = check(app, key)
    assert checked.status_code == 200
    assert checked.json()["is_trial"] is False
    assert checked.json()["customer"]["id"] == str(buyer.pk)
    assert License.objects.get().device.customer == buyer
    assert Device.objects.filter(hardware_id="hw-1").count() == 2  # the trial customer's record stays
    assert AuditEvent.objects.filter(action="trial.converted", reason="PO 7").count() == 1
    assert WebhookEvent.objects.filter(type="trial.converted").count() == 1
    assert Trial.objects.get().converted_at is not None
    # The machine's trial is spent: its key, now a paying customer's, is not handed out.
    again = trial_key(app)
    assert (again.json()["code"], again.json()["reason"]) == ("trial_not_allowed", "converted")


def test_converting_in_place_keeps_the_trial_customer(app, product, actor):
    key = trial_key(app).json()["license_key"]
    activate(app, key)
    entitlement = Entitlement.objects.get()
    services.trial_convert(entitlement=entitlement, actor=actor)
    entitlement.refresh_from_db()
    assert not entitlement.is_trial
    assert check(app, key).json()["is_trial"] is False


def test_only_a_trial_converts(product, actor):
    entitlement = EntitlementFactory(product=product)
    with pytest.raises(InvalidEdit, match="not a trial"):
        services.trial_convert(entitlement=entitlement, actor=actor)


@pytest.mark.django_db(transaction=True)
def test_identical_requests_at_once_make_one_trial(credential):
    ProductFactory(code="studio", trial_allowed=True)
    params = {"product": "studio", "hardware_id": "hw-race", "email": "race@example.com"}
    with client_api_server(workers=4) as base:

        def ask(_):
            headers = auth_headers(credential.api_key, credential.plain_shared_key)
            return requests.get(f"{base}/api/v4/trial_key", params=params, headers=headers, timeout=30)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, range(8)))
    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.json()["license_key"] for answer in answers}) == 1
    assert Trial.objects.count() == Entitlement.objects.count() == 1


def test_a_long_email_is_answered_not_a_server_error(app, product):
    email = "a" * 240 + "@example.com"
    response = trial_key(app, email=email)
    assert response.status_code == 200
    assert Customer.objects.get().email == email


def test_a_trial_never_joins_a_paying_customer_with_the_same_address(app, product):
    paying = CustomerFactory(kind=Customer.Kind.PERSON, email="ada@example.com")
    EntitlementFactory(customer=paying)
    trial_key(app)
    trial = Entitlement.objects.get(is_trial=True)
    assert trial.customer != paying
    assert trial.customer.email == "ada@example.com"


def test_new_trials_are_limited_per_ipv6_network_not_per_address(app, product, monkeypatch):
    monkeypatch.setattr(trials, "TRIALS_PER_ADDRESS", limits.Limit("trial-v6", attempts=1, window=3600))

    def ask(address: str, n: int):
        params = {"product": "studio", "hardware_id": f"hw-v6-{n}", "email": f"v6-{n}@example.com"}
        return app.http.get("/api/v4/trial_key", params, headers=app.headers(), REMOTE_ADDR=address)

    assert ask("2001:db8:1:2::1", 0).status_code == 200
    assert ask("2001:db8:1:2::beef", 1).status_code == 429  # the same /64
    assert ask("2001:db8:1:3::1", 2).status_code == 200
