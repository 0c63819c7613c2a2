"""Parts of the library that need no server: hardware ids, refusals, the clock, backoff."""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from licensing_client import (
    ClockTampered,
    FloatingNotAvailable,
    LicenseDisabled,
    LicenseError,
    LicenseExpired,
    LicenseNotYetValid,
    RateLimited,
    ReplayedAnswer,
    SeatsExhausted,
    ServerUnreachable,
    WrongDevice,
    hardware_id,
)
from licensing_client import hardware as hardware_module
from licensing_client.client import LicenseClient
from licensing_client.errors import refusal


def test_hardware_id_is_stable_salted_and_falls_back(monkeypatch):
    assert hardware_id("studio") == hardware_id("studio")
    assert hardware_id("studio") != hardware_id("other")
    assert len(hardware_id("studio")) == 64
    monkeypatch.setattr(hardware_module, "LINUX_FILES", ())
    monkeypatch.setattr(hardware_module, "_mac_address", lambda: "0242ac110002")
    assert hardware_module.machine_id() == ("0242ac110002", "mac")


def test_refusals_map_to_their_exceptions():
    cases = {
        ("license_not_enabled", "customer_disabled"): LicenseDisabled,
        ("license_not_active", "expired"): LicenseExpired,
        ("license_not_active", "not_yet_valid"): LicenseNotYetValid,
        ("license_activated_max_times", None): SeatsExhausted,
        ("rate_limited", None): RateLimited,
        ("something_new", None): LicenseError,
    }
    for (code, reason), cls in cases.items():
        error = refusal({"code": code, "reason": reason, "message": "m"}, 400)
        assert type(error) is cls and (error.code, error.reason, error.message) == (code, reason, "m")
    slot = refusal({"code": "floating_not_available", "next_slot_at": "2026-01-01T00:00:00.000Z"})
    assert isinstance(slot, FloatingNotAvailable) and slot.next_slot_at.year == 2026
    assert refusal({"code": "rate_limited", "retry_after": 7}).retry_after == 7


@pytest.fixture
def offline_client(tmp_path):
    pem = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    client = LicenseClient("http://127.0.0.1:9", "key", "shared", pem, "studio", cache_dir=tmp_path, hardware_id="hw")
    client.sleep = lambda seconds: None
    return client


def test_the_trusted_time_only_moves_forward_and_a_clock_behind_it_is_refused(offline_client):
    offline_client.store.raise_trusted_time(time.time() + 3600)
    offline_client.store.raise_trusted_time(0)
    with pytest.raises(ClockTampered):
        offline_client.trial_key("a@example.com")
    assert json.loads(offline_client.store.clock_path.read_text())["trusted_time"] > time.time()


def test_transport_errors_are_retried_with_growing_jittered_waits(offline_client):
    waits: list[float] = []
    offline_client.sleep = waits.append
    offline_client.max_retries = 4
    with pytest.raises(ServerUnreachable):
        offline_client.trial_key("a@example.com")
    assert len(waits) == 4
    for n, wait in enumerate(waits):
        assert 0.5 * 0.5 * 2**n <= wait <= 0.5 * 2**n


class _Answer:
    """A response as requests gives it, signed with `key`."""

    def __init__(self, key: Ed25519PrivateKey, body: dict, content_type: str) -> None:
        self.status_code = 200
        self.content = json.dumps(body).encode()
        self.headers = {"Content-Type": content_type, "LicenseSignature": base64.b64encode(key.sign(self.content))}


def test_a_json_answer_relabelled_as_text_is_still_bound_to_its_request():
    """Content-Type is not signed: the kind of an answer is told by its signed bytes, so
    a captured JSON answer passed off as plain text must still carry this request's nonce."""
    key = Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    client = LicenseClient("http://127.0.0.1:9", "k", "s", pem, "studio", hardware_id="hw-1")
    captured = {"hardware_id": "hw-1", "nonce": "an-old-nonce", "license_active": True}
    with pytest.raises(ReplayedAnswer):
        client._verified(_Answer(key, captured, "text/plain"), "this-requests-nonce")


def test_a_license_body_about_another_product_is_refused(monkeypatch):
    """A request's product is not covered by its signature: the answer must name ours."""
    key = Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    client = LicenseClient("http://127.0.0.1:9", "k", "s", pem, "studio", hardware_id="hw-1", license_key="K")
    body = {"hardware_id": "hw-1", "license_active": True, "product_details": {"short_code": "cheap"}}
    monkeypatch.setattr(client, "_send", lambda *args, **kwargs: (body, b"{}", "", "n"))
    with pytest.raises(WrongDevice):
        client.check()
