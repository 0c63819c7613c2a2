"""The client API's rate limit: per (API key as sent, client address), past it a signed
429 with Retry-After. Counts live in worker memory and are settled with the cache (Redis
here, as in production) at most once a second per key, so a check-in makes no round
trip for it. Time is an injected clock, never a sleep."""

from __future__ import annotations

import pytest
import yaml
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from django.test import Client

from licensing import services
from licensing.actors import Actor
from licensing.api.client.throttling import ClientRateThrottle, WindowCounts
from licensing.services.checkins import check_ins
from tests.factories import ActivationCodeFactory
from tests.licensing.api.conftest import ClientApp, verify_response

# Seconds since the epoch: 30.5 s into a one-minute window, 29.5 s before its end.
START = 1_000_050.5
WINDOW_END = 1_000_080


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingCache:
    """Django's real cache (Redis), with a tally of the calls made through it."""

    def __init__(self, real) -> None:
        self.real = real
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        method = getattr(self.real, name)

        def counted(*args, **kwargs):
            self.calls.append(name)
            return method(*args, **kwargs)

        return counted


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def counting_cache() -> CountingCache:
    return CountingCache(cache)


@pytest.fixture
def worker_counts(monkeypatch, clock, counting_cache) -> WindowCounts:
    """This test process's counts, as a fresh worker's, on the test's clock."""
    counts = WindowCounts(cache=counting_cache, clock=clock)
    monkeypatch.setattr(ClientRateThrottle, "counts", counts)
    return counts


@pytest.fixture
def rate(monkeypatch, worker_counts):
    """Sets the client rate. DRF-style rates are read once per process: patch them."""

    def set_rate(value: str) -> None:
        monkeypatch.setattr(ClientRateThrottle, "THROTTLE_RATES", {"client": value})

    return set_rate


@pytest.fixture
def code(db):
    return ActivationCodeFactory(entitlement__product__code="studio", entitlement__seats=5)


def activate(app: ClientApp, code, hardware_id: str = "hw-1"):
    return app.post("activate_license", {"product": "studio", "hardware_id": hardware_id, "license_key": code.code})


def check(app: ClientApp, code, hardware_id: str = "hw-1"):
    return app.get("check_license", {"product": "studio", "hardware_id": hardware_id, "license_key": code.code})


# Through the API


def test_a_client_over_its_rate_gets_a_signed_429_with_retry_after(app, code, rate, django_assert_num_queries):
    rate("3/minute")
    assert activate(app, code).status_code == 200
    assert check(app, code).status_code == 200
    assert check(app, code).status_code == 200
    # Refused before any work on its behalf: not even the credential is looked up.
    with django_assert_num_queries(0):
        response = check(app, code)
    assert response.status_code == 429
    assert response["Retry-After"] == "30"  # 29.5 s left in the window, in whole seconds
    verify_response(response)
    assert response.json() == {
        "status": 429,
        "code": "rate_limited",
        "message": "Too many requests with this API key from this address; retry in 30 seconds.",
        "retry_after": 30,
        "hardware_id": "hw-1",
    }
    # Every endpoint counts against the same budget.
    assert app.post("deactivate_license", {"product": "studio", "hardware_id": "hw-1"}).status_code == 429


def test_another_api_key_or_address_is_not_held_up(app, code, rate):
    rate("2/minute")
    activate(app, code)
    check(app, code)
    assert check(app, code).status_code == 429

    other, shared_key = services.client_credential_create(name="Other app", actor=Actor.system("test"))
    other_app = ClientApp(http=Client(), api_key=other.api_key, shared_key=shared_key)
    assert check(other_app, code).status_code == 200

    elsewhere = ClientApp(http=Client(REMOTE_ADDR="203.0.113.9"), api_key=app.api_key, shared_key=app.shared_key)
    assert check(elsewhere, code).status_code == 200


def test_the_next_window_allows_again(app, code, rate, clock):
    rate("2/minute")
    activate(app, code)
    check(app, code)
    assert check(app, code).status_code == 429
    clock.advance(WINDOW_END - START)
    assert check(app, code).status_code == 200


def test_warm_check_makes_no_query_and_no_cache_call_for_the_throttle(
    app, code, rate, counting_cache, settings, django_assert_num_queries
):
    rate("6000/minute")
    settings.LICENSING_CHECKIN_FLUSH_SECONDS = 3600  # check-ins buffered, as in production
    check_ins.flush()
    activate(app, code)
    check(app, code)  # the first check learns which rows to watch
    check(app, code)  # and the second remembers them
    counting_cache.calls.clear()
    with django_assert_num_queries(0):
        for _ in range(20):
            assert check(app, code).status_code == 200
    assert counting_cache.calls == []


# WindowCounts: one per worker process


