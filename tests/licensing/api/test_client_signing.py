"""Answers and license files verify with nothing but the public key; anything altered
does not. The nonce a client sends comes back inside the signed body."""

import base64
import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client

from licensing.clientauth import hmac_signature
from licensing.models import SigningKey
from licensing.signing import current_signer
from tests.factories import ActivationCodeFactory
from tests.licensing.api.conftest import read_license_file, verify_response

pytestmark = pytest.mark.django_db


def test_design_hmac_test_vector_verifies():
    signature = hmac_signature(
        "kw4qSnpSwXzgiv5yxYpZZmFEd9QAeiKTQ6OuyMja", "licenseSpring\ndate: Tue, 07 Jun 2011 20:51:35 GMT"
    )
    assert signature == "UDysfR6MndUZReo07Y9r+vErn8vSxrnQ5ulit18iJ/Q="


@pytest.fixture
def code():
    return ActivationCodeFactory(entitlement__product__code="studio")


def activate(app, code, hardware_id="hw-1", **extra):
    body = {"product": "studio", "hardware_id": hardware_id, "license_key": code.code, **extra}
    return app.post("activate_license", body)


def test_signed_answer_verifies_with_the_public_key_alone(app, code):
    response = activate(app, code, nonce="c0ffee")
    assert response.status_code == 200
    verify_response(response)
    assert response.json()["nonce"] == "c0ffee"


def test_tampered_answer_fails_verification(app, code):
    response = activate(app, code)
    tampered = response.content.replace(b'"license_active":true', b'"license_active":false')
    assert tampered != response.content
    response.content = tampered
    with pytest.raises(InvalidSignature):
        verify_response(response)


def test_nonce_cannot_be_swapped_in_a_replayed_answer(app, code):
    activate(app, code)
    response = app.get(
        "check_license", {"product": "studio", "hardware_id": "hw-1", "license_key": code.code, "nonce": "first"}
    )
    response.content = response.content.replace(b'"nonce":"first"', b'"nonce":"other"')
    with pytest.raises(InvalidSignature):
        verify_response(response)


def test_errors_are_signed_too(app):
    response = app.get("check_license", {"product": "nope", "hardware_id": "hw", "license_key": "X"})
    assert response.status_code == 400
    verify_response(response)
    assert response.json() == {
        "status": 400,
        "code": "unknown_product",
        "message": "No product with code “nope”.",
        "hardware_id": "hw",
    }


def test_public_key_needs_no_credentials_and_is_stable(db):
    first = Client().get("/api/v4/public_key")
    assert first.status_code == 200
    assert first.content.startswith(b"-----BEGIN PUBLIC KEY-----")
    current_signer.cache_clear()  # a second process loads the same stored key
    assert Client().get("/api/v4/public_key").content == first.content
    assert SigningKey.objects.count() == 1


def test_stored_private_key_is_encrypted(db):
    Client().get("/api/v4/public_key")
    stored = SigningKey.objects.get()
    assert "PRIVATE KEY" not in stored.private_key_encrypted


def test_signing_key_from_settings_is_used(settings, db):
    key = Ed25519PrivateKey.generate()
    settings.LICENSING_SIGNING_KEY = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    current_signer.cache_clear()
    pem = Client().get("/api/v4/public_key").content
    expected = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert pem == expected
    assert not SigningKey.objects.exists()


def test_offline_license_file_verifies_and_names_its_device(app, code):
    request = app.offline_request("activation", product="studio", hardware_id="air-gapped-1", license_key=code.code)
    response = app.post_raw("activate_offline", request)
    assert response.status_code == 200
    verify_response(response)
    payload = read_license_file(response.content.decode())
    assert payload["hardware_id"] == "air-gapped-1"
    assert payload["license_key"] == code.code
    assert payload["license_active"] is True
    assert payload["issued_at"] < payload["expires_at"]


def test_tampered_license_file_fails_verification(app, code):
    request = app.offline_request("activation", product="studio", hardware_id="air-gapped-1", license_key=code.code)
    text = app.post_raw("activate_offline", request).content.decode()
    lines = text.strip().splitlines()
    envelope = json.loads(base64.b64decode("".join(lines[1:-1])))
    payload = json.loads(base64.b64decode(envelope["payload"]))
    payload["features"] = {"everything": True}
    envelope["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    forged = "\n".join([lines[0], base64.b64encode(json.dumps(envelope).encode()).decode(), lines[-1]])
    with pytest.raises(InvalidSignature):
        read_license_file(forged)
