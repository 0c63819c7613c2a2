"""Bad input to the client API: every error of the table is reachable, each
answer is a signed JSON error with the documented status and code, and no bad request
changes anything (no license, device or activation audit event appears)."""

import base64
import datetime as dt
import json
import time
import uuid
from contextlib import contextmanager
from email.utils import formatdate

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test.client import MULTIPART_CONTENT
from django.utils import timezone

from licensing import services, snapshots
from licensing.actors import Actor
from licensing.clientauth import date_message, hmac_signature
from licensing.models import AuditEvent, Device, License, OfflineRequest, Product
from tests.factories import ActivationCodeFactory, EntitlementFactory, LicenseUserFactory, ProductFactory
from tests.licensing.api.conftest import ClientApp, auth_headers, read_license_file, sign, verify_response

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
CHANGES = ("license.activated", "license.deactivated")


# --- helpers -------------------------------------------------------------------------


def counts() -> dict[str, int]:
    return {
        "licenses": License.objects.count(),
        "devices": Device.objects.count(),
        "changes": AuditEvent.objects.filter(action__in=CHANGES).count(),
        "offline_requests": OfflineRequest.objects.count(),
    }


@contextmanager
def nothing_changes():
    before = counts()
    yield
    assert counts() == before


def assert_error(response, status: int, code: str, *, names: str | None = None, reason: str | None = None) -> dict:
    """A client API error: the status, a JSON body of exactly status/code/message (+ reason),
    bound to the request (the nonce and hardware_id it sent, echoed), a message naming
    `names` when given, and a LicenseSignature over the exact body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    bound = sent_binding(response)
    assert {name: body[name] for name in ("nonce", "hardware_id") if name in body} == bound
    assert set(body) - set(bound) == {"status", "code", "message"} | ({"reason"} if reason else set())
    assert body["status"] == status
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    if names is not None:
        assert names in body["message"]
    if reason is not None:
        assert body["reason"] == reason
    verify_response(response)
    return body


def sent_binding(response) -> dict[str, str]:
    """The nonce and hardware_id the request sent, as plain text of a sane length: what
    its answer must echo."""
    request = response.wsgi_request
    sent = dict(request.GET.items())
    raw = request.body if len(request.body) <= 64 * 1024 else b""  # a larger body is not read
    try:
        if request.content_type == "application/json":
            sent.update(json.loads(raw))
        elif request.content_type == "text/plain":
            sent = {"hardware_id": json.loads(base64.b64decode(b"".join(raw.split()), validate=True))["hardware_id"]}
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, RecursionError):
        pass
    limits = {"nonce": 128, "hardware_id": 255}
    return {
        name: value
        for name, longest in limits.items()
        if isinstance(value := sent.get(name), str) and 0 < len(value) <= longest and value.isprintable()
    }


def send(app: ClientApp, endpoint: str, body, headers: dict[str, str]):
    """A request to `endpoint` with exactly these headers (nothing added)."""
    if endpoint == "check_license":
        return app.http.get(f"/api/v4/{endpoint}", body, headers=headers)
    if endpoint.endswith("_offline"):
        return app.http.post(f"/api/v4/{endpoint}", body, content_type="text/plain", headers=headers)
    return app.http.post(f"/api/v4/{endpoint}", json.dumps(body), content_type="application/json", headers=headers)


def authorization(**params: str) -> str:
    return ",".join(f'{name}="{value}"' for name, value in params.items())


def decode_offline(request: str) -> dict:
    return json.loads(base64.b64decode(request))


def encode_offline(fields) -> str:
    return base64.b64encode(json.dumps(fields).encode()).decode()


# --- fixtures ------------------------------------------------------------------------


@pytest.fixture
def code():
    return ActivationCodeFactory(entitlement__product=ProductFactory(code="studio"))


@pytest.fixture
def license_user():
    product = ProductFactory(code="cloud", authorization_method=Product.AuthorizationMethod.USER)
    entitlement = EntitlementFactory(product=product)
    user = LicenseUserFactory(customer=entitlement.customer, username="ada@customer.example")
    user.entitlements.add(entitlement)
    return user


@pytest.fixture
def activation(code):
    return {"product": "studio", "hardware_id": "hw-1", "license_key": code.code}


@pytest.fixture
def request_for(app, code):
    """A request to each endpoint that would change something (or succeed) if its
    authentication were skipped: hw-1 holds a license, hw-2 does not."""
    app.post("activate_license", {"product": "studio", "hardware_id": "hw-1", "license_key": code.code})

    def build(endpoint: str):
        hardware_id = "hw-2" if endpoint.startswith("activate") else "hw-1"
        if endpoint.endswith("_offline"):
            kind = "activation" if endpoint.startswith("activate") else "deactivation"
            return app.offline_request(kind, product="studio", hardware_id=hardware_id, license_key=code.code)
        return {"product": "studio", "hardware_id": hardware_id, "license_key": code.code}

    return build


ENDPOINTS = ["activate_license", "check_license", "deactivate_license", "activate_offline", "deactivate_offline"]


# --- headers -------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("dropped", [("Date",), ("Authorization",), ("Date", "Authorization")])
def test_request_without_date_or_authorization_is_refused_with_missing_headers(app, request_for, endpoint, dropped):
    headers = {k: v for k, v in app.headers().items() if k not in dropped}
    with nothing_changes():
        response = send(app, endpoint, request_for(endpoint), headers)
    assert_error(response, 400, "missing_headers")


def test_empty_authorization_header_counts_as_missing(app, activation):
    with nothing_changes():
        response = app.post("activate_license", activation, Authorization="")
    assert_error(response, 400, "missing_headers")


def _good_params(app: ClientApp) -> dict[str, str]:
    date = formatdate(usegmt=True)
    return {
        "Date": date,
        "algorithm": "hmac-sha256",
        "headers": "date",
        "signature": sign(app.shared_key, date_message(date)),
        "apiKey": app.api_key,
    }


MALFORMED = {
    "garbage": lambda p: "this is not an authorization header",
    "basic_scheme": lambda p: "Basic dXNlcjpwYXNzd29yZA==",
    "missing_api_key": lambda p: authorization(algorithm=p["algorithm"], headers="date", signature=p["signature"]),
    "missing_signature": lambda p: authorization(algorithm=p["algorithm"], headers="date", apiKey=p["apiKey"]),
    "empty_signature": lambda p: authorization(
        algorithm="hmac-sha256", headers="date", signature="", apiKey=p["apiKey"]
    ),
    "wrong_algorithm": lambda p: authorization(
        algorithm="hmac-sha1", headers="date", signature=p["signature"], apiKey=p["apiKey"]
    ),
    "headers_other_than_date": lambda p: authorization(
        algorithm="hmac-sha256", headers="date host", signature=p["signature"], apiKey=p["apiKey"]
    ),
    "unquoted_values": lambda p: f"algorithm=hmac-sha256,headers=date,signature={p['signature']},apiKey={p['apiKey']}",
    "half_quoted_value": lambda p: (
        f'algorithm="hmac-sha256,headers="date",signature="{p["signature"]}",apiKey="{p["apiKey"]}"'
    ),
    "five_kilobytes": lambda p: authorization(
        algorithm="hmac-sha256", headers="date", signature=p["signature"], apiKey=p["apiKey"], padding="x" * 5000
    ),
}


@pytest.mark.parametrize("make", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_authorization_is_refused_with_authorization_invalid_headers(app, activation, make):
    params = _good_params(app)
    with nothing_changes():
        response = app.post("activate_license", activation, Date=params["Date"], Authorization=make(params))
    assert_error(response, 400, "authorization_invalid_headers")


def test_well_formed_authorization_in_any_parameter_order_is_accepted(app, activation):
    # The control for the cases above: the same parameters, reordered and spaced, pass.
    p = _good_params(app)
    header = f' apiKey = "{p["apiKey"]}" , signature="{p["signature"]}", headers="date",algorithm="hmac-sha256"'
    response = app.post("activate_license", activation, Date=p["Date"], Authorization=header)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("minutes", [-16, 16], ids=["past", "future"])
def test_date_more_than_fifteen_minutes_off_is_refused_with_date_header_diff(app, activation, minutes):
    # Correctly signed: only the clock is wrong.
    date = formatdate(time.time() + minutes * 60, usegmt=True)
    with nothing_changes():
        response = app.post("activate_license", activation, **auth_headers(app.api_key, app.shared_key, date))
    assert_error(response, 400, "date_header_diff")


@pytest.mark.parametrize("minutes", [-14, 14])
def test_date_within_fifteen_minutes_is_accepted(app, activation, minutes):
    date = formatdate(time.time() + minutes * 60, usegmt=True)
    response = app.post("activate_license", activation, **auth_headers(app.api_key, app.shared_key, date))
    assert response.status_code == 200, response.content


def test_captured_request_replayed_sixteen_minutes_later_is_refused(app, activation):
    headers = app.headers()
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=16), tick=False), nothing_changes():
        response = app.http.post(
            "/api/v4/activate_license", json.dumps(activation), content_type="application/json", headers=headers
        )
    assert_error(response, 400, "date_header_diff")


@pytest.mark.parametrize(
    "date",
    ["yesterday", "2024-06-07T20:51:35Z", "Tue, 99 Jun 2011 20:51:35 GMT", "Tue, 07 Jun 99999 20:51:35 GMT", "\u2603"],
)
def test_unparseable_date_is_refused_with_date_header_diff(app, activation, date):
    with nothing_changes():
        response = app.post("activate_license", activation, **auth_headers(app.api_key, app.shared_key, date))
    assert_error(response, 400, "date_header_diff")


# --- credentials and signatures ------------------------------------------------------


def test_design_hmac_public_test_vector():
    date = "Tue, 07 Jun 2011 20:51:35 GMT"
    signature = hmac_signature("kw4qSnpSwXzgiv5yxYpZZmFEd9QAeiKTQ6OuyMja", date_message(date))
    assert signature == "UDysfR6MndUZReo07Y9r+vErn8vSxrnQ5ulit18iJ/Q="


@pytest.mark.parametrize("api_key", ["no-such-key", "k" * 65, "\u00e9t\u00e9"], ids=["unknown", "too_long", "latin1"])
def test_unknown_api_key_is_refused_with_401_invalid_api_key(app, activation, api_key):
    with nothing_changes():
        response = app.post("activate_license", activation, **auth_headers(api_key, app.shared_key))
    assert_error(response, 401, "invalid_api_key")


def test_revoked_credential_stops_working_at_once_despite_the_worker_cache(
    app, credential, activation, django_capture_on_commit_callbacks
):
    assert app.post("activate_license", activation).status_code == 200
    assert app.get("check_license", activation).status_code == 200
    # The worker holds the credential in memory: the next check would not read the database.
    assert app.get("check_license", activation).status_code == 200
    keys = list(snapshots.credentials.keys_for(credential.api_key))
    assert snapshots.credentials.get(credential.api_key, snapshots.Versions.read(keys)) is not None

    with django_capture_on_commit_callbacks(execute=True):
        services.client_credential_revoke(credential=credential, actor=Actor.system("test"), reason="leaked")

    with nothing_changes():
        response = app.get("check_license", activation)
        assert_error(response, 401, "invalid_api_key")
        deactivation = app.post("deactivate_license", activation)
        assert_error(deactivation, 401, "invalid_api_key")
    assert License.objects.get().status == License.Status.ACTIVE


def test_offline_request_signed_with_a_revoked_credential_is_refused(
    app, credential, code, django_capture_on_commit_callbacks
):
    request = app.offline_request("activation", product="studio", hardware_id="vault-1", license_key=code.code)
    with django_capture_on_commit_callbacks(execute=True):
        services.client_credential_revoke(credential=credential, actor=Actor.system("test"))
    # Signed headers from a second, live credential: only the file's own api_key is revoked.
    other, other_key = services.client_credential_create(name="Kiosk", actor=Actor.system("test"))
    with nothing_changes():
        response = app.http.post(
            "/api/v4/activate_offline",
            request,
            content_type="text/plain",
            headers=auth_headers(other.api_key, other_key),
        )
    assert_error(response, 401, "invalid_api_key")


def test_rotated_shared_key_refuses_the_old_key_and_accepts_the_new(
    app, credential, activation, django_capture_on_commit_callbacks
):
    assert app.post("activate_license", activation).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        rotated, new_key = services.client_credential_rotate(credential=credential, actor=Actor.system("test"))

    with nothing_changes():
        assert_error(app.get("check_license", activation), 401, "signature_mismatch")
    fresh = ClientApp(http=Client(), api_key=rotated.api_key, shared_key=new_key)
    response = fresh.get("check_license", activation)
    assert response.status_code == 200, response.content
    verify_response(response)


@pytest.mark.parametrize(
    "signature",
    [
        lambda app, date: sign("some-other-shared-key", date_message(date)),
        lambda app, date: sign(app.shared_key, date_message("Tue, 07 Jun 2011 20:51:35 GMT")),
        lambda app, date: sign(app.shared_key, f"date: {date}"),
        lambda app, date: "not base64 at all",
    ],
    ids=["other_key", "other_date", "other_message", "junk"],
)
def test_wrong_signature_is_refused_with_401_signature_mismatch(app, activation, signature):
    date = formatdate(usegmt=True)
    header = authorization(algorithm="hmac-sha256", headers="date", signature=signature(app, date), apiKey=app.api_key)
    with nothing_changes():
        response = app.post("activate_license", activation, Date=date, Authorization=header)
    assert_error(response, 401, "signature_mismatch")


# --- parameters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "drop", "override", "field"),
    [
        ("activate_license", "product", {}, "product"),
        ("activate_license", "hardware_id", {}, "hardware_id"),
        ("activate_license", "license_key", {}, "license_key"),
        ("activate_license", None, {"product": ""}, "product"),
        ("activate_license", None, {"hardware_id": ""}, "hardware_id"),
        ("activate_license", None, {"license_key": ""}, "license_key"),
        ("activate_license", None, {"hardware_id": None}, "hardware_id"),
        ("check_license", "product", {}, "product"),
        ("check_license", "hardware_id", {}, "hardware_id"),
        ("check_license", "license_key", {}, "license_key"),
        ("check_license", None, {"hardware_id": ""}, "hardware_id"),
        ("deactivate_license", "product", {}, "product"),
        ("deactivate_license", "hardware_id", {}, "hardware_id"),
        ("deactivate_license", "license_key", {}, "license_key"),
        ("deactivate_license", None, {"product": ""}, "product"),
    ],
)
def test_missing_field_is_refused_with_missing_parameters_naming_it(app, activation, endpoint, drop, override, field):
    app.post("activate_license", activation)  # so that a check or deactivation would otherwise succeed
    body = {k: v for k, v in activation.items() if k != drop} | override
    with nothing_changes():
        response = app.get(endpoint, body) if endpoint == "check_license" else app.post(endpoint, body)
    assert_error(response, 400, "missing_parameters", names=field)
    assert License.objects.get().status == License.Status.ACTIVE


def test_empty_body_is_refused_with_missing_parameters(app, code):
    with nothing_changes():
        response = app.post_raw("activate_license", b"", content_type="application/json")
    assert_error(response, 400, "missing_parameters", names="product")


def test_username_without_password_for_user_based_product_is_refused_naming_password(app, license_user):
    with nothing_changes():
        response = app.post(
            "activate_license", {"product": "cloud", "hardware_id": "hw-1", "username": "ada@customer.example"}
        )
    assert_error(response, 400, "missing_parameters", names="password")


def test_username_for_key_based_product_is_refused_naming_license_key(app, code):
    with nothing_changes():
        response = app.post("activate_license", {"product": "studio", "hardware_id": "hw-1", "username": "a@b.example"})
    assert_error(response, 400, "missing_parameters", names="license_key")


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"product": ["studio"]}, "product"),
        ({"product": {"code": "studio"}}, "product"),
        ({"product": True}, "product"),
        ({"license_key": ["a", "b"]}, "license_key"),
        ({"is_vm": "maybe"}, "is_vm"),
        ({"ip": "not-an-ip"}, "ip"),
        ({"ip": "999.1.1.1"}, "ip"),
        ({"hardware_id": "h" * 10_000}, "hardware_id"),
        ({"hostname": "h" * 10_000}, "hostname"),
        ({"app_ver": "v" * 65}, "app_ver"),
        ({"nonce": "n" * 129}, "nonce"),
        ({"product": "stu\x00dio"}, "product"),
        ({"hardware_id": "hw\x00-1"}, "hardware_id"),
    ],
)
def test_wrongly_typed_activation_field_is_refused_with_invalid_parameters(app, activation, override, field):
    with nothing_changes():
        response = app.post("activate_license", activation | override)
    assert_error(response, 400, "invalid_parameters", names=field)


def test_license_id_that_is_not_a_uuid_is_refused_with_invalid_parameters(app, activation):
    app.post("activate_license", activation)
    with nothing_changes():
        response = app.post("deactivate_license", activation | {"license_id": "not-a-uuid"})
    assert_error(response, 400, "invalid_parameters", names="license_id")
    assert License.objects.get().status == License.Status.ACTIVE


def test_license_id_of_another_license_does_not_deactivate(app, activation):
    app.post("activate_license", activation)
    with nothing_changes():
        response = app.post("deactivate_license", activation | {"license_id": str(uuid.uuid4())})
    assert_error(response, 400, "device_not_found")
    assert License.objects.get().status == License.Status.ACTIVE


@pytest.mark.parametrize("field", ["is_vm", "ip", "hostname", "vm_info"])
def test_optional_field_sent_as_null_is_treated_as_absent(app, activation, field):
    response = app.post("activate_license", activation | {field: None})
    assert response.status_code == 200, response.content


# --- bodies --------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["activate_license", "deactivate_license"])
@pytest.mark.parametrize(
    "raw",
    [b"not json", b'{"product": "studio",', b"[]", b'[{"product": "studio"}]', b"null", b'"studio"', b"\xff\xfe{}"],
    ids=["text", "truncated", "empty_array", "array", "null", "string", "not_utf8"],
)
def test_body_that_is_not_a_json_object_is_refused_with_invalid_json(app, code, endpoint, raw):
    with nothing_changes():
        response = app.post_raw(endpoint, raw, content_type="application/json")
    assert_error(response, 400, "invalid_json")


@pytest.mark.parametrize("endpoint", ["activate_license", "deactivate_license"])
def test_deeply_nested_json_is_refused_with_invalid_json_not_500(app, code, endpoint):
    raw = b"[" * 50_000  # well under the 64 KB limit
    response = Client(raise_request_exception=False).post(
        f"/api/v4/{endpoint}", raw, content_type="application/json", headers=app.headers()
    )
    assert_error(response, 400, "invalid_json")


@pytest.mark.parametrize("endpoint", ["activate_license", "deactivate_license"])
def test_body_over_64_kb_is_refused_with_413_request_too_large(app, activation, endpoint):
    with nothing_changes():
        response = app.post(endpoint, activation | {"hostname": "h" * (65 * 1024)})
    assert_error(response, 413, "request_too_large")


@pytest.mark.parametrize("content_type", ["text/plain", MULTIPART_CONTENT])
def test_offline_body_over_64_kb_is_refused_with_413_request_too_large(app, code, content_type):
    request = app.offline_request("activation", product="studio", hardware_id="hw-1", license_key=code.code)
    padded = request + "\n" * (65 * 1024)
    data = padded if content_type == "text/plain" else {"file": SimpleUploadedFile("req.txt", padded.encode())}
    with nothing_changes():
        response = app.post_raw("activate_offline", data, content_type=content_type)
    assert_error(response, 413, "request_too_large")


# --- lookups -------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["activate_license", "check_license", "deactivate_license"])
def test_unknown_product_is_refused_with_unknown_product(app, activation, endpoint):
    body = activation | {"product": "no-such-product"}
    with nothing_changes():
        response = app.get(endpoint, body) if endpoint == "check_license" else app.post(endpoint, body)
    assert_error(response, 400, "unknown_product")


@pytest.mark.parametrize("endpoint", ["activate_license", "check_license", "deactivate_license"])
def test_unknown_license_key_is_refused_with_license_not_found(app, activation, endpoint):
    other_key = ActivationCodeFactory().code  # a real key, of another product
    body = activation | {"license_key": other_key}
    with nothing_changes():
        response = app.get(endpoint, body) if endpoint == "check_license" else app.post(endpoint, body)
    assert_error(response, 400, "license_not_found")


@pytest.mark.parametrize("endpoint", ["activate_license", "check_license", "deactivate_license"])
def test_unknown_license_user_is_refused_with_license_not_found(app, license_user, endpoint):
    body = {"product": "cloud", "hardware_id": "hw-1", "username": "nobody@customer.example", "password": PASSWORD}
    if endpoint != "activate_license":
        body.pop("password")
    with nothing_changes():
        response = app.get(endpoint, body) if endpoint == "check_license" else app.post(endpoint, body)
    assert_error(response, 400, "license_not_found")


@pytest.mark.parametrize("password", ["wrong password", PASSWORD.upper(), PASSWORD + " "])
def test_wrong_password_is_refused_with_400_invalid_credentials(app, license_user, password):
    body = {"product": "cloud", "hardware_id": "hw-1", "username": license_user.username, "password": password}
    with nothing_changes():
        response = app.post("activate_license", body)
    assert_error(response, 400, "invalid_credentials")
    right = app.post("activate_license", body | {"password": PASSWORD})
    assert right.status_code == 200, right.content


@pytest.mark.parametrize("endpoint", ["check_license", "deactivate_license"])
def test_device_without_a_license_is_refused_with_device_not_found(app, activation, endpoint):
    app.post("activate_license", activation | {"hardware_id": "someone-else"})
    body = activation | {"hardware_id": "never-activated"}
    with nothing_changes():
        response = app.get(endpoint, body) if endpoint == "check_license" else app.post(endpoint, body)
    assert_error(response, 400, "device_not_found")


def test_deactivated_device_checking_in_is_refused_with_device_not_found(app, activation):
    app.post("activate_license", activation)
    app.post("deactivate_license", activation)
    with nothing_changes():
        response = app.get("check_license", activation)
    assert_error(response, 400, "device_not_found")


# --- offline -------------------------------------------------------------------------


@pytest.fixture
def offline_activation(app, code):
    return app.offline_request("activation", product="studio", hardware_id="vault-1", license_key=code.code)


@pytest.mark.parametrize("endpoint", ["activate_offline", "deactivate_offline"])
@pytest.mark.parametrize("raw", ["", "   \n\t  "], ids=["empty", "whitespace"])
def test_empty_offline_body_is_refused_with_missing_content(app, endpoint, raw):
    with nothing_changes():
        response = app.post_raw(endpoint, raw)
    assert_error(response, 400, "missing_content")


@pytest.mark.parametrize("endpoint", ["activate_offline", "deactivate_offline"])
@pytest.mark.parametrize("raw", ["!!! not base64 !!!", "abc", '{"request": "activation"}', "\u00e9\u00e8"])
def test_offline_body_that_is_not_base64_is_refused_with_invalid_base64(app, endpoint, raw):
    with nothing_changes():
        response = app.post_raw(endpoint, raw.encode())
    assert_error(response, 400, "invalid_base64")


@pytest.mark.parametrize("endpoint", ["activate_offline", "deactivate_offline"])
@pytest.mark.parametrize(
    "decoded",
    [b"hello, world", b'{"request": "activation",', b"\xff\xfe\xfd", b'["activation", "studio"]', b"null", b"42"],
    ids=["text", "truncated", "not_utf8", "list", "null", "number"],
)
def test_offline_body_that_does_not_decode_to_a_json_object_is_refused_with_invalid_json(app, endpoint, decoded):
    with nothing_changes():
        response = app.post_raw(endpoint, base64.b64encode(decoded))
    assert_error(response, 400, "invalid_json")


@pytest.mark.parametrize("field", ["request", "product", "hardware_id", "date", "request_id", "api_key", "signature"])
@pytest.mark.parametrize("how", ["absent", "empty"])
def test_offline_request_lacking_a_field_is_refused_with_missing_parameters_naming_it(
    app, offline_activation, field, how
):
    fields = decode_offline(offline_activation)
    if how == "absent":
        del fields[field]
    else:
        fields[field] = ""
    with nothing_changes():
        response = app.post_raw("activate_offline", encode_offline(fields))
    assert_error(response, 400, "missing_parameters", names=field)


def test_offline_request_without_license_key_or_username_is_refused_with_missing_parameters(app, offline_activation):
    fields = decode_offline(offline_activation)
    del fields["license_key"]
    with nothing_changes():
        response = app.post_raw("activate_offline", encode_offline(fields))
    assert_error(response, 400, "missing_parameters", names="license_key")


@pytest.mark.parametrize(
    ("field", "value"),
    [("hardware_id", 12345), ("product", ["studio"]), ("license_key", {"k": 1}), ("hostname", "h" * 256)],
)
def test_offline_field_of_the_wrong_type_is_refused_with_invalid_parameters(app, offline_activation, field, value):
    fields = decode_offline(offline_activation) | {field: value}
    with nothing_changes():
        response = app.post_raw("activate_offline", encode_offline(fields))
    assert_error(response, 400, "invalid_parameters", names=field)


@pytest.mark.parametrize(
    ("field", "value"),
    [("hardware_id", "vault-2"), ("license_key", "AAAA-BBBB-CCCC-DDDD"), ("date", formatdate(0, usegmt=True))],
)
def test_tampered_offline_request_is_refused_with_401_signature_mismatch(app, offline_activation, field, value):
    fields = decode_offline(offline_activation) | {field: value}
    with nothing_changes():
        response = app.post_raw("activate_offline", encode_offline(fields))
    assert_error(response, 401, "signature_mismatch")


def test_offline_request_with_a_junk_signature_is_refused_with_401_signature_mismatch(app, offline_activation):
    fields = decode_offline(offline_activation) | {"signature": "junk"}
    with nothing_changes():
        response = app.post_raw("activate_offline", encode_offline(fields))
    assert_error(response, 401, "signature_mismatch")


def test_offline_request_with_an_unknown_api_key_is_refused_with_401_invalid_api_key(app, offline_activation):
    fields = decode_offline(offline_activation) | {"api_key": "no-such-key"}
    with nothing_changes():
        response = app.post_raw("activate_offline", encode_offline(fields))
    assert_error(response, 401, "invalid_api_key")


def test_offline_refusal_is_a_signed_json_error_and_takes_nothing(app, code):
    request = app.offline_request("activation", product="no-such-product", hardware_id="vault-1", license_key=code.code)
    response = app.post_raw("activate_offline", request)
    assert_error(response, 400, "unknown_product")
    assert License.objects.count() == Device.objects.count() == 0
    assert not AuditEvent.objects.filter(action__in=CHANGES).exists()


def test_deactivation_request_sent_to_activate_offline_is_refused_with_invalid_parameters(app, code):
    app.post_raw(
        "activate_offline",
        app.offline_request("activation", product="studio", hardware_id="vault-1", license_key=code.code),
    )
    deactivation = app.offline_request("deactivation", product="studio", hardware_id="vault-1", license_key=code.code)
    with nothing_changes():
        response = app.post_raw("activate_offline", deactivation)
    assert_error(response, 400, "invalid_parameters", names="deactivation")
    assert License.objects.get().status == License.Status.ACTIVE


def test_activation_request_sent_to_deactivate_offline_is_refused_with_invalid_parameters(app, offline_activation):
    with nothing_changes():
        response = app.post_raw("deactivate_offline", offline_activation)
    assert_error(response, 400, "invalid_parameters", names="activation")


def test_offline_request_of_an_unknown_kind_is_refused_with_invalid_parameters(app, offline_activation):
    fields = decode_offline(offline_activation) | {"request": "upgrade"}
    with nothing_changes():
        response = app.post_raw("activate_offline", encode_offline(fields))
    assert_error(response, 400, "invalid_parameters", names="request")


def test_multipart_body_without_a_file_part_is_refused_with_missing_content(app, offline_activation):
    with nothing_changes():
        response = app.post_raw(
            "activate_offline",
            {"request": offline_activation, "note": "wrong part name"},
            content_type=MULTIPART_CONTENT,
        )
    assert_error(response, 400, "missing_content")


def test_multipart_body_with_an_empty_file_part_is_refused_with_missing_content(app):
    with nothing_changes():
        response = app.post_raw(
            "activate_offline", {"file": SimpleUploadedFile("request.txt", b"")}, content_type=MULTIPART_CONTENT
        )
    assert_error(response, 400, "missing_content")


def test_multipart_body_with_a_file_part_activates(app, offline_activation):
    upload = SimpleUploadedFile("request.txt", offline_activation.encode(), content_type="text/plain")
    response = app.post_raw("activate_offline", {"file": upload}, content_type=MULTIPART_CONTENT)
    assert response.status_code == 200, response.content
    verify_response(response)
    assert read_license_file(response.content.decode())["hardware_id"] == "vault-1"
    assert License.objects.holding_seat().count() == 1


def test_replayed_request_id_gets_the_first_answer_byte_for_byte_and_changes_nothing(app, code):
    request = app.offline_request(
        "activation", product="studio", hardware_id="vault-1", license_key=code.code, request_id="once"
    )
    first = app.post_raw("activate_offline", request)
    assert first.status_code == 200, first.content

    with nothing_changes():
        again = app.post_raw("activate_offline", request)
        # Another request borrowing the request_id must not read the first one's answer.
        other = app.post_raw(
            "activate_offline",
            app.offline_request(
                "activation", product="studio", hardware_id="vault-2", license_key=code.code, request_id="once"
            ),
        )
    assert again.status_code == 200
    assert again.content == first.content
    assert again["LicenseSignature"] == first["LicenseSignature"]
    verify_response(again)
    assert_error(other, 400, "invalid_parameters")
    assert AuditEvent.objects.filter(action="license.activated").count() == 1
    assert list(License.objects.values_list("device__hardware_id", flat=True)) == ["vault-1"]


def test_offline_request_id_too_long_to_store_is_refused_not_500(app, code):
    request = app.offline_request(
        "activation", product="studio", hardware_id="vault-1", license_key=code.code, request_id="r" * 200
    )
    response = Client(raise_request_exception=False).post(
        "/api/v4/activate_offline", request, content_type="text/plain", headers=app.headers()
    )
    assert_error(response, 400, "invalid_parameters", names="request_id")
    assert counts()["licenses"] == 0


@pytest.mark.parametrize("field", ["app_ver", "sdk_ver"])
def test_offline_device_fact_too_long_to_store_is_refused_not_500(app, code, field):
    request = app.offline_request(
        "activation", product="studio", hardware_id="vault-1", license_key=code.code, **{field: "v" * 100}
    )
    response = Client(raise_request_exception=False).post(
        "/api/v4/activate_offline", request, content_type="text/plain", headers=app.headers()
    )
    assert_error(response, 400, "invalid_parameters", names=field)


# (A NUL in license_key is dropped by normalize_code, like any punctuation: that activates.)
@pytest.mark.parametrize("field", ["product", "hardware_id", "request_id"])
def test_offline_field_with_a_null_byte_is_refused_not_500(app, code, field):
    values = {"product": "studio", "hardware_id": "vault-1", "license_key": code.code, "request_id": "req-1"}
    values[field] = values[field] + "\x00"
    request = app.offline_request("activation", **values)
    response = Client(raise_request_exception=False).post(
        "/api/v4/activate_offline", request, content_type="text/plain", headers=app.headers()
    )
    assert_error(response, 400, "invalid_parameters", names=field)


def test_offline_body_of_deeply_nested_json_is_refused_with_invalid_json_not_500(app):
    response = Client(raise_request_exception=False).post(
        "/api/v4/activate_offline", base64.b64encode(b"[" * 40_000), content_type="text/plain", headers=app.headers()
    )
    assert_error(response, 400, "invalid_json")


@pytest.mark.parametrize(
    ("field", "junk"),
    [
        ("api_key", "\x00"),
        ("api_key", "\ud800"),
        ("signature", "\ud800"),
        ("product", "\ud800"),
        ("request_id", "\ud800"),
        ("hostname", "\ud800"),
    ],
    ids=["api_key-nul", "api_key-surrogate", "signature-surrogate", "product", "request_id", "hostname"],
)
def test_offline_field_with_unencodable_characters_is_refused_not_500(app, offline_activation, field, junk):
    # product, request_id and hostname are not covered by the offline signature, so the
    # tampered file still verifies.
    fields = decode_offline(offline_activation)
    fields[field] = fields.get(field, "host") + junk
    response = Client(raise_request_exception=False).post(
        "/api/v4/activate_offline", encode_offline(fields), content_type="text/plain", headers=app.headers()
    )
    assert_error(response, 400, "invalid_parameters", names=field)
    assert counts()["licenses"] == 0


def _multipart(parts: int, *, files: bool) -> bytes:
    filename = '; filename="x.txt"' if files else ""
    body = "".join(f'--B\r\nContent-Disposition: form-data; name="f{i}"{filename}\r\n\r\nx\r\n' for i in range(parts))
    return (body + "--B--\r\n").encode()


@pytest.mark.parametrize(("parts", "files"), [(1100, False), (120, True)], ids=["fields", "files"])
def test_multipart_body_with_too_many_parts_is_a_signed_json_error(app, parts, files):
    body = _multipart(parts, files=files)
    assert len(body) < 64 * 1024  # under the size limit: only the part count is wrong
    with nothing_changes():
        response = app.post_raw("activate_offline", body, content_type="multipart/form-data; boundary=B")
    assert_error(response, 400, "missing_content")


# --- methods, junk -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "endpoint"),
    [
        ("get", "activate_license"),
        ("get", "deactivate_license"),
        ("get", "activate_offline"),
        ("post", "check_license"),
        ("put", "activate_license"),
        ("delete", "check_license"),
    ],
)
def test_method_not_allowed_is_a_signed_json_error(app, method, endpoint):
    with nothing_changes():
        response = getattr(app.http, method)(f"/api/v4/{endpoint}", headers=app.headers())
    assert_error(response, 405, "method_not_allowed", names=method.upper())


def test_unsigned_wrong_method_is_refused_before_anything_else(app):
    response = app.http.get("/api/v4/activate_license")
    assert_error(response, 400, "missing_headers")


@pytest.mark.parametrize(
    ("params", "code_"),
    [
        ({"product": "\U0001f4a5\u202e\ufeff", "hardware_id": "hw-1", "license_key": "x"}, "unknown_product"),
        ({"product": "studio", "hardware_id": "\u0000", "license_key": "x"}, "invalid_parameters"),
        ({"product": "stu\u0000dio", "hardware_id": "hw-1", "license_key": "x"}, "invalid_parameters"),
        ({"product": "studio", "hardware_id": "hw-1", "license_key": "\u0000"}, "invalid_parameters"),
        ({"product": "studio", "hardware_id": "hw-1", "license_key": "\u043a\u043b\u044e\u0447"}, "license_not_found"),
        ({"product": "studio", "hardware_id": "hw-1", "username": "\u0000@x"}, "invalid_parameters"),
        ({"product": "studio", "hardware_id": "\U0001f5a5" * 100, "license_key": "x"}, "license_not_found"),
    ],
)
def test_unicode_junk_and_null_bytes_in_query_params_get_a_clear_error(app, code, params, code_):
    with nothing_changes():
        response = app.get("check_license", params)
    assert_error(response, 400, code_)


def test_invalid_utf8_in_the_query_string_gets_a_clear_error(app, code):
    with nothing_changes():
        response = app.http.get(
            "/api/v4/check_license?product=%FF%FE&hardware_id=%C0%AF&license_key=%ED%A0%80", headers=app.headers()
        )
    assert_error(response, 400, "unknown_product")


def test_unicode_junk_in_a_json_body_gets_a_clear_error(app, code):
    body = {"product": "studio", "hardware_id": "\u202e\U0001f4a5\ufeff", "license_key": "\ufffd\u0301"}
    with nothing_changes():
        response = app.post("activate_license", body)
    assert_error(response, 400, "license_not_found")


@pytest.mark.parametrize("field", ["product", "hardware_id", "license_key", "hostname", "nonce"])
def test_lone_surrogate_escape_in_a_json_body_is_refused_with_invalid_parameters(app, code, field):
    # json.loads turns "\ud800" into a str that cannot be encoded, let alone stored.
    body = json.dumps({"product": "studio", "hardware_id": "hw-1", "license_key": code.code, field: "\ud800"})
    with nothing_changes():
        response = app.post_raw("activate_license", body, content_type="application/json")
    assert_error(response, 400, "invalid_parameters", names=field)


def test_api_key_with_a_null_byte_is_refused_not_500(app, activation):
    headers = auth_headers(app.api_key + "\x00", app.shared_key)
    response = Client(raise_request_exception=False).post(
        "/api/v4/activate_license", json.dumps(activation), content_type="application/json", headers=headers
    )
    assert response.status_code in (400, 401), response.content
    assert json.loads(response.content)["code"] in ("invalid_api_key", "authorization_invalid_headers")
    verify_response(response)


def test_options_answer_is_signed_like_every_other(app):
    response = app.http.options("/api/v4/activate_license", headers=app.headers())
    assert response["Content-Type"].startswith("application/json")
    verify_response(response)


def test_too_many_query_parameters_get_a_signed_400(app):
    params = {f"p{n}": "x" for n in range(1_200)}
    response = app.get("check_license", params)
    assert response.status_code == 400
    verify_response(response)
    assert response.json()["code"] == "bad_request"


def test_an_unexpected_failure_is_still_a_signed_json_answer(app, code, monkeypatch):
    from licensing.api.client import views

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views.services, "license_check", broken)
    response = app.get(
        "check_license", {"product": "studio", "hardware_id": "hw-1", "license_key": code.code, "nonce": "n-1"}
    )
    assert response.status_code == 500
    verify_response(response)
    assert response.json() == {
        "status": 500,
        "code": "server_error",
        "message": "The server failed; try again later.",
        "hardware_id": "hw-1",
        "nonce": "n-1",
    }
