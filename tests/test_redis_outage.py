"""With its Redis down, the server keeps answering: the management API, the portal's
sign-in and the client API (activations and checks) degrade (limits counted per process, a line in the log) and
come back to the shared counts when Redis does. A Redis server of the test's own,
stopped and started again."""

import time

import pytest
from django.core.cache import caches
from django.test import Client
from rest_framework.test import APIClient

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
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis.url}}
    settings.REDIS_URL = redis.url
    monkeypatch.setattr(snapshots, "_store", snapshots._Store())
    limits.fallback_cache._down_until = 0.0
    yield redis
    if redis.running():
        redis.stop()
    caches["default"].close()


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
    assert "the shared cache is unavailable" in caplog.text
    # Limits still hold, counted in this process: five wrong passwords, then none.
    for _ in range(5):
        Client().post("/portal/sign-in/", {"email": contact.email, "password": "not it"})
    refused = Client().post("/portal/sign-in/", {"email": contact.email, "password": "portal password 123"})
    assert "Too many failed sign-ins" in refused.content.decode()

    own_redis.start()
    limits.fallback_cache._down_until = 0.0  # the retry pause over
    other = CustomerContactFactory(raw_password="portal password 123")
    assert requests_answered(token, other, client_app, code) == [200, 201, 302, 200, 200, 200]
