"""The library against the real server (gunicorn on the test database): activation,
checks, refusals raised as their exceptions, and every answer that is not the server's
answer to this request about this device refused."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from licensing_client import (
    ClockTampered,
    ConsumptionLimitReached,
    DeviceNotFound,
    FloatingNotAvailable,
    InvalidCredentials,
    LeaseExpired,
    LicenseDisabled,
    ReplayedAnswer,
    ServerUnreachable,
    SignatureInvalid,
    TrialNotAllowed,
    WrongDevice,
)

from licensing import services
from licensing.actors import Actor
from licensing.models import ConsumptionCounter, License, ProductFeature
from tests.factories import (
    ActivationCodeFactory,
    EntitlementFactory,
    LicenseUserFactory,
    ProductFactory,
    grant_features,
)

from .conftest import PRODUCT
from .proxy import Proxy, Request, Response

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

STAFF = Actor.system("test")


@pytest.fixture
def code(transactional_db):
    code = ActivationCodeFactory(
        entitlement__product__code=PRODUCT,
        entitlement__seats=2,
        entitlement__max_consumptions=10,
        entitlement__lease_period=dt.timedelta(hours=1),
    )
    grant_features(code.entitlement, {"export": True})
    return code


def replay(captured: Response):
    return lambda proxy, request: captured


def test_activate_check_deactivate(make_client, code):
    client = make_client()
    license = client.activate(code.code)
    assert license.active and not license.from_cache
    assert license.has_feature("export")
    assert License.objects.holding_seat().count() == 1
    # A new run of the application knows its license from the verified cache.
    again = make_client()
    assert again.license is not None and again.license.license_key == license.license_key
    checked = again.check()
    assert checked.active and not checked.from_cache
    assert checked.lease_expires_at > checked.server_time
    assert again.check_feature("export").value is True
    again.deactivate()
    assert License.objects.holding_seat().count() == 0
    assert again.license is None
    with pytest.raises(DeviceNotFound):
        client.check()  # the first instance still knows the key: the server says no device


def test_a_disabled_customer_is_refused_at_the_next_check_and_the_cache_is_dropped(make_client, code, nowhere):
    client = make_client()
    client.activate(code.code)
    services.customer_disable(customer=code.entitlement.customer, actor=STAFF)
    with pytest.raises(LicenseDisabled) as refused:
        client.check()
    assert (refused.value.code, refused.value.reason) == ("license_not_enabled", "customer_disabled")
    # Going offline does not bring the refused license back.
    with pytest.raises(ServerUnreachable):
        make_client(base=nowhere, max_retries=0).check()


def test_a_tampered_cache_file_is_refused(make_client, code, nowhere, tmp_path):
    make_client().activate(code.code)
    path = next((tmp_path / "cache" / "hw-1").glob("*.license.json"))
    record = json.loads(path.read_text())
    body = json.loads(base64.b64decode(record["body"]))
    body["lease_expires_at"] = "2099-01-01T00:00:00.000Z"  # run offline for ever
    record["body"] = base64.b64encode(json.dumps(body, separators=(",", ":"), sort_keys=True).encode()).decode()
    path.write_text(json.dumps(record))
    offline = make_client(base=nowhere, max_retries=0)
    assert offline.license is None
    with pytest.raises(SignatureInvalid):
        offline.check()
    path.write_text("{not json")
    with pytest.raises(SignatureInvalid):
        offline.check()


def test_a_replayed_answer_is_refused(make_client, code, live):
    make_client().activate(code.code)
    with Proxy(live.base) as proxy:
        client = make_client(base=proxy.base)
        client.check()
        captured = proxy.log[-1][1]  # a validly signed answer, to an earlier request
        proxy.plan = [replay(captured)]
        with pytest.raises(ReplayedAnswer):
            client.check()
        assert client.check().active  # the next real answer is fine


def test_an_answer_about_another_device_is_refused(make_client, code, live):
    make_client("hw-other").activate(code.code)
    make_client().activate(code.code)

    def other_device(proxy, request: Request) -> Response:
        url = urlsplit(request.path)
        query = dict(parse_qsl(url.query)) | {"hardware_id": "hw-other"}
        return proxy.forward(Request(request.method, f"{url.path}?{urlencode(query)}", request.headers, b""))

    with Proxy(live.base) as proxy:
        client = make_client(base=proxy.base)
        proxy.plan = [other_device]
        with pytest.raises(WrongDevice):
            client.check()


def test_a_backdated_clock_is_detected(make_client, code):
    client = make_client(clock_tolerance=300)
    client.activate(code.code)
    client.clock = lambda: time.time() - 60  # within the tolerance: fine
    client.check()
    client.clock = lambda: time.time() - 3600
    with pytest.raises(ClockTampered):
        client.check()
    # The trusted time is on disk: a new instance (a restart) knows it too.
    restarted = make_client(clock_tolerance=300)
    restarted.clock = lambda: time.time() - 3600
    with pytest.raises(ClockTampered):
        restarted.check()


def test_with_the_server_gone_the_cached_lease_holds_until_it_ends(credential, tmp_path, make_client):
    from tests.licensing.api.conftest import client_api_server

    code = ActivationCodeFactory(entitlement__product__code=PRODUCT, entitlement__lease_period=dt.timedelta(minutes=10))
    with client_api_server(workers=1) as base:
        client = make_client(base=base, max_retries=1)
        lease = client.activate(code.code).lease_expires_at
    # The server is stopped now.
    offline = client.check()
    assert offline.from_cache and offline.lease_expires_at == lease
    client.clock = lambda: lease.timestamp() - 1
    assert client.check().from_cache
    client.clock = lambda: lease.timestamp() + 1
    with pytest.raises(LeaseExpired):
        client.check()


def test_a_429_is_retried_after_retry_after(make_client, code, live):
    make_client().activate(code.code)
    with Proxy(live.base) as proxy:
        client = make_client(base=proxy.base)
        proxy.plan = [lambda proxy, request: Response(429, {"Retry-After": "1"}, b'{"code":"rate_limited"}')]
        started = time.monotonic()
        assert client.check().active
        assert time.monotonic() - started >= 1.0
        assert [r.status for _, r in proxy.log] == [429, 200]


def test_5xx_is_retried_and_refusals_are_not(make_client, code, live):
    with Proxy(live.base) as proxy:
        client = make_client(base=proxy.base)
        down = lambda proxy, request: Response(503, {"Content-Type": "text/html"}, b"down")  # noqa: E731
        proxy.plan = [down, down]
        assert client.activate(code.code).active
        assert [r.status for _, r in proxy.log] == [503, 503, 200]
        proxy.log.clear()
        stranger = make_client("hw-stranger", base=proxy.base)
        stranger._identity = {"license_key": code.code}
        with pytest.raises(DeviceNotFound):
            stranger.check()
        assert len(proxy.log) == 1  # a refusal is final
        proxy.plan = [down] * 10
        with pytest.raises(ServerUnreachable):
            make_client("hw-2", base=proxy.base, max_retries=2).activate(code.code)
        assert len(proxy.log) == 1 + 3


def test_a_count_retried_with_its_request_id_counts_once(make_client, code, live):
    feature = services.product_feature_create(
        product_feature=ProductFeature(
            product=code.entitlement.product, code="renders", name="Renders", feature_type="consumption"
        ),
        actor=STAFF,
    )
    grant_features(code.entitlement, {feature.code: True}, max_consumptions=5)
    make_client().activate(code.code)
    with Proxy(live.base) as proxy:
        client = make_client(base=proxy.base)

        def lost_answer(proxy, request):  # counted by the server, the answer lost on the way
            proxy.forward(request)
            return Response(502, {}, b"bad gateway")

        proxy.plan = [lost_answer]
        assert client.add_consumption(2, request_id="count-1")["total_consumptions"] == 2
        assert [r.status for _, r in proxy.log] == [502, 200]
        # The application retrying by itself, with the same id: still counted once.
        assert client.add_consumption(2, request_id="count-1")["total_consumptions"] == 2
        assert client.add_consumption(1)["total_consumptions"] == 3
        proxy.plan = [lost_answer]
        assert client.add_feature_consumption("renders", 4, request_id="r-1")["total_consumptions"] == 4
        assert client.add_feature_consumption("renders", 4, request_id="r-1")["total_consumptions"] == 4
        with pytest.raises(ConsumptionLimitReached):
            client.add_feature_consumption("renders", 2)
    assert sorted(ConsumptionCounter.objects.values_list("used", flat=True)) == [3, 4]


def test_trial_keys(make_client, live):
    product = ProductFactory(code="trialware", trial_allowed=True, trial_duration=14, trial_seats=1)
    ProductFactory(code="paid-only")
    client = make_client(product="trialware")
    trial = client.trial_key("ada@example.com")
    assert trial["is_trial"] is True and trial["product"] == product.code
    assert client.trial_key("ada@example.com").license_key == trial.license_key  # one trial per machine
    license = client.activate(trial.license_key)
    assert license.is_trial and license.active
    with pytest.raises(TrialNotAllowed):
        make_client(product="paid-only").trial_key("ada@example.com")


def test_a_license_user_activates_with_username_and_password(make_client, live):
    product = ProductFactory(code="team", authorization_method="user")
    user = LicenseUserFactory()
    # Hashed as production hashes it: the live server runs production's hashers, not the
    # suite's fast one.
    user.password = PBKDF2PasswordHasher().encode("a-long-password-1", PBKDF2PasswordHasher().salt())
    user.save(update_fields=["password"])
    entitlement = EntitlementFactory(customer=user.customer, product=product)
    user.entitlements.add(entitlement)
    client = make_client(product="team")
    license = client.activate(username=user.username, password="a-long-password-1")
    assert license.user == user.username and license.active
    assert make_client(product="team").check().active  # a new run knows the user from the cache
    with pytest.raises(InvalidCredentials):
        make_client("hw-2", product="team").activate(username=user.username, password="wrong")


def test_a_floating_slot_is_borrowed_then_released(make_client, live):
    code = ActivationCodeFactory(
        entitlement__product__code=PRODUCT,
        entitlement__license_model="floating",
        entitlement__seats=1,
        entitlement__max_borrow_time=3600,
    )
    client = make_client()
    client.activate(code.code)
    borrowed = client.borrow(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30))
    assert borrowed["is_borrowed"] is True
    with pytest.raises(FloatingNotAvailable):
        make_client("hw-2").activate(code.code)  # the one slot is borrowed
    client.release()
    assert make_client("hw-2").activate(code.code).active  # released: the slot is free


def rewritten(**changes: str):
    """A proxy step that changes the request's query (its signature covers only the Date)."""

    def step(proxy, request: Request) -> Response:
        url = urlsplit(request.path)
        query = dict(parse_qsl(url.query)) | changes
        return proxy.forward(Request(request.method, f"{url.path}?{urlencode(query)}", request.headers, b""))

    return step


