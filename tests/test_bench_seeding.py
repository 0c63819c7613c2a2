"""`make bench-scale` seeds its databases with SQL of its own (tests/bench/seeding.py),
not through the models: a migration that adds a required column must not leave it
unable to seed. Here it fills the test database with a thousand licenses, which every
constraint of the schema accepts and the product reads as usual: the access rules give
each entitlement the same effective status in Python and in SQL, and the mix the bench's
filtered lists page through (disabled, expired) is there."""

import pytest
from django.db import connection
from django.utils import timezone

from licensing.models import Customer, Entitlement, License, Product
from tests.bench import seeding

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the seeding is PostgreSQL's SQL"),
]


def test_the_scale_bench_seeds_the_current_schema():
    with connection.cursor() as cursor:
        seeding.seed(cursor, licenses=1000)
    assert License.objects.count() == 1000
    assert Product.objects.exists() and Customer.objects.exists()
    Entitlement.objects.select_related("customer", "product").first().full_clean()
    now = timezone.now()
    entitlements = Entitlement.objects.select_related("customer", "transaction").with_effective_status(now)
    statuses = {entitlement.effective_status for entitlement in entitlements}
    assert {"active", "disabled", "expired"} <= statuses
    for entitlement in entitlements:
        assert entitlement.verdict(now).status == entitlement.effective_status, entitlement.pk
