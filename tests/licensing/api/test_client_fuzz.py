"""Whatever a client sends to the client API (any query, headers and body, online and
offline, signed correctly or not), the answer is never a 5xx, never a page of HTML, and
always signed: a client can verify every answer it gets, refusals included. And no
request, however odd, takes more seats than an entitlement has.

Hypothesis draws the requests: mostly well-formed ones with one part wrong or strange
(a field of the wrong type, text with NUL or lone surrogates, huge or nested values, a
bad signature, an odd content type), against a world where the right values exist, so
that requests reach the licensing rules and not only the first check."""

from __future__ import annotations

import base64
import json
import urllib.parse
from email.utils import formatdate

import pytest
from cryptography.exceptions import InvalidSignature
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from licensing.models import Entitlement, License
from tests.factories import ActivationCodeFactory, EntitlementFactory, LicenseUserFactory, ProductFactory
from tests.licensing.api.conftest import ClientApp, auth_headers, public_key

pytestmark = pytest.mark.django_db

PRODUCT, USER_PRODUCT = "fuzzed", "fuzzed-team"
USERNAME, PASSWORD = "fuzz@customer.example", "correct horse battery staple"
HARDWARE_IDS = ["hw-held", "hw-new", "hw-other"]

EXAMPLES = 120
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same requests every run
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture
def world(app: ClientApp) -> dict[str, str]:
    """A key-based product with a code (one device already holds a seat) and a user-based
    product with a license user: the values a well-formed request names."""
    code = ActivationCodeFactory(entitlement__product=ProductFactory(code=PRODUCT), entitlement__seats=2)
    team = EntitlementFactory(
        customer=code.entitlement.customer, product=ProductFactory(code=USER_PRODUCT, authorization_method="user")
    )
    LicenseUserFactory(customer=team.customer, username=USERNAME, raw_password=PASSWORD).entitlements.add(team)
    held = app.post("activate_license", {"product": PRODUCT, "hardware_id": "hw-held", "license_key": code.code})
    assert held.status_code == 200
    return {"license_key": code.code, "license_id": held.json()["id"]}


# Text of every kind: empty, control characters and NUL, lone surrogate halves (JSON can
# carry them escaped), long and very long, and whatever Hypothesis draws.
odd_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\x00", "a\x00b", "\ud800", "é" * 300, "x" * 5000, "%00", "../..", "null", "0"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | odd_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)
# Every field a client request may carry.
FIELDS = [
    "product", "hardware_id", "license_key", "username", "password", "nonce", "license_id",
    "hostname", "os_ver", "is_vm", "vm_info", "mac_address", "app_ver", "sdk_ver",
]  # fmt: skip


@st.composite
def request_fields(draw, world: dict[str, str]) -> dict:
    """A well-formed request's fields (a key-based or a user-based product, one of the
    devices), with some dropped, some replaced by odd values of any JSON type, and
    others added."""
    fields = draw(
        st.sampled_from(
            [
                {"product": PRODUCT, "license_key": world["license_key"]},
                {"product": USER_PRODUCT, "username": USERNAME, "password": PASSWORD},
                {"product": USER_PRODUCT, "username": USERNAME, "password": "wrong password"},
            ]
        )
    )
    fields["hardware_id"] = draw(st.sampled_from(HARDWARE_IDS))
    if draw(st.booleans()):
        fields["license_id"] = world["license_id"]
    for name in draw(st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=2)):
        del fields[name]
    for name in draw(st.lists(st.sampled_from(FIELDS), unique=True, max_size=3)):
        fields[name] = draw(st.one_of(odd_text, json_values))
    extra = draw(st.dictionaries(st.text(max_size=20), json_values, max_size=2))
    return {**extra, **fields}


@st.composite
def headers(draw, app: ClientApp) -> dict[str, str]:
    """Signed correctly most of the time; else no signature, a malformed one, a wrong key,
    a stale or unparseable date. Sometimes a License-Key header of any text."""
    kind = draw(st.sampled_from(["signed", "signed", "signed", "none", "garbage", "wrong key", "stale", "bad date"]))
    if kind == "signed":
        sent = app.headers()
    elif kind == "none":
        sent = {}
    elif kind == "garbage":
        sent = {"Date": formatdate(usegmt=True), "Authorization": draw(st.text(max_size=200).map(_header_safe))}
    elif kind == "wrong key":
        sent = auth_headers(app.api_key, "not-the-shared-key")
    elif kind == "stale":
        sent = auth_headers(app.api_key, app.shared_key, formatdate(0, usegmt=True))
    else:
        sent = auth_headers(app.api_key, app.shared_key) | {"Date": draw(st.text(max_size=40).map(_header_safe))}
    if draw(st.booleans()):
        sent["License-Key"] = draw(st.text(max_size=60).map(_header_safe))
    return sent


def _header_safe(text: str) -> str:
    """What an HTTP header can carry (latin-1, no line breaks)."""
    return text.encode("latin-1", "replace").decode("latin-1").replace("\r", " ").replace("\n", " ")


@st.composite
def bodies(draw, fields: dict) -> tuple[bytes, str]:
    """The fields as JSON (the right way), or any JSON, a form, raw bytes, nested JSON."""
    kind = draw(st.sampled_from(["json", "json", "any json", "form", "bytes", "deep"]))
    if kind == "json":
        return json.dumps(fields).encode(), "application/json"
    if kind == "any json":
        return json.dumps(draw(json_values)).encode(), "application/json"
    if kind == "form":
        flat = {str(k): str(v) for k, v in fields.items()}
        return urllib.parse.urlencode(flat, errors="surrogatepass").encode(), "application/x-www-form-urlencoded"
    if kind == "bytes":
        return draw(st.binary(max_size=300)), draw(st.sampled_from(["application/json", "text/plain", ""]))
    return b"[" * 5000 + b"]" * 5000, "application/json"