def test_two_workers_sharing_the_cache_hold_the_limit_within_a_seconds_traffic(clock):
    # 50 requests a second, alternating between two workers, for a whole window.
    limit, per_second = 300, 50
    workers = [WindowCounts(clock=clock), WindowCounts(clock=clock)]
    clock.now = WINDOW_END - 60
    allowed = 0
    for n in range(60 * per_second):
        if workers[n % 2].hit(("key", "198.51.100.1"), limit, 60) is None:
            allowed += 1
        clock.advance(1 / per_second)
    assert limit <= allowed <= limit + per_second
    # Either worker alone would have allowed the whole limit: the cache made the difference.
    assert allowed < 2 * limit


def test_counts_are_settled_with_the_cache_at_most_once_a_second_per_key(clock, counting_cache):
    counts = WindowCounts(cache=counting_cache, clock=clock)
    clock.now = WINDOW_END - 60
    for _ in range(100):  # half a second: nothing settles yet
        assert counts.hit(("key-a", "198.51.100.1"), 10_000, 60) is None
        clock.advance(0.005)
    assert counting_cache.calls == []

    for _ in range(1000):  # ten seconds, two keys
        counts.hit(("key-a", "198.51.100.1"), 10_000, 60)
        counts.hit(("key-b", "198.51.100.1"), 10_000, 60)
        clock.advance(0.01)
    # One settle a second per key; the first of each also makes sure the counter exists.
    assert counting_cache.calls.count("incr") <= 2 * 10
    assert counting_cache.calls.count("add") == 2
    assert set(counting_cache.calls) == {"add", "incr"}
    # The shared counters hold what was settled: all but the last second's counts.
    total = sum(cache.get(entry.cache_key) for entry in counts._entries.values())
    assert 2100 - 2 * 100 <= total <= 2100


def test_a_refused_key_still_settles_but_no_more_than_once_a_second(clock, counting_cache):
    counts = WindowCounts(cache=counting_cache, clock=clock)
    clock.now = WINDOW_END - 60
    refused = 0
    for _ in range(500):  # five seconds; all but the first 5 refused
        refused += counts.hit(("key", "198.51.100.1"), 5, 60) is not None
        clock.advance(0.01)
    assert refused == 495
    assert counting_cache.calls.count("incr") == 1  # the 5 allowed, added once
    assert counting_cache.calls.count("get") <= 4  # then only reading the total, once a second


def test_a_worker_learns_what_others_allowed_when_it_settles(clock):
    first, second = WindowCounts(clock=clock), WindowCounts(clock=clock)
    clock.now = WINDOW_END - 60
    for _ in range(8):
        assert first.hit(("key", "198.51.100.1"), 10, 60) is None
    clock.advance(1)
    first.hit(("key", "198.51.100.1"), 10, 60)  # settles the 8 (and counts a 9th)
    assert second.hit(("key", "198.51.100.1"), 10, 60) is None  # knows nothing yet
    clock.advance(1)
    # The second worker settles its 1 and learns the total of 9: one left.
    assert second.hit(("key", "198.51.100.1"), 10, 60) is None
    wait = second.hit(("key", "198.51.100.1"), 10, 60)
    assert wait == pytest.approx(58)


def test_tracked_keys_are_capped_and_the_busy_key_is_kept(clock):
    counts = WindowCounts(clock=clock, max_keys=100)
    busy = ("real-key", "198.51.100.1")
    for _ in range(5):
        counts.hit(busy, 5, 60)
    for n in range(10_000):  # a flood of made-up API keys
        counts.hit((f"made-up-{n}", "192.0.2.1"), 5, 60)
        assert counts.hit(busy, 5, 60) is not None  # still over its limit: not forgotten
        assert len(counts) <= 100


def test_keys_of_past_windows_are_dropped(clock):
    counts = WindowCounts(clock=clock)
    for n in range(50):
        counts.hit((f"key-{n}", "192.0.2.1"), 5, 60)
    clock.advance(60)
    counts.hit(("new-key", "192.0.2.1"), 5, 60)
    assert len(counts) == 1


def test_without_a_cache_each_worker_counts_alone_and_retries_a_second_later(clock):
    unreachable = RedisCache("redis://127.0.0.1:1/0", {})  # nothing listens on port 1
    counts = WindowCounts(cache=unreachable, clock=clock)
    allowed = 0
    for _ in range(300):  # three seconds: a failed settle each second, no error
        allowed += counts.hit(("key", "198.51.100.1"), 20, 60) is None
        clock.advance(0.01)
    assert allowed == 20


def test_the_schema_documents_the_429(client, db):
    schema = yaml.safe_load(client.get("/api/schema/").content)
    for path, method in (("/api/v4/check_license", "get"), ("/api/v4/activate_offline", "post")):
        assert "429" in schema["paths"][path][method]["responses"]
