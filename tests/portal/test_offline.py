"""Offline activation and deactivation from the portal: upload the request file an
offline computer saved, take back a signed license file."""

import base64
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from licensing import services
from licensing.actors import Actor
from licensing.models import AuditEvent, License
from licensing.signing import current_signer
from tests.licensing.api.conftest import ClientApp, read_license_file, sign

VENDOR = Actor.system("vendor test")


@pytest.fixture(autouse=True)
def fresh_signer():
    current_signer.cache_clear()  # each test's database starts without a signing key
    yield
    current_signer.cache_clear()


@pytest.fixture
def app(db) -> ClientApp:
    credential, shared_key = services.client_credential_create(name="Desktop app", actor=VENDOR)
    return ClientApp(http=Client(), api_key=credential.api_key, shared_key=shared_key)


def upload(client, content: str | bytes, name: str = "request.txt"):
    data = content.encode() if isinstance(content, str) else content
    return client.post("/portal/offline/", {"request_file": SimpleUploadedFile(name, data, "text/plain")})


def test_offline_activation_downloads_a_license_file_that_verifies(portal, holdings, app, contact):
    entitlement, code, _ = holdings
    request_file = app.offline_request(
        "activation",
        product=entitlement.product.code,
        hardware_id="offline-hw-1",
        license_key=code.code,
        hostname="lab-pc",
    )
    response = upload(portal, request_file)
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{entitlement.product.code}-lab-pc.lic"'
    payload = read_license_file(response.content.decode())
    assert payload["hardware_id"] == "offline-hw-1"
    assert payload["license_key"] == code.code
    license = License.objects.get(device__hardware_id="offline-hw-1")
    assert license.status == License.Status.ACTIVE and license.entitlement == entitlement
    event = AuditEvent.objects.get(action="license.activated", target_id=license.pk)
    assert event.actor_type == AuditEvent.ActorType.PORTAL and event.actor_label == contact.email


def test_the_same_request_file_twice_gives_the_same_license_file(portal, holdings, app):
    entitlement, code, _ = holdings
    request_file = app.offline_request(
        "activation", product=entitlement.product.code, hardware_id="offline-hw-2", license_key=code.code
    )
    first, second = upload(portal, request_file), upload(portal, request_file)
    assert first.content == second.content
    assert License.objects.filter(device__hardware_id="offline-hw-2").count() == 1


def test_offline_deactivation_frees_the_seat(portal, holdings, app):
    entitlement, code, licenses = holdings
    device = licenses[0].device
    request_file = app.offline_request(
        "deactivation", product=entitlement.product.code, hardware_id=device.hardware_id, license_key=code.code
    )
    response = upload(portal, request_file)
    assert response["Location"] == "/portal/offline/"
    assert "its seat is free" in portal.get("/portal/offline/").content.decode()
    licenses[0].refresh_from_db()
    assert licenses[0].status == License.Status.DEACTIVATED


def test_license_user_activates_offline_with_their_own_username(license_user, app):
    from tests.portal.conftest import PASSWORD, signed_in

    entitlement = license_user.entitlements.get()
    request_file = app.offline_request(
        "activation",
        product=entitlement.product.code,
        hardware_id="offline-hw-u",
        username=license_user.username,
        password=PASSWORD,
    )
    payload = read_license_file(upload(signed_in(license_user), request_file).content.decode())
    assert payload["hardware_id"] == "offline-hw-u"


def _error(response) -> str:
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="field-error"' in html, html[-3000:]
    return html.split('class="field-error"')[1].split("</p>")[0]


def _tampered(request_file: str, **changes) -> str:
    fields = json.loads(base64.b64decode(request_file))
    return base64.b64encode(json.dumps({**fields, **changes}).encode()).decode()


def _dated(app: ClientApp, request_file: str, date: str) -> str:
    """The request re-dated and signed again by the application: genuine, but old."""
    fields = json.loads(base64.b64decode(request_file))
    message = f"licenseSpring\ndate: {date}\n{fields['license_key']}\n{fields['hardware_id']}\n{app.api_key}"
    return _tampered(request_file, date=date, signature=sign(app.shared_key, message))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "The file is empty"),
        (b"   \n", "The file is empty"),
        (b"this is not base64 at all!", "is not an offline request file"),
        (base64.b64encode(b"\xff\xfe not json"), "is not an offline request file"),
        (base64.b64encode(b"[1, 2]"), "is not an offline request file"),
        (base64.b64encode(b'{"request": "activation"}'), "This request file is incomplete"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "is not an offline request file"),
        (b"A" * 300_000, "far larger than an offline request file"),
    ],
)
def test_a_bad_file_gets_a_clear_error_and_changes_nothing(portal, holdings, content, says):
    before = (License.objects.count(), AuditEvent.objects.count())
    assert says in _error(upload(portal, content))
    assert (License.objects.count(), AuditEvent.objects.count()) == before


def test_a_tampered_or_refused_request_says_why(portal, holdings, app):
    entitlement, code, _ = holdings
    good = app.offline_request(
        "activation", product=entitlement.product.code, hardware_id="offline-hw-3", license_key=code.code
    )
    assert "signature does not match" in _error(upload(portal, _tampered(good, hardware_id="other-hw")))
    assert "application this server does not know" in _error(upload(portal, _tampered(good, api_key="unknown")))
    assert "too old" in _error(upload(portal, _dated(app, good, "Tue, 07 Jun 2011 20:51:35 GMT")))
    services.entitlement_disable(entitlement=entitlement, actor=VENDOR)
    assert "Disabled: entitlement disabled" in _error(upload(portal, good))
    assert not License.objects.filter(device__hardware_id="offline-hw-3").exists()


def test_no_file_chosen_is_a_form_error(portal):
    response = portal.post("/portal/offline/", {})
    assert "Choose the request file your application saved." in response.content.decode()
