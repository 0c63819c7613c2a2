"""The vendor's back office: bearer tokens over JSON."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from licensing import services
from licensing.actors import Actor


def client_with(token: str | None) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture(autouse=True)
def fresh_throttles():
    # Throttle counts live in the cache (Redis), which outlives a test's transaction.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def token(db) -> str:
    _, raw = services.api_token_create(name="billing", read_only=False, actor=Actor.system("test"))
    return raw


@pytest.fixture
def api(token) -> APIClient:
    """A read-write client of /api/v1/."""
    return client_with(token)


@pytest.fixture
def read_only_api(db) -> APIClient:
    _, raw = services.api_token_create(name="reporting", read_only=True, actor=Actor.system("test"))
    return client_with(raw)
