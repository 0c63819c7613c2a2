"""The embedded default (SQLite, no broker) under its own concurrency: the web server's
request threads and the thread that delivers webhooks write to one SQLite file. With an
active endpoint, a client that activates and deactivates one request after another, and
staff switching a customer off and on, every request must succeed and every seat be
accounted for.

The server runs as `make run` runs it (runserver on the local settings), from this
checkout, on a SQLite file of the test's own; the receiver is a real local HTTP server."""

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from email.utils import formatdate
from pathlib import Path

import pytest

from tests.licensing.webhooks.receiver import Receiver, wait_for
from tests.servers import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
API_KEY, SHARED_KEY = "demo-api-key", "demo-shared-key-change-me"  # load_demo's
TOKEN = "lsm_demo-management-token-change-me"
ROUNDS = 40


@pytest.fixture
def embedded_server(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "REDIS_"))}
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings.local", "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}
    env.pop("DATABASE_URL_TEST", None)
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--noinput", "-v0"], ["load_demo"]):
        subprocess.run([*manage, *command], cwd=REPO_ROOT, env=env, check=True, capture_output=True, timeout=120)
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(f"{base}/admin/login/"), 60, "the server did not start")
        yield base, tmp_path / "server.log"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
        log.close()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _send(base: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(base + path, method=method, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _signed_headers() -> dict[str, str]:
    date = formatdate(usegmt=True)
    digest = hmac.new(SHARED_KEY.encode(), f"licenseSpring\ndate: {date}".encode(), hashlib.sha256).digest()
    signature = base64.b64encode(digest).decode()
    authorization = f'algorithm="hmac-sha256",headers="date",signature="{signature}",apiKey="{API_KEY}"'
    return {"Date": date, "Authorization": authorization, "Content-Type": "application/json"}


def _management(base: str, method: str, path: str, body: dict | None = None):
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    status, answer = _send(base, method, f"/api/v1{path}", json.dumps(body).encode() if body else None, headers)
    return status, json.loads(answer)


def _offline_deactivation(key: str, hardware_id: str, at: float) -> bytes:
    date = formatdate(at, usegmt=True)
    message = f"licenseSpring\ndate: {date}\n{key}\n{hardware_id}\n{API_KEY}"
    signature = base64.b64encode(hmac.new(SHARED_KEY.encode(), message.encode(), hashlib.sha256).digest()).decode()
    fields = {
        "request": "deactivation", "product": "studio", "hardware_id": hardware_id, "license_key": key,
        "date": date, "request_id": str(uuid.uuid4()), "api_key": API_KEY, "signature": signature,
    }  # fmt: skip
    return base64.b64encode(json.dumps(fields).encode())


@pytest.mark.slow
def test_the_embedded_default_answers_every_request_while_it_delivers_webhooks(embedded_server):
    base, log = embedded_server
    receiver = Receiver().start()
    try:
        status, _ = _management(base, "POST", "/webhook-endpoints", {"url": receiver.url})
        assert status == 201
        studio = _management(base, "GET", "/entitlements?product_code=studio&search=Acme")[1]["results"][0]
        status, code = _management(base, "POST", "/activation-codes", {"entitlement": studio["id"]})
        assert status == 201
        identity = {"product": "studio", "hardware_id": "embedded-hw", "license_key": code["code"]}
        acme = studio["customer"]

        failures = []
        for n in range(ROUNDS):
            activated = _send(
                base, "POST", "/api/v4/activate_license", json.dumps(identity).encode(), _signed_headers()
            )
            if n % 10 == 9:  # now and then offline, and staff switching the customer off and on meanwhile
                deactivation = _offline_deactivation(code["code"], "embedded-hw", time.time() + 1)
                headers = {**_signed_headers(), "Content-Type": "text/plain"}
                deactivated = _send(base, "POST", "/api/v4/deactivate_offline", deactivation, headers)
                for switch in ("disable", "enable"):
                    answer = _management(base, "POST", f"/customers/{acme}/{switch}", {"reason": f"round {n}"})
                    if answer[0] != 200:
                        failures.append((n, switch, answer))
            else:
                body = json.dumps(identity).encode()
                deactivated = _send(base, "POST", "/api/v4/deactivate_license", body, _signed_headers())
            for what, answer in (("activate", activated), ("deactivate", deactivated)):
                if answer[0] != 200:
                    failures.append((n, what, answer))

        assert failures == [], log.read_text(errors="replace")[-3000:]
        # Every seat accounted for: the device holds none, the demo's two devices theirs.
        status, licenses = _management(base, "GET", f"/licenses?entitlement={studio['id']}&page_size=100")
        holding = {lic["device"]["hardware_id"]: lic["status"] for lic in licenses["results"]}
        assert holding["embedded-hw"] == "deactivated"
        assert _management(base, "GET", f"/entitlements/{studio['id']}")[1]["seats_used"] == 2
        # And every event reached the receiver.
        expected = 2 * ROUNDS + 2 * (ROUNDS // 10) + 1  # activations, deactivations, switches, the code
        wait_for(lambda: len(receiver.successes()) >= expected, 60, f"{len(receiver.successes())} of {expected}")
    finally:
        receiver.stop()


@pytest.fixture
def quick_sweep(monkeypatch):
    monkeypatch.setenv("LICENSING_FLOATING_SWEEP_SECONDS", "1")


@pytest.mark.slow
def test_without_a_broker_the_web_process_sweeps_lapsed_floating_slots(quick_sweep, embedded_server):
    """Beat's periodic tasks run in a thread of the web process: a floating slot that
    ended is announced once as license.floating_expired, with no worker and no beat."""
    base, log = embedded_server
    receiver = Receiver().start()
    try:
        status, _ = _management(base, "POST", "/webhook-endpoints", {"url": receiver.url})
        assert status == 201
        farm = _management(base, "GET", "/entitlements?product_code=render")[1]["results"][0]
        assert farm["floating_in_use"] == 2  # the demo's two render nodes
        # Their slots end now (as if ten minutes had passed with nothing renewing them).
        lapse = (
            "from django.utils import timezone; from licensing.models import FloatingSlot; "
            "FloatingSlot.objects.update(ends_at=timezone.now())"
        )
        env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "REDIS_"))}
        env |= {"DJANGO_SETTINGS_MODULE": "config.settings.local", "DATABASE_URL": _database_url(log)}
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", lapse], cwd=REPO_ROOT, env=env, check=True, timeout=60
        )

        def expired() -> list:
            return [r for r in receiver.successes() if json.loads(r.body)["type"] == "license.floating_expired"]

        wait_for(lambda: len(expired()) >= 2, 30, log.read_text(errors="replace")[-3000:])
        time.sleep(2)  # a few more sweeps: nothing is announced twice
        assert len(expired()) == 2
        assert _management(base, "GET", f"/entitlements/{farm['id']}")[1]["floating_in_use"] == 0
    finally:
        receiver.stop()


