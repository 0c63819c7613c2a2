"""`make bench-scale` seeds its databases with SQL of its own (tests/bench/seeding.py),
not through the models: a migration that adds a required column must not leave it
unable to seed. Here it fills the test database with a thousand licenses, which every
constraint of the schema accepts and the product reads as usual."""

import pytest
from django.db import connection

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
    entitlement = Entitlement.objects.select_related("customer", "product").first()
    entitlement.full_clean()
    assert entitlement.verdict().status
