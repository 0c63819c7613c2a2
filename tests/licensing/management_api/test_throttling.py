"""Each token has a request budget; past it, 429 with Retry-After and the usual error
shape. Counts live in the cache (Redis here, as in production)."""

import pytest
from rest_framework.throttling import ScopedRateThrottle

pytestmark = pytest.mark.django_db


def test_a_token_over_its_rate_gets_429_with_retry_after(api, read_only_api, monkeypatch):
    # DRF reads the configured rates once per process: give this test its own.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"management": "3/minute"})
    for _ in range(3):
        assert api.get("/api/v1/products").status_code == 200
    response = api.get("/api/v1/products")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60
    # Budgets are per token: another system is not held up.
    assert read_only_api.get("/api/v1/products").status_code == 200
