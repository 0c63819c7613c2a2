"""Floating slots under real concurrency: requests over HTTP to gunicorn workers as
production runs them (PostgreSQL, Redis, renewals written behind), racing for one
floating entitlement. Never more devices hold slots than it has seats."""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from licensing import services
from licensing.actors import Actor
from licensing.models import Entitlement, FloatingSlot
from tests.factories import ActivationCodeFactory, LicenseFactory

from .conftest import auth_headers, client_api_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks and concurrency: PostgreSQL"),
]

PRODUCT = "studio"
SEATS = 50
DEVICES = 200


@pytest.fixture
def floating(transactional_db):
    code = ActivationCodeFactory(
        entitlement__product__code=PRODUCT,
        entitlement__license_model=Entitlement.LicenseModel.FLOATING,
        entitlement__seats=SEATS,
        entitlement__floating_timeout=600,
    )
    for n in range(DEVICES):  # activated earlier, none running now
        LicenseFactory(activation_code=code, device__hardware_id=f"hw-{n:03d}")
    credential, shared_key = services.client_credential_create(name="load", actor=Actor.system("test"))
    return code, credential.api_key, shared_key


@pytest.fixture
def server(floating):
    with client_api_server() as base:
        yield base


def request(base: str, api_key: str, shared_key: str, method: str, endpoint: str, fields: dict) -> tuple[int, dict]:
    headers = auth_headers(api_key, shared_key)
    if method == "GET":
        http = urllib.request.Request(f"{base}/api/v4/{endpoint}?{urllib.parse.urlencode(fields)}", headers=headers)
    else:
        body = json.dumps(fields).encode()
        http = urllib.request.Request(
            f"{base}/api/v4/{endpoint}", body, headers={**headers, "Content-Type": "application/json"}, method=method
        )
    try:
        with urllib.request.urlopen(http, timeout=60) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        raw, status = error.read(), error.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, {"text": raw.decode()}


def live_slots(code) -> int:
    return FloatingSlot.objects.live(timezone.now()).filter(entitlement=code.entitlement).count()


def test_two_hundred_devices_checking_in_at_once_get_exactly_the_fifty_slots(floating, server):
    code, api_key, shared_key = floating
    barrier = threading.Barrier(DEVICES)
    answers: list = [None] * DEVICES

    def device(n: int) -> None:
        fields = {"product": PRODUCT, "hardware_id": f"hw-{n:03d}", "license_key": code.code}
        barrier.wait(timeout=60)
        answers[n] = request(server, api_key, shared_key, "GET", "check_license", fields)

    threads = [threading.Thread(target=device, args=(n,)) for n in range(DEVICES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    outcomes = Counter(status if status == 200 else body.get("code") for status, body in answers)
    assert outcomes == {200: SEATS, "floating_not_available": DEVICES - SEATS}
    refusals = [body for status, body in answers if status != 200]
    assert all(body["next_slot_at"] for body in refusals)
    assert live_slots(code) == SEATS
    held = {body["hardware_id"] for status, body in answers if status == 200}
    in_db = set(
        FloatingSlot.objects.live()
        .filter(entitlement=code.entitlement)
        .values_list("license__device__hardware_id", flat=True)
    )
    assert held == in_db


def test_a_minute_of_check_ins_and_releases_never_runs_more_devices_than_seats(floating, server):
    code, api_key, shared_key = floating
    stopping = threading.Event()
    samples: list[int] = []
    counts: Counter = Counter()
    errors: list[BaseException] = []

    def device_traffic(seed: int) -> None:
        rng = random.Random(seed)
        try:
            while not stopping.is_set():
                hardware_id = f"hw-{rng.randrange(DEVICES):03d}"
                fields = {"product": PRODUCT, "hardware_id": hardware_id, "license_key": code.code}
                if rng.random() < 0.3:
                    status, body = request(server, api_key, shared_key, "POST", "floating/release", fields)
                    counts["released" if status == 200 else body.get("code")] += 1
                else:
                    status, body = request(server, api_key, shared_key, "GET", "check_license", fields)
                    counts["checked" if status == 200 else body.get("code")] += 1
        except BaseException as error:  # surfaced in the test thread below
            errors.append(error)

    def sampler() -> None:
        try:
            while not stopping.is_set():
                samples.append(live_slots(code))
                time.sleep(0.02)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=device_traffic, args=(n,)) for n in range(12)]
    threads.append(threading.Thread(target=sampler))
    for thread in threads:
        thread.start()
    time.sleep(60)
    stopping.set()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    assert set(counts) <= {"checked", "released", "floating_not_available"}, counts
    assert counts["checked"] > 500 and counts["released"] > 200 and counts["floating_not_available"] > 0, counts
    assert len(samples) > 500
    assert max(samples) <= SEATS
    assert max(samples) == SEATS  # the slots were in demand all along
