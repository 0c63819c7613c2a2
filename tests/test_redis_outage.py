"""With its Redis down, the server keeps answering: the management API, the portal's
sign-in and the client API (activations and checks) degrade (limits counted per
process, a line in the log) and come back to the shared counts when Redis does. A Redis
server of the test's own, stopped and started again; and one that hangs."""

import socket
import threading
import time

import pytest
from django.core.cache import caches
from django.test import Client
from rest_framework.test import APIClient

from config.settings.base import redis_cache
from licensing import limits, services, snapshots
from licensing.actors import Actor
from tests.factories import ActivationCodeFactory, CustomerContactFactory, CustomerFactory
from tests.licensing.api.conftest import ClientApp
from tests.servers import RedisServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_redis(tmp_path, settings, monkeypatch):
    """The cache and the client API's version counters on a Redis of the test's own."""
    redis = RedisServer(tmp_path)
    redis.start()
    settings.CACHES = redis_cache(redis.url)
    settings.REDIS_URL = redis.url
    monkeypatch.setattr(snapshots, "_store", snapshots._Store())
    monkeypatch.setattr(limits.FallbackCache, "RETRY_SECONDS", 0.5)
    limits.fallback_cache.reset()
    yield redis
    if redis.running():
        redis.stop()
    caches["default"].close()
    limits.fallback_cache.reset()


@pytest.fixture
def client_app() -> ClientApp:
    credential, shared_key = services.client_credential_create(name="Desktop", actor=Actor.system("test"))
    return ClientApp(http=Client(), api_key=credential.api_key, shared_key=shared_key)


def requests_answered(token: str, contact, client_app: ClientApp, code) -> list[int]:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    listed = api.get("/api/v1/customers")
    created = api.post("/api/v1/products", {"code": f"p-{time.monotonic_ns()}", "name": "P"}, format="json")
    sign_in = Client().post("/portal/sign-in/", {"email": contact.email, "password": "portal password 123"})
    wrong = Client().post("/portal/sign-in/", {"email": contact.email, "password": "not it"})
    device = {"product": code.entitlement.product.code, "hardware_id": "hw-1", "license_key": code.code}
    activated = client_app.post("activate_license", device)
    checked = client_app.get("check_license", device)
    answers = [listed, created, sign_in, wrong, activated, checked]
    return [answer.status_code for answer in answers]


def test_every_api_and_the_portal_keep_answering_while_redis_is_down(own_redis, caplog, client_app):
    _, token = services.api_token_create(name="billing", read_only=False, actor=Actor.system("test"))
    contact = CustomerContactFactory(raw_password="portal password 123")
    code = ActivationCodeFactory()
    assert requests_answered(token, contact, client_app, code) == [200, 201, 302, 200, 200, 200]

    own_redis.stop()
    assert requests_answered(token, contact, client_app, code) == [200, 201, 302, 200, 200, 200]
    # Said once when the outage began, not for every request or retry since.
    assert caplog.text.count("the shared cache is unavailable") == 1
    # Limits still hold, counted in this process: five wrong passwords, then none.
    for _ in range(5):
        Client().post("/portal/sign-in/", {"email": contact.email, "password": "not it"})
    refused = Client().post("/portal/sign-in/", {"email": contact.email, "password": "portal password 123"})
    assert "Too many failed sign-ins" in refused.content.decode()

    own_redis.start()
    time.sleep(0.6)  # the retry pause over
    other = CustomerContactFactory(raw_password="portal password 123")
    assert requests_answered(token, other, client_app, code) == [200, 201, 302, 200, 200, 200]
    assert "the shared cache answers again" in caplog.text


