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
from tests.factories import ActivationCodeFactory, CustomerContactFactory
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


def test_a_hung_redis_is_tried_by_one_caller_at_a_time_while_the_rest_count_in_memory(settings, monkeypatch):
    hung = HungRedis()
    settings.CACHES = redis_cache(hung.url)
    settings.CACHES["default"]["OPTIONS"] |= {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}
    monkeypatch.setattr(limits.FallbackCache, "RETRY_SECONDS", 1.0)
    limits.fallback_cache.reset()
    try:
        assert limits.fallback_cache.add("k", 1, 60) is True  # waited out the timeout; now in memory
        tried_once = hung.connections
        assert tried_once >= 1

        def eight_at_once() -> None:
            threads = [threading.Thread(target=limits.fallback_cache.incr, args=("k",)) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        eight_at_once()  # within the retry pause: none of them tries Redis
        assert hung.connections == tried_once
        time.sleep(1.1)
        eight_at_once()  # the pause over: one of them tries, the others do not wait for it
        assert hung.connections <= 2 * tried_once
        assert limits.fallback_cache.get("k") == 17
    finally:
        caches["default"].close()
        hung.close()
        limits.fallback_cache.reset()