@st.composite
def offline_bodies(draw, app: ClientApp, world: dict[str, str], kind: str) -> tuple[bytes, str]:
    """A request file signed by the client (its fields right or odd), or one whose
    signature or encoding is wrong, as text or as a multipart upload."""
    fields = draw(request_fields(world))
    product = fields.pop("product", PRODUCT)
    hardware_id = fields.pop("hardware_id", "hw-offline")
    form = draw(st.sampled_from(["signed", "signed", "wrong request", "not base64", "not json", "any json"]))
    if form in ("signed", "wrong request") and isinstance(product, str) and isinstance(hardware_id, str):
        if not any(isinstance(fields.get(name), str) for name in ("license_key", "username")):
            fields["license_key"] = world["license_key"]
        request = kind if form == "signed" else draw(odd_text)
        try:
            text = app.offline_request(request, product=product, hardware_id=hardware_id, **fields)
        except (TypeError, AttributeError, UnicodeEncodeError):  # fields the client itself could not sign
            text = base64.b64encode(json.dumps(fields).encode()).decode()
        data = text.encode()
    elif form == "not base64":
        data = draw(st.binary(max_size=200))
    elif form == "not json":
        data = base64.b64encode(draw(st.binary(max_size=200)))
    else:
        data = base64.b64encode(json.dumps(draw(json_values)).encode())
    if draw(st.booleans()):
        boundary = "fuzzboundary"
        name = draw(st.sampled_from(["file", "file", "other"]))
        multipart = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="request.txt"\r\n'
                f"Content-Type: text/plain\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return multipart, f"multipart/form-data; boundary={boundary}"
    return data, draw(st.sampled_from(["text/plain", "application/octet-stream", "application/json"]))


def assert_answered_and_signed(response, key) -> None:
    assert response.status_code < 500, response.content[:500]
    assert response["Content-Type"].split(";")[0] in ("application/json", "text/plain"), response["Content-Type"]
    signature = response.get("LicenseSignature")
    assert signature, f"unsigned {response.status_code} answer: {response.content[:200]!r}"
    try:
        key.verify(base64.b64decode(signature), response.content)
    except InvalidSignature:  # pragma: no cover - the failure is the assertion
        pytest.fail(f"the signature does not verify: {response.status_code} {response.content[:200]!r}")


def assert_no_entitlement_over_its_seats() -> None:
    for entitlement in Entitlement.objects.all():
        assert License.objects.holding_seat().filter(entitlement=entitlement).count() <= entitlement.seats


def test_check_license_answers_any_query_and_headers_signed_and_without_5xx(app, world):
    key = public_key()

    @SETTINGS
    @given(data=st.data())
    def check(data):
        query = data.draw(request_fields(world), label="query")
        flat = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in query.items()}
        query_string = urllib.parse.urlencode(flat, errors="surrogatepass")
        response = app.http.generic(
            "GET", f"/api/v4/check_license?{query_string}", headers=data.draw(headers(app), label="headers")
        )
        assert_answered_and_signed(response, key)

    check()


@pytest.mark.parametrize("endpoint", ["activate_license", "deactivate_license"])
def test_online_writes_answer_any_body_and_headers_signed_and_without_5xx(app, world, endpoint):
    key = public_key()

    @SETTINGS
    @given(data=st.data())
    def send(data):
        fields = data.draw(request_fields(world), label="fields")
        body, content_type = data.draw(bodies(fields), label="body")
        response = app.http.generic(
            "POST", f"/api/v4/{endpoint}", body, content_type, headers=data.draw(headers(app), label="headers")
        )
        assert_answered_and_signed(response, key)

    send()
    assert_no_entitlement_over_its_seats()


@pytest.mark.parametrize(
    ("endpoint", "kind"), [("activate_offline", "activation"), ("deactivate_offline", "deactivation")]
)
def test_offline_requests_of_any_form_are_answered_signed_and_without_5xx(app, world, endpoint, kind):
    key = public_key()

    @SETTINGS
    @given(data=st.data())
    def send(data):
        body, content_type = data.draw(offline_bodies(app, world, kind), label="body")
        response = app.http.generic(
            "POST", f"/api/v4/{endpoint}", body, content_type, headers=data.draw(headers(app), label="headers")
        )
        assert_answered_and_signed(response, key)

    send()
    assert_no_entitlement_over_its_seats()


def test_any_other_path_or_method_is_answered_signed(app, world):
    key = public_key()

    @SETTINGS
    @given(
        method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]),
        path=st.sampled_from(["check_license", "activate_license", "public_key", "activate_offline", ""])
        | st.text(alphabet=st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=30),
    )
    def send(method, path):
        response = app.http.generic(method, "/api/v4/" + urllib.parse.quote(path), headers=app.headers())
        if method == "HEAD":
            assert response.status_code < 500
            return
        assert_answered_and_signed(response, key)

    send()


@pytest.mark.parametrize("length", ["²", "-1", "1e3", "9" * 40, " 12", "١٢"])
def test_an_odd_content_length_is_refused_signed(app, world, length):
    body = json.dumps({"product": PRODUCT, "hardware_id": "hw-new", "license_key": world["license_key"]})
    response = app.http.generic(
        "POST", "/api/v4/activate_license", body, "application/json", headers=app.headers(), CONTENT_LENGTH=length
    )
    assert_answered_and_signed(response, public_key())
    assert (response.status_code, response.json()["code"]) == (413, "request_too_large")
