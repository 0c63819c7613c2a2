"""Requests racing for one unique value, each on its own connection to PostgreSQL: one
record is made, and every other request is told, in the API's error shape, which value
is taken. Never a server error."""

import threading
from collections import Counter

import pytest
from django.db import connection
from rest_framework.test import APIClient

from licensing.models import Customer
from tests.factories import CustomerFactory, EntitlementFactory, ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 12


def all_at_once(token: str, path: str, body: dict) -> list:
    barrier = threading.Barrier(RACERS)
    answers: list = [None] * RACERS

    def run(index: int) -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
            barrier.wait(timeout=30)
            answers[index] = client.post(path, body, format="json")
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def bodies():
    customer = CustomerFactory()
    user_product = ProductFactory(authorization_method="user")
    return {
        "products": ({"code": "same-code", "name": "Same"}, "code"),
        "customers": ({"name": "Same", "external_id": "CRM-SAME"}, "external_id"),
        "license-transactions": ({"customer": str(customer.pk), "external_id": "ORDER-SAME"}, "external_id"),
        "devices": ({"customer": str(customer.pk), "hardware_id": "hw-same"}, None),
        "license-users": (
            {
                "customer": str(customer.pk),
                "username": "same@customer.example",
                "password": "long enough password",
                "entitlements": [str(EntitlementFactory(customer=customer, product=user_product).pk)],
            },
            "username",
        ),
    }


@pytest.mark.parametrize("resource", ["products", "customers", "license-transactions", "devices", "license-users"])
def test_creates_racing_for_one_unique_value_make_one_record_and_refuse_the_rest(token, resource):
    body, field = bodies()[resource]

    answers = all_at_once(token, f"/api/v1/{resource}", body)

    assert Counter(a.status_code for a in answers) == {201: 1, 400: RACERS - 1}, [a.content for a in answers]
    for answer in answers:
        if answer.status_code == 400:
            errors = answer.json()["errors"]
            assert errors[field or "non_field_errors"], errors


def test_a_blank_crm_id_is_no_id_and_may_repeat(api):
    for _ in range(2):
        response = api.post("/api/v1/customers", {"name": "No CRM", "external_id": ""}, format="json")
        assert response.status_code == 201, response.json()
        assert response.json()["external_id"] is None
    assert Customer.objects.filter(name="No CRM", external_id=None).count() == 2
