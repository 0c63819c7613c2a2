"""Offline request files, against what their signature leaves open: `request`,
`request_id` and `password` are not signed, so a file can be edited without the shared
key. A request_id answers only the very request it first answered, and a device's
requests must come in the order it made them, so neither an edited nor an old file
changes anything once the device has moved on."""

import base64
import json

import pytest

from licensing.models import License, Product
from tests.factories import ActivationCodeFactory, CustomerFactory, EntitlementFactory, LicenseUserFactory

from .conftest import ClientApp, read_license_file, verify_response

pytestmark = pytest.mark.django_db


@pytest.fixture
def code(db):
    return ActivationCodeFactory(entitlement__product__code="studio", entitlement__seats=2)


def edited(request_file: str, **changes: str) -> str:
    """The file with fields changed, and not signed again (no shared key needed)."""
    fields = json.loads(base64.b64decode(request_file))
    return base64.b64encode(json.dumps({**fields, **changes}).encode()).decode()


def offline(app: ClientApp, kind: str, code, **fields) -> str:
    return app.offline_request(kind, product="studio", hardware_id="vault", license_key=code.code, **fields)


def seats_held() -> int:
    return License.objects.holding_seat().count()


def test_an_activation_file_edited_into_a_deactivation_does_not_free_the_seat(app, code):
    activation = offline(app, "activation", code)
    assert app.post_raw("activate_offline", activation).status_code == 200

    forged = edited(activation, request="deactivation", request_id="forged-1")
    refused = app.post_raw("deactivate_offline", forged)

    assert (refused.status_code, refused.json()["code"]) == (400, "date_header_diff")
    verify_response(refused)
    assert seats_held() == 1


def test_an_old_activation_file_sent_again_after_a_deactivation_takes_no_seat(app, code):
    activation = offline(app, "activation", code)
    app.post_raw("activate_offline", activation)
    assert app.post_raw("deactivate_offline", offline(app, "deactivation", code)).status_code == 200

    again = app.post_raw("activate_offline", edited(activation, request_id="replayed-1"))

    assert again.json()["code"] == "date_header_diff"
    assert seats_held() == 0


def test_a_device_activates_and_deactivates_offline_in_turn(app, code):
    for kind, endpoint in [("activation", "activate_offline"), ("deactivation", "deactivate_offline")] * 2:
        response = app.post_raw(endpoint, offline(app, kind, code))
        assert response.status_code == 200, response.content
    assert seats_held() == 0


def test_an_offline_deactivation_must_be_newer_than_the_online_activation(app, code):
    stale = offline(app, "deactivation", code)  # made before the device activated online
    body = {"product": "studio", "hardware_id": "vault", "license_key": code.code}
    assert app.post("activate_license", body).status_code == 200

    assert app.post_raw("deactivate_offline", stale).json()["code"] == "date_header_diff"
    assert seats_held() == 1
    assert app.post_raw("deactivate_offline", offline(app, "deactivation", code)).status_code == 200
    assert seats_held() == 0


def test_a_request_id_answers_only_the_request_it_first_answered_password_included(app):
    customer = CustomerFactory()
    user = LicenseUserFactory(customer=customer, username="ada@customer.example")
    user.entitlements.add(
        EntitlementFactory(
            customer=customer, product__code="team", product__authorization_method=Product.AuthorizationMethod.USER
        )
    )
    request = app.offline_request(
        "activation", product="team", hardware_id="vault", username=user.username,
        password="correct horse battery staple", request_id="r-1",
    )  # fmt: skip
    first = app.post_raw("activate_offline", request)
    assert read_license_file(first.content.decode())["hardware_id"] == "vault"

    with_another_password = app.post_raw("activate_offline", edited(request, password="not the password"))

    assert with_another_password.json()["code"] == "invalid_parameters"
    assert b"LICENSE FILE" not in with_another_password.content
    assert app.post_raw("activate_offline", request).content == first.content  # the very request: its answer
