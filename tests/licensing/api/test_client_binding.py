"""Every JSON answer of the client API is bound to its request: it carries the request's
`nonce` and the `hardware_id` it is about, refusals and rate limits included. A client
that verifies answers with the README's own code cannot be handed an answer about
another device, nor a captured answer replayed, by anyone between it and the server."""

import json
import re
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from django.test import Client

from licensing.api.client.throttling import ClientRateThrottle, WindowCounts
from tests.factories import ActivationCodeFactory

from .conftest import ClientApp

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[3] / "README.md"


@pytest.fixture
def verified():
    """The README's `verified`, as a client developer would paste it."""
    block = next(b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if "def verified" in b)
    namespace = {"PUBLIC_KEY_PEM": Client().get("/api/v4/public_key").content}
    exec(block, namespace)
    return namespace["verified"]


@pytest.fixture
def code(db):
    return ActivationCodeFactory(entitlement__product__code="studio", entitlement__seats=5)


def answer(response) -> tuple[bytes, dict]:
    return response.content, {name: response[name] for name in ("LicenseSignature", "Content-Type")}


def check(app: ClientApp, code, hardware_id: str, nonce: str, **extra):
    query = {"product": "studio", "hardware_id": hardware_id, "license_key": code.code, "nonce": nonce, **extra}
    return app.get("check_license", query)


def activate(app: ClientApp, code, hardware_id: str, nonce: str):
    body = {"product": "studio", "hardware_id": hardware_id, "license_key": code.code, "nonce": nonce}
    return app.post("activate_license", body)


def test_a_license_body_names_the_device_it_is_about_and_echoes_the_nonce(app, code, verified):
    activated = verified(*answer(activate(app, code, "hw-1", "nonce-1")), "nonce-1", "hw-1")
    checked = verified(*answer(check(app, code, "hw-1", "nonce-2")), "nonce-2", "hw-1")
    assert (activated["hardware_id"], checked["hardware_id"]) == ("hw-1", "hw-1")
    assert (activated["nonce"], checked["nonce"]) == ("nonce-1", "nonce-2")


def test_an_answer_about_another_device_on_the_same_key_is_rejected(app, code, verified):
    """A proxy that asks about another active device, with the victim's nonce, gets a
    valid signed 200: the client rejects it, since it is not about its own device."""
    activate(app, code, "victim", "a")
    activate(app, code, "other", "b")

    proxied = check(app, code, "other", "victims-nonce")

    assert proxied.status_code == 200
    with pytest.raises(ValueError, match="another device"):
        verified(*answer(proxied), "victims-nonce", "victim")


def test_a_captured_refusal_cannot_be_replayed_to_another_request(app, code, verified):
    refusal = check(app, code, "hw-1", "first")  # not activated yet
    assert verified(*answer(refusal), "first", "hw-1")["code"] == "device_not_found"
    with pytest.raises(ValueError):
        verified(*answer(refusal), "second", "hw-1")


def test_a_tampered_answer_is_rejected(app, code, verified):
    activate(app, code, "hw-1", "a")
    body, headers = answer(check(app, code, "hw-1", "n"))
    with pytest.raises(InvalidSignature):
        verified(body.replace(b'"active"', b'"revoked"'), headers, "n", "hw-1")


def test_a_deactivation_is_plain_text_and_verified_as_such(app, code, verified):
    activate(app, code, "hw-1", "a")
    body = {"product": "studio", "hardware_id": "hw-1", "license_key": code.code, "nonce": "n"}
    assert verified(*answer(app.post("deactivate_license", body)), "n", "hw-1") == "license_deactivated"


@pytest.mark.parametrize(
    ("extra", "status", "error"),
    [
        ({}, 400, "device_not_found"),
        ({"product": "nope"}, 400, "unknown_product"),
        ({"license_key": "0000-0000-0000-0000"}, 400, "license_not_found"),
    ],
)
def test_refusals_are_bound_like_successes(app, code, verified, extra, status, error):
    response = check(app, code, "hw-1", "n-1", **extra)
    assert response.status_code == status
    assert verified(*answer(response), "n-1", "hw-1")["code"] == error


def test_authentication_refusals_are_bound_too(app, code, verified):
    query = {"product": "studio", "hardware_id": "hw-1", "license_key": code.code, "nonce": "n-1"}
    response = app.http.get("/api/v4/check_license", query)  # no Date, no Authorization
    assert verified(*answer(response), "n-1", "hw-1")["code"] == "missing_headers"


def test_a_rate_limited_answer_is_bound_too(app, code, verified, monkeypatch):
    monkeypatch.setattr(ClientRateThrottle, "THROTTLE_RATES", {"client": "1/minute"})
    monkeypatch.setattr(ClientRateThrottle, "counts", WindowCounts())
    check(app, code, "hw-1", "first")
    limited = check(app, code, "hw-1", "second")
    assert limited.status_code == 429
    assert verified(*answer(limited), "second", "hw-1")["code"] == "rate_limited"


def test_a_body_too_large_to_read_is_bound_to_what_the_query_string_carried(app, verified):
    huge = json.dumps({"product": "studio", "padding": "x" * 70_000})
    response = app.http.post(
        "/api/v4/activate_license?nonce=q-1&hardware_id=hw-1", huge, content_type="application/json",
        headers=app.headers(),
    )  # fmt: skip
    assert response.status_code == 413
    assert verified(*answer(response), "q-1", "hw-1")["code"] == "request_too_large"


def test_the_license_key_may_come_in_a_header_instead_of_the_query_string(app, code, verified):
    activate(app, code, "hw-1", "a")
    query = {"product": "studio", "hardware_id": "hw-1", "nonce": "n"}
    response = app.http.get("/api/v4/check_license", query, headers={**app.headers(), "License-Key": code.code})
    assert response.status_code == 200
    assert code.code not in response.wsgi_request.get_full_path()
    assert verified(*answer(response), "n", "hw-1")["license_key"] == code.code
