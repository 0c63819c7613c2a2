"""Whatever a client sends to a management operation, the server answers without a 5xx,
with a status the published schema (/api/schema/) documents for that operation, and in
the shape it documents.

Schemathesis reads the schema from the app itself and calls each /api/v1/ operation
in-process through Django's WSGI handler, with a read-write bearer token: requests
drawn from the schema (valid ones, and invalid ones in negative mode), against a few
seeded rows that path parameters sometimes name, so updates and switches reach real
rows rather than only 404s.

Bounded to run in the normal suite: a few examples per operation, no shrinking, no
example database, a fixed seed.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from hypothesis import strategies as st
from rest_framework.throttling import ScopedRateThrottle
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from licensing import services
from licensing.actors import Actor
from licensing.models import AuditEvent, Customer
from tests.factories import (
    ActivationCodeFactory,
    CustomerFactory,
    EntitlementFactory,
    LicenseFactory,
    LicenseTransactionFactory,
    LicenseUserFactory,
)

EXAMPLES_PER_OPERATION = 12

# No 5xx, and every answer is one the operation documents (errors included, see
# licensing/api/management/schema.py): its status, content type, headers and shape.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def seed_rows() -> dict[str, list[str]]:
    """A small world: an organization and a person, each with an order, an entitlement,
    a code, a license user and a license. Returns the ids path parameters may name,
    by the first segment of the path after /api/v1/."""
    organization = CustomerFactory(kind=Customer.Kind.ORGANIZATION)
    person = CustomerFactory(kind=Customer.Kind.PERSON, external_id=None)
    ids: dict[str, list[str]] = {}
    externals: dict[str, str] = {}
    for customer in (organization, person):
        order = LicenseTransactionFactory(customer=customer)
        entitlement = EntitlementFactory(customer=customer, transaction=order)
        code = ActivationCodeFactory(entitlement=entitlement)
        user = LicenseUserFactory(customer=customer)
        user.entitlements.add(entitlement)
        license = LicenseFactory(activation_code=code)
        externals[customer.kind] = order.external_id
        for resource, row in [
            ("customers", customer),
            ("products", entitlement.product),
            ("license-transactions", order),
            ("entitlements", entitlement),
            ("activation-codes", code),
            ("license-users", user),
            ("devices", license.device),
            ("licenses", license),
        ]:
            ids.setdefault(resource, []).append(str(row.pk))
    # Through a service, so there is an audit event to read back.
    services.customer_disable(customer=organization, actor=Actor.system("test"), reason="seed")
    services.customer_enable(customer=organization, actor=Actor.system("test"), reason="seed")
    ids["audit-events"] = [str(pk) for pk in AuditEvent.objects.values_list("pk", flat=True)[:3]]
    ids["organizations"] = [f"{organization.pk} {externals[Customer.Kind.ORGANIZATION]}"]
    ids["users"] = [f"{person.pk} {externals[Customer.Kind.PERSON]}"]
    return ids


# Loaded once, at collection, from the app itself (no database needed to describe it).
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/",
    get_wsgi_application(),
    config=schemathesis.Config.from_dict(
        {
            "generation": {
                "max-examples": EXAMPLES_PER_OPERATION,
                "no-shrink": True,
                "database": "none",
                "deterministic": True,
            },
            # Examples and fuzzing, positive and negative; no coverage phase (hundreds of
            # boundary cases per operation) and no stateful runs: too long for the suite.
            "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        }
    ),
).include(path_regex=r"^/api/v1/")


@pytest.fixture
def known_rows(transactional_db, monkeypatch) -> dict[str, list[str]]:
    """Each request commits on its own (transactional_db): a request that failed in the
    database cannot poison the ones after it, as it would inside one test-wide
    transaction, and the app sees the rows as any client would."""
    cache.clear()
    # DRF reads the rates once per process; this run alone would exceed a real budget.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"management": "1000000/minute"})
    return seed_rows()


@pytest.fixture
def bearer(transactional_db) -> dict[str, str]:
    _, token = services.api_token_create(name="schemathesis", read_only=False, actor=Actor.system("test"))
    return {"Authorization": f"Bearer {token}"}


# Fields of request bodies that name another row, and where such rows are listed.
RELATIONS = {
    "customer": "customers",
    "product": "products",
    "transaction": "license-transactions",
    "entitlement": "entitlements",
}


def point_at_known_rows(case, data, known_rows: dict[str, list[str]]) -> None:
    """Random ids name nothing: often (a draw each time) point the path, and the
    relations of a body, at seeded rows, so that reads, updates, creations and switches
    reach real rows too, not only 404s and 400s."""
    if case.path_parameters:
        resource = case.operation.path.removeprefix("/api/v1/").split("/")[0]
        chosen = data.draw(st.sampled_from([None, *known_rows.get(resource, [])]), label="row in path")
        if chosen is not None and "customer_id" in case.path_parameters:
            customer_id, external_id = chosen.split(" ", 1)
            case.path_parameters = {**case.path_parameters, "customer_id": customer_id, "external_id": external_id}
        elif chosen is not None and "id" in case.path_parameters:
            case.path_parameters = {**case.path_parameters, "id": chosen}
    if isinstance(case.body, dict):
        body = dict(case.body)
        for field, resource in RELATIONS.items():
            if field in body:
                chosen = data.draw(st.sampled_from([None, *known_rows[resource]]), label=f"{field} in body")
                body[field] = body[field] if chosen is None else chosen
        if "entitlements" in body:
            chosen = data.draw(
                st.none() | st.lists(st.sampled_from(known_rows["entitlements"]), unique=True, max_size=2),
                label="entitlements in body",
            )
            body["entitlements"] = body["entitlements"] if chosen is None else chosen
        case.body = body


@schema.parametrize()
@schema.given(data=st.data())
@hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_every_management_operation_answers_without_5xx_and_as_documented(case, data, known_rows, bearer):
    point_at_known_rows(case, data, known_rows)
    case.call_and_validate(headers=bearer, checks=CHECKS)
