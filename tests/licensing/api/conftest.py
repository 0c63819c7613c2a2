"""A client application's side of the client API, written from the contract alone: it
signs requests with HMAC and verifies answers with nothing but the public key."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from django.db import connection
from django.test import Client

from licensing import services
from licensing.actors import Actor
from licensing.signing import current_signer
from tests.servers import server_env, start_gunicorn, stop


def sign(shared_key: str, message: str) -> str:
    return base64.b64encode(hmac.new(shared_key.encode(), message.encode(), hashlib.sha256).digest()).decode()


def auth_headers(api_key: str, shared_key: str, date: str | None = None) -> dict[str, str]:
    date = date or formatdate(usegmt=True)
    signature = sign(shared_key, f"licenseSpring\ndate: {date}")
    return {
        "Date": date,
        "Authorization": f'algorithm="hmac-sha256",headers="date",signature="{signature}",apiKey="{api_key}"',
    }


@dataclass
class ClientApp:
    """A signed client of /api/v4/."""

    http: Client
    api_key: str
    shared_key: str
    # The device's clock: each request it signs is dated after the one before, as a real
    # device's are (offline requests must be), even when a test sends two in one second.
    last_signed: float = field(default=0.0, repr=False)

    def date(self) -> str:
        now = time.time()
        following = self.last_signed + 1
        # Unless a test has moved the clock back: then the clock's own time.
        self.last_signed = following if now < following <= now + 60 else now
        return formatdate(self.last_signed, usegmt=True)

    def headers(self, **overrides: str) -> dict[str, str]:
        return auth_headers(self.api_key, self.shared_key, self.date()) | overrides

    def get(self, endpoint: str, params: dict[str, Any] | None = None, **headers):
        return self.http.get(f"/api/v4/{endpoint}", params or {}, headers=self.headers(**headers))

    def post(self, endpoint: str, body: Any, **headers):
        return self.http.post(
            f"/api/v4/{endpoint}", json.dumps(body), content_type="application/json", headers=self.headers(**headers)
        )

    def post_raw(self, endpoint: str, data: Any, content_type: str = "text/plain", **headers):
        return self.http.post(f"/api/v4/{endpoint}", data, content_type=content_type, headers=self.headers(**headers))

    def offline_request(self, request: str, *, product: str, hardware_id: str, **fields: str) -> str:
        """A base64 offline request file, signed as the client API documents."""
        date = fields.pop("date", None) or self.date()
        secret_name = fields.get("license_key") or fields.get("username", "")
        body = {
            "request": request,
            "product": product,
            "hardware_id": hardware_id,
            "date": date,
            "request_id": fields.pop("request_id", str(uuid.uuid4())),
            "api_key": self.api_key,
            **fields,
        }
        message = f"licenseSpring\ndate: {date}\n{secret_name}\n{hardware_id}\n{self.api_key}"
        body["signature"] = sign(self.shared_key, message)
        return base64.b64encode(json.dumps(body).encode()).decode()


def public_key():
    """The public key as a client gets it: from GET /api/v4/public_key, unauthenticated."""
    pem = Client().get("/api/v4/public_key").content
    return load_pem_public_key(pem)


def verify_response(response) -> None:
    """Raises InvalidSignature unless LicenseSignature signs exactly this body."""
    public_key().verify(base64.b64decode(response["LicenseSignature"]), response.content)


def read_license_file(text: str) -> dict[str, Any]:
    """The verified payload of a license file, or InvalidSignature."""
    lines = text.strip().splitlines()
    assert lines[0] == "-----BEGIN LICENSE FILE-----"
    assert lines[-1] == "-----END LICENSE FILE-----"
    envelope = json.loads(base64.b64decode("".join(lines[1:-1])))
    assert envelope["alg"] == "ed25519"
    payload = base64.b64decode(envelope["payload"])
    public_key().verify(base64.b64decode(envelope["signature"]), payload)
    return json.loads(payload)


@pytest.fixture(autouse=True)
def fresh_signer():
    # The signer is cached per process; each test's database starts without a key.
    current_signer.cache_clear()
    yield
    current_signer.cache_clear()


@pytest.fixture(autouse=True)
def no_buffered_check_ins():
    from licensing.services.checkins import check_ins

    yield
    check_ins.discard()  # a test's check-ins must not be written into the next test


@pytest.fixture(autouse=True)
def empty_cache():
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def credential(db):
    credential, shared_key = services.client_credential_create(name="Desktop app", actor=Actor.system("test"))
    credential.plain_shared_key = shared_key
    return credential


@pytest.fixture
def app(credential) -> ClientApp:
    return ClientApp(http=Client(), api_key=credential.api_key, shared_key=credential.plain_shared_key)


@contextlib.contextmanager
def client_api_server(workers: int = 4) -> Iterator[str]:
    """gunicorn serving this test's database as production does (PostgreSQL, Redis, no
    client rate limit to speak of): requests from several threads race for real."""
    env = server_env(
        connection.settings_dict["NAME"],
        settings.REDIS_URL,
        DJANGO_SECRET_KEY=settings.SECRET_KEY,
        LICENSING_SECRETS_KEY=settings.LICENSING_SECRETS_KEY,
        DJANGO_SECURE_SSL_REDIRECT="false",
        LICENSING_CLIENT_RATE="100000000/minute",
        CONN_MAX_AGE="0",
    )
    process, base = start_gunicorn(env, workers=workers, ready_path="/api/v4/public_key")
    try:
        yield base
    finally:
        stop(process)
