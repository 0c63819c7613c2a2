"""What a client's requests may change, and what not: one customer's activations never
change what another customer sees; a request that fails its signature leaves no trace
on the credential it names; guessed keys fill no audit trail."""

import time

import pytest
from django.test import Client

from licensing import services
from licensing.actors import Actor
from licensing.models import AuditEvent, ClientCredential, Device, License
from licensing.services import activation
from tests.factories import ActivationCodeFactory, CustomerContactFactory, ProductFactory
from tests.licensing.api.conftest import ClientApp, auth_headers

pytestmark = pytest.mark.django_db


def activate(app: ClientApp, key: str, hardware_id: str, **facts):
    return app.post("activate_license", {"product": "studio", "hardware_id": hardware_id, "license_key": key, **facts})


def test_a_customer_activating_another_customers_hardware_id_changes_nothing_of_theirs(app):
    product = ProductFactory(code="studio")
    theirs = ActivationCodeFactory(entitlement__product=product)
    mine = ActivationCodeFactory(entitlement__product=product)
    assert activate(app, theirs.code, "their-machine", hostname="design-ws-01", os_ver="Windows 11").status_code == 200

    assert activate(app, mine.code, "their-machine", hostname="PWNED", os_ver="Evil OS").status_code == 200

    their_device = License.objects.get(activation_code=theirs).device
    assert (their_device.hostname, their_device.os_ver) == ("design-ws-01", "Windows 11")
    assert their_device.customer_id == theirs.entitlement.customer_id
    assert Device.objects.filter(hardware_id="their-machine").count() == 2
    # As their people see it in the portal.
    contact = CustomerContactFactory(customer=theirs.entitlement.customer, raw_password="portal password 123")
    portal = Client()
    portal.post("/portal/sign-in/", {"email": contact.email, "password": "portal password 123"})
    page = portal.get(f"/portal/entitlements/{theirs.entitlement_id}/").content.decode()
    assert "design-ws-01" in page and "PWNED" not in page


@pytest.fixture
def credential_in_use(db):
    credential, shared_key = services.client_credential_create(name="Desktop app", actor=Actor.system("test"))
    return credential, shared_key


def last_used(credential) -> object:
    return ClientCredential.objects.get(pk=credential.pk).last_used_at


def signed_check(api_key: str, shared_key: str):
    headers = auth_headers(api_key, shared_key)
    return Client().get(
        "/api/v4/check_license", {"product": "x", "hardware_id": "h", "license_key": "k"}, headers=headers
    )


def test_a_request_with_a_wrong_signature_does_not_stamp_the_credential(credential_in_use):
    credential, shared_key = credential_in_use
    assert signed_check(credential.api_key, "not the shared key").json()["code"] == "signature_mismatch"
    assert last_used(credential) is None
    signed_check(credential.api_key, shared_key)  # its holder's request
    assert last_used(credential) is not None


def test_a_revoked_credential_is_never_stamped(credential_in_use):
    credential, shared_key = credential_in_use
    services.client_credential_revoke(credential=credential, actor=Actor.system("test"))
    assert signed_check(credential.api_key, shared_key).json()["code"] == "invalid_api_key"
    assert last_used(credential) is None


def test_guessed_keys_are_one_audit_row_a_minute_with_a_count_of_the_rest(app, monkeypatch):
    ProductFactory(code="studio")
    monkeypatch.setattr(activation, "REFUSAL_SAMPLE_SECONDS", 1)
    for n in range(50):
        assert activate(app, f"GUES-S000-0000-{n:04d}", "hw").json()["code"] == "license_not_found"
    assert AuditEvent.objects.filter(action="license.activation_refused").count() == 1

    time.sleep(1.1)
    activate(app, "GUES-S000-0000-9999", "hw")

    first, second = AuditEvent.objects.filter(action="license.activation_refused").order_by("occurred_at")
    assert second.after["unrecorded_before"] == 49
    assert "unrecorded_before" not in first.after
