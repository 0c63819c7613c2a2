"""A license user's password cannot be guessed through the client API: an unknown user
costs what a wrong password costs, and every attempt counts toward one lockout shared
with the portal's sign-in (online and offline activations alike), refused with a signed
answer that says when to try again. Staff sign-ins to the admin are limited too."""

import threading
import time
from collections import Counter

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connection
from django.test import Client
from django.urls import reverse

from licensing import limits
from licensing.limits import Limit
from licensing.models import License, OfflineRequest, Product
from tests.factories import CustomerFactory, EntitlementFactory, LicenseUserFactory, ProductFactory

from .conftest import ClientApp, verify_response

pytestmark = pytest.mark.django_db

USERNAME, PASSWORD = "ada@customer.example", "correct horse battery staple"


@pytest.fixture
def license_user(db):
    customer = CustomerFactory()
    product = ProductFactory(code="team", authorization_method=Product.AuthorizationMethod.USER)
    user = LicenseUserFactory(customer=customer, username=USERNAME)
    user.entitlements.add(EntitlementFactory(customer=customer, product=product))
    return user


@pytest.fixture
def password_checks(monkeypatch):
    """How many password hashes are computed to check a password."""
    checks = Counter()
    verify = MD5PasswordHasher.verify

    def counted(self, password, encoded):
        checks["verify"] += 1
        return verify(self, password, encoded)

    monkeypatch.setattr(MD5PasswordHasher, "verify", counted)
    return checks


def activate(app: ClientApp, password: str, username: str = USERNAME, hardware_id: str = "hw-1"):
    body = {"product": "team", "hardware_id": hardware_id, "username": username, "password": password, "nonce": "n"}
    return app.post("activate_license", body)


def portal_sign_in(password: str):
    return Client().post("/portal/sign-in/", {"email": USERNAME, "password": password})


def test_an_unknown_user_costs_one_password_hash_like_a_wrong_password(app, license_user, password_checks):
    assert activate(app, "wrong password").json()["code"] == "invalid_credentials"
    assert password_checks["verify"] == 1
    assert activate(app, "wrong password", username="nobody@customer.example").json()["code"] == "license_not_found"
    assert password_checks["verify"] == 2


def test_wrong_passwords_lock_the_user_out_of_the_client_api_and_the_portal(app, license_user):
    for _ in range(5):
        assert activate(app, "wrong password").json()["code"] == "invalid_credentials"

    locked = activate(app, PASSWORD)

    assert locked.status_code == 429
    verify_response(locked)
    body = locked.json()
    assert (body["code"], body["nonce"], body["hardware_id"]) == ("too_many_attempts", "n", "hw-1")
    assert 0 < body["retry_after"] <= 15 * 60 and locked["Retry-After"] == str(body["retry_after"])
    assert not License.objects.exists()
    assert "Too many failed sign-ins" in portal_sign_in(PASSWORD).content.decode()


def test_wrong_passwords_in_the_portal_lock_the_client_api_too(app, license_user):
    for _ in range(5):
        assert "match an account" in portal_sign_in("wrong password").content.decode()
    assert activate(app, PASSWORD).json()["code"] == "too_many_attempts"


def test_the_right_password_before_the_limit_clears_the_count(app, license_user):
    for _ in range(4):
        activate(app, "wrong password")
    assert activate(app, PASSWORD).status_code == 200
    for _ in range(4):
        activate(app, "wrong password", hardware_id="hw-2")
    assert activate(app, PASSWORD, hardware_id="hw-2").status_code == 200


def test_offline_guesses_count_and_a_lockout_is_not_an_offline_requests_final_answer(app, license_user):
    for _ in range(5):
        guess = app.offline_request("activation", product="team", hardware_id="vault", username=USERNAME, password="x")
        assert app.post_raw("activate_offline", guess).json()["code"] == "invalid_credentials"
    request = app.offline_request(
        "activation", product="team", hardware_id="vault", username=USERNAME, password=PASSWORD, request_id="r-1"
    )

    locked = app.post_raw("activate_offline", request)
    assert (locked.status_code, locked.json()["code"]) == (429, "too_many_attempts")
    assert not OfflineRequest.objects.filter(request_id="r-1").exists()

    limits.PASSWORD_GUESSES.reset(USERNAME)  # the lockout's window ends
    assert app.post_raw("activate_offline", request).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_guesses_sent_in_parallel_cannot_pass_the_limit(app, license_user, password_checks):
    answers = []
    start = threading.Barrier(20)

    def guess():
        start.wait()
        try:
            answers.append(activate(app, "wrong password").json()["code"])
        finally:
            connection.close()

    threads = [threading.Thread(target=guess) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert password_checks["verify"] == 5
    assert Counter(answers) == {"invalid_credentials": 5, "too_many_attempts": 15}


def test_a_limit_counts_attempts_within_its_window_only():
    limit = Limit("test-window", attempts=2, window=1)
    limit.reset("someone")
    assert [limit.take("someone") for _ in range(3)] == [0, 0, 1]
    time.sleep(1.1)
    assert limit.take("someone") == 0


def test_staff_sign_ins_to_the_admin_are_limited_too(client, superuser):
    login = reverse("admin:login")
    for _ in range(4):
        response = client.post(login, {"username": superuser.username, "password": "wrong"})
        assert response.status_code == 200  # the form again, with its error
    assert client.post(login, {"username": superuser.username, "password": "wrong"}).status_code == 429
    locked = client.post(login, {"username": superuser.username, "password": "staff-password"})
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert client.get(reverse("admin:index")).status_code == 302  # not signed in