def as_a_check(proxy, request: Request) -> Response:
    """The count's request sent on as a check (same signed headers): nothing is counted,
    and the answer is a license body, signed, with the request's nonce."""
    fields = json.loads(request.body)
    query = {name: fields[name] for name in ("product", "hardware_id", "license_key", "nonce")}
    headers = {name: value for name, value in request.headers.items() if name.lower() != "content-length"}
    return proxy.forward(Request("GET", f"/api/v4/check_license?{urlencode(query)}", headers, b""))


def test_an_answer_about_another_feature_is_refused(make_client, code, live):
    grant_features(code.entitlement, {"basic": True})  # beside the fixture's export
    make_client().activate(code.code)
    with Proxy(live.base) as proxy:
        client = make_client(base=proxy.base)
        proxy.plan = [rewritten(feature="basic")]
        with pytest.raises(ReplayedAnswer):
            client.check_feature("export")
        assert client.check_feature("export").value is True  # unchanged requests pass


def test_a_count_turned_into_a_check_is_not_taken_for_a_count(make_client, code, live):
    make_client().activate(code.code)
    with Proxy(live.base) as proxy:
        client = make_client(base=proxy.base)
        proxy.plan = [as_a_check]
        with pytest.raises(ReplayedAnswer):
            client.add_consumption(1)
    assert not ConsumptionCounter.objects.exists()  # and indeed nothing was counted
