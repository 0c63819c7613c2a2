"""Migrations that rewrite data keep what was there."""

import json
import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from licensing.errors import Refusal
from licensing.signing import canonical_json

BEFORE = [("licensing", "0006_license_username_any_case")]
AFTER = [("licensing", "0007_offline_request_outcome")]


@pytest.fixture
def migrator(transactional_db):
    executor = MigrationExecutor(connection)
    yield executor
    executor = MigrationExecutor(connection)  # back to the latest, whatever happened
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_stored_offline_answers_become_outcomes_that_render_the_same(migrator):
    migrator.migrate(BEFORE)
    old = migrator.loader.project_state(BEFORE).apps.get_model("licensing", "OfflineRequest")
    refusal = {"status": 400, "code": "license_activated_max_times", "message": "All 1 seats are taken."}
    answers = {
        "activated": (200, "-----BEGIN LICENSE FILE-----\nabc\n-----END LICENSE FILE-----", "text/plain"),
        "deactivated": (200, "license_deactivated", "text/plain; charset=utf-8"),
        "refused": (400, json.dumps(refusal, separators=(",", ":"), sort_keys=True), "application/json"),
    }
    for request_id, (status, body, content_type) in answers.items():
        old.objects.create(
            request_id=request_id,
            kind="activation",
            credential_id=uuid.uuid4(),
            fingerprint="f" * 64,
            response_status=status,
            response_body=body,
            response_content_type=content_type,
        )

    migrator.loader.build_graph()
    migrator.migrate(AFTER)

    new = migrator.loader.project_state(AFTER).apps.get_model("licensing", "OfflineRequest")
    rows = {row.request_id: row for row in new.objects.all()}
    assert (rows["activated"].outcome, rows["activated"].license_file) == ("activated", answers["activated"][1])
    assert (rows["deactivated"].outcome, rows["deactivated"].license_file) == ("deactivated", "")
    assert rows["refused"].outcome == "refused"
    # Rendered again, the refusal is the very answer that was stored.
    rendered = canonical_json(Refusal.from_body(rows["refused"].refusal).body()).decode()
    assert rendered == answers["refused"][1]
