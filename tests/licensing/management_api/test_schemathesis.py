"""Whatever a client sends to a management operation, the server answers without a 5xx,
with a status, content type, headers and body the published schema (/api/schema/)
documents for it, accepts what the schema allows and refuses what it does not.

Schemathesis's command line with every check and every phase (examples, coverage,
fuzzing, stateful), over HTTP, against gunicorn serving this checkout with production
settings on the test database: the CI-sized run of what `make fuzz` runs at length
(tests/fuzz/). The seed is fixed, and printed with the figures."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from django.conf import settings
from django.db import connection

from licensing import services
from licensing.actors import Actor
from tests.fuzz import management
from tests.servers import server_env, start_gunicorn, stop

pytestmark = pytest.mark.slow

EXAMPLES = 3
SEED = 20261201


@pytest.fixture
def server(transactional_db):
    """gunicorn as production runs it, on this test's database and Redis."""
    env = server_env(
        connection.settings_dict["NAME"],
        settings.REDIS_URL,
        DJANGO_SECRET_KEY=settings.SECRET_KEY,  # the secrets the test writes, readable there
        LICENSING_SECRETS_KEY=settings.LICENSING_SECRETS_KEY,
        DJANGO_SECURE_SSL_REDIRECT="false",
        LICENSING_MANAGEMENT_RATE="100000000/minute",
        CONN_MAX_AGE="0",  # nothing left open when the test empties the database
    )
    process, base = start_gunicorn(env, workers=2)
    try:
        yield base
    finally:
        stop(process)


def test_every_management_operation_answers_as_documented_under_every_check_and_phase(server):
    ids = management.seed_rows()
    _, token = services.api_token_create(name="schemathesis", read_only=False, actor=Actor.system("test"))

    run = management.run(server, token, ids, examples=EXAMPLES, seed=SEED)

    print(run)
    assert run.requests > 1000, run.output[-5000:]
    assert (run.server_errors, dict(run.failures)) == (0, {}), run.output[-20000:]


def test_a_request_line_longer_than_the_web_server_reads_is_a_documented_414(server):
    _, token = services.api_token_create(name="long", read_only=True, actor=Actor.system("test"))
    request = urllib.request.Request(f"{server}/api/v1/customers?search={'x' * 5000}")
    request.add_header("Authorization", f"Bearer {token}")
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)
    assert answer.value.code == 414

    schema = json.loads(urllib.request.urlopen(f"{server}/api/schema/?format=json", timeout=10).read())
    assert "414" in schema["paths"]["/api/v1/customers/"]["get"]["responses"]