def _database_url(log: Path) -> str:
    return f"sqlite:///{log.parent}/db.sqlite3"


@pytest.fixture
def quick_notices(monkeypatch):
    monkeypatch.setenv("LICENSING_EXPIRY_NOTICE_SECONDS", "1")


@pytest.mark.slow
def test_without_a_broker_the_web_process_sends_expiry_notices_once(quick_notices, embedded_server):
    """The expiry notices run on the web process's own scheduler too: an entitlement
    ending in five days is announced once as entitlement.expiring (the 7-day milestone),
    however many times the job runs after."""
    base, log = embedded_server
    receiver = Receiver().start()
    try:
        status, _ = _management(base, "POST", "/webhook-endpoints", {"url": receiver.url})
        assert status == 201
        studio = _management(base, "GET", "/entitlements?product_code=studio&search=Acme")[1]["results"][0]
        ends = (dt.datetime.now(dt.UTC) + dt.timedelta(days=5)).isoformat()
        body = {"customer": studio["customer"], "product": studio["product"], "seats": 1, "valid_until": ends}
        status, created = _management(base, "POST", "/entitlements", body)
        assert status == 201, created

        def notices() -> list:
            found = [json.loads(r.body) for r in receiver.successes()]
            return [e for e in found if e["type"] == "entitlement.expiring" and e["data"]["id"] == created["id"]]

        wait_for(lambda: len(notices()) >= 1, 30, log.read_text(errors="replace")[-3000:])
        time.sleep(3)  # a few more runs: nothing is announced twice
        assert [e["data"]["expiry"]["milestone_days"] for e in notices()] == [7]
    finally:
        receiver.stop()
