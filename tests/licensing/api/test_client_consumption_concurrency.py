"""Consumption under real concurrency: requests over HTTP to gunicorn workers as
production runs them (PostgreSQL, Redis), all at once against one counter. Exactly the
limit is accepted, and a request id sent many times at once counts once."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection  # noqa: F401 (read by the skipif condition below)

from licensing import services
from licensing.actors import Actor
from licensing.models import ConsumptionCounter, ConsumptionEntry, EntitlementFeature, ProductFeature
from tests.factories import ActivationCodeFactory, LicenseFactory

from .conftest import client_api_server
from .test_client_floating_concurrency import request

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks and concurrency: PostgreSQL"),
]

PRODUCT = "studio"
REQUESTS = 100
LIMIT = 50
STAFF = Actor.system("staff")


@pytest.fixture
def metered(transactional_db):
    code = ActivationCodeFactory(entitlement__product__code=PRODUCT, entitlement__max_consumptions=LIMIT)
    license = LicenseFactory(activation_code=code, device__hardware_id="hw-metered")
    renders = services.product_feature_create(
        product_feature=ProductFeature(
            product=code.entitlement.product, code="renders", name="Renders", feature_type="consumption"
        ),
        actor=STAFF,
    )
    services.entitlement_feature_grant(
        entitlement_feature=EntitlementFeature(entitlement=code.entitlement, feature=renders, max_consumptions=LIMIT),
        actor=STAFF,
    )
    credential, shared_key = services.client_credential_create(name="load", actor=STAFF)
    return license, credential.api_key, shared_key


@pytest.fixture
def server(metered):
    with client_api_server() as base:
        yield base


def all_at_once(server: str, metered, endpoint: str, fields: list[dict]) -> Counter:
    license, api_key, shared_key = metered
    barrier = threading.Barrier(len(fields))
    answers: list = [None] * len(fields)
    identity = {"product": PRODUCT, "hardware_id": "hw-metered", "license_key": license.activation_code.code}

    def client(n: int) -> None:
        barrier.wait(timeout=60)
        answers[n] = request(server, api_key, shared_key, "POST", endpoint, {**identity, **fields[n]})

    threads = [threading.Thread(target=client, args=(n,)) for n in range(len(fields))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return Counter(status if status == 200 else body.get("code") for status, body in answers)


def counter(metered, feature: str | None = None) -> int:
    license = metered[0]
    rows = ConsumptionCounter.objects.filter(entitlement=license.entitlement)
    rows = rows.filter(feature__isnull=True) if feature is None else rows.filter(feature__code=feature)
    return rows.get().used


@pytest.mark.parametrize(("overages", "accepted"), [(None, LIMIT), (10, LIMIT + 10)])
def test_a_hundred_consumptions_at_once_against_a_limit_count_exactly_up_to_it(metered, server, overages, accepted):
    if overages is not None:
        services.entitlement_update(
            entitlement=metered[0].entitlement, data={"allow_overages": True, "max_overages": overages}, actor=STAFF
        )

    outcomes = all_at_once(server, metered, "add_consumption", [{}] * REQUESTS)

    assert outcomes == {200: accepted, "consumption_limit_reached": REQUESTS - accepted}
    assert counter(metered) == accepted
    assert ConsumptionEntry.objects.count() == accepted


@pytest.mark.parametrize(("overages", "accepted"), [(None, LIMIT), (10, LIMIT + 10)])
def test_a_hundred_feature_consumptions_at_once_count_exactly_up_to_the_limit(metered, server, overages, accepted):
    if overages is not None:
        grant = EntitlementFeature.objects.get(entitlement=metered[0].entitlement)
        services.entitlement_feature_update(
            entitlement_feature=grant, data={"allow_overages": True, "max_overages": overages}, actor=STAFF
        )

    outcomes = all_at_once(server, metered, "add_feature_consumption", [{"feature": "renders"}] * REQUESTS)

    assert outcomes == {200: accepted, "consumption_limit_reached": REQUESTS - accepted}
    assert counter(metered, "renders") == accepted


def test_one_request_id_sent_many_times_at_once_counts_once(metered, server):
    outcomes = all_at_once(server, metered, "add_consumption", [{"request_id": "same", "consumptions": 3}] * 30)

    assert outcomes == {200: 30}
    assert counter(metered) == 3
    assert ConsumptionEntry.objects.filter(request_id="same").count() == 1