class HungRedis:
    """A server that accepts connections and never answers: a Redis stuck rather than
    stopped, the case where every caller would wait out its socket timeout."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.connections = 0
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            self.held.append(connection)

    def close(self) -> None:
        self.listener.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def hung():
    server = HungRedis()
    yield server
    server.close()


def all_at_once(call, times: int = 8) -> None:
    threads = [threading.Thread(target=call) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_a_hung_redis_is_tried_by_one_caller_at_a_time_while_the_rest_count_in_memory(hung, settings, monkeypatch):
    settings.CACHES = redis_cache(hung.url)
    settings.CACHES["default"]["OPTIONS"] |= {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}
    monkeypatch.setattr(limits.FallbackCache, "RETRY_SECONDS", 1.0)
    limits.fallback_cache.reset()
    try:
        assert limits.fallback_cache.add("k", 1, 60) is True  # waited out the timeout; now in memory
        tried_once = hung.connections
        assert tried_once >= 1

        all_at_once(lambda: limits.fallback_cache.incr("k"))  # within the retry pause: none tries Redis
        assert hung.connections == tried_once
        time.sleep(1.1)
        all_at_once(lambda: limits.fallback_cache.incr("k"))  # the pause over: one tries, the others go on
        assert hung.connections <= 2 * tried_once
        assert limits.fallback_cache.get("k") == 17
    finally:
        caches["default"].close()
        limits.fallback_cache.reset()


def test_client_checks_try_a_hung_redis_once_a_second_not_each(hung, settings, monkeypatch):
    settings.REDIS_URL = hung.url
    monkeypatch.setattr(snapshots, "_store", snapshots._Store())
    assert not snapshots.Versions.read(["licensing:v:any"]).available  # waited out its timeout
    tried_once = hung.connections
    assert tried_once >= 1

    all_at_once(lambda: snapshots.Versions.read(["licensing:v:any"]))
    assert hung.connections == tried_once
    time.sleep(snapshots.CACHE_RETRY_SECONDS + 0.1)
    all_at_once(lambda: snapshots.Versions.read(["licensing:v:any"]))
    assert hung.connections <= 2 * tried_once


def test_a_change_reaches_redis_in_the_second_after_a_failed_read(settings):
    """Checks leave Redis alone for a second after it failed them; a change may not: the
    other servers learn of it only through its version bump."""
    import redis

    customer = CustomerFactory()
    key = snapshots.version_key(customer)
    client = redis.Redis.from_url(settings.REDIS_URL)
    before = client.get(key)
    snapshots._cache_failed()  # a read failed a moment ago; Redis answers again

    snapshots.bump(customer)

    assert client.get(key) != before


def test_the_client_rate_limit_settles_with_a_hung_redis_once_a_second_not_per_key(hung):
    from django.core.cache.backends.redis import RedisCache

    from licensing.api.client.throttling import WindowCounts

    now = [1000.0]
    counts = WindowCounts(
        cache=RedisCache(hung.url, {"OPTIONS": {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}}),
        clock=lambda: now[0],
    )
    keys = [("key", str(n)) for n in range(8)]
    for key in keys:
        counts.hit(key, limit=100, duration=60)  # each key's window starts: nothing to settle yet
    now[0] += 1.5
    counts.hit(keys[0], limit=100, duration=60)  # due: tries the cache, waits out its timeout
    tried_once = hung.connections
    assert tried_once >= 1

    now[0] += 0.5
    for key in keys[1:]:
        assert counts.hit(key, limit=100, duration=60) is None  # allowed, counted here
    assert hung.connections == tried_once
    now[0] += 1.0
    due = iter(keys[1:])
    # Seven keys due at once: one of them tries again, not each.
    all_at_once(lambda: counts.hit(next(due), limit=100, duration=60), times=len(keys) - 1)
    assert hung.connections <= 2 * tried_once


def test_a_hung_broker_holds_up_one_change_and_the_next_ones_leave_it_to_the_requeue(hung, settings):
    from celery import Celery

    from config import celery_app
    from licensing import outbox

    settings.LICENSING_WEBHOOKS_INLINE = False
    publisher = Celery("publisher", set_as_current=True)
    publisher.config_from_object("django.conf:settings", namespace="CELERY")
    publisher.conf.broker_url = hung.url
    try:
        outbox.queue(["00000000-0000-4000-8000-000000000001"])  # tries, and gives up after its timeouts
        tried_once = hung.connections
        assert tried_once >= 1
        for _ in range(5):
            outbox.queue(["00000000-0000-4000-8000-000000000002"])
        assert hung.connections == tried_once
    finally:
        publisher.close()
        celery_app.set_current()
