"""Schemathesis against the management API, as `make fuzz` runs it at length and the
suite runs it small: the `st` command line with every check and every phase, over HTTP,
against gunicorn serving this checkout with production settings.

Path ids and the rows a body names are random, so nearly every request would meet a 404
or a 400; most of the time they name rows seeded here instead, so that reads, edits,
switches and creations reach the code behind them."""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.servers import BIN, ROOT

CONFIG = Path(__file__).with_name("schemathesis.toml")

# Body fields that name another row, and the resource of that row.
RELATIONS = {
    "customer": "customers",
    "product": "products",
    "transaction": "license-transactions",
    "entitlement": "entitlements",
}


@dataclass
class Run:
    seed: int
    requests: int
    server_errors: int
    failures: Counter  # failed checks, by name
    output: str

    def __str__(self) -> str:
        failed = ", ".join(f"{name} {count}" for name, count in self.failures.most_common()) or "none"
        return (
            f"{self.requests} requests sent; {self.server_errors} answered 5xx; failed checks: {failed}; "
            f"seed {self.seed}"
        )


def seed_rows() -> dict[str, list[str]]:
    """A small world: an organization and a person, each with an order, an entitlement,
    a code, a license user and a license. Returns the ids of each resource, by the
    first segment of its path after /api/v1/, and (under the customer kinds' paths)
    "customer id / order external id" pairs."""
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

    ids: dict[str, list[str]] = {}
    for kind, path in ((Customer.Kind.ORGANIZATION, "organizations"), (Customer.Kind.PERSON, "users")):
        customer = CustomerFactory(kind=kind)
        order = LicenseTransactionFactory(customer=customer)
        entitlement = EntitlementFactory(customer=customer, transaction=order)
        code = ActivationCodeFactory(entitlement=entitlement)
        user = LicenseUserFactory(customer=customer)
        user.entitlements.add(entitlement)
        license = LicenseFactory(activation_code=code)
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
        ids[path] = [f"{customer.pk}/{order.external_id}"]
        # Through a service, so there are audit events to read back.
        services.customer_disable(customer=customer, actor=Actor.system("fuzz"), reason="seed")
        services.customer_enable(customer=customer, actor=Actor.system("fuzz"), reason="seed")
    ids["audit-events"] = [str(pk) for pk in AuditEvent.objects.values_list("pk", flat=True)[:3]]
    return ids


def config_for(ids: dict[str, list[str]]) -> str:
    """The committed configuration, and the seeded ids as dictionaries that path and
    body parameters draw from most of the time."""
    lines = [CONFIG.read_text()]
    for resource, values in sorted(ids.items()):
        if resource in ("organizations", "users"):
            customers, orders = zip(*(value.split("/", 1) for value in values), strict=True)
            lines += [f"[dictionaries.{resource}-customers]", f"values = {json.dumps(customers)}"]
            lines += [f"[dictionaries.{resource}-orders]", f"values = {json.dumps(orders)}"]
            lines += [
                "[[operations]]",
                f'include-path-regex = "^/api/v1/{resource}/"',
                f'parameters."path.customer_id" = {{ dictionary = "{resource}-customers", probability = 0.8 }}',
                f'parameters."path.external_id" = {{ dictionary = "{resource}-orders", probability = 0.8 }}',
            ]
            continue
        lines += [f"[dictionaries.{resource}]", f"values = {json.dumps(values)}"]
        lines += [
            "[[operations]]",
            f'include-path-regex = "^/api/v1/{resource}/"',
            f'parameters."path.id" = {{ dictionary = "{resource}", probability = 0.8 }}',
        ]
    lines.append("[parameters]")
    lines += [
        f'"body.{field}" = {{ dictionary = "{resource}", probability = 0.8 }}' for field, resource in RELATIONS.items()
    ]
    lines.append('"body.entitlements[*]" = { dictionary = "entitlements", probability = 0.8 }')
    return "\n".join(lines) + "\n"


def run(base: str, token: str, ids: dict[str, list[str]], *, examples: int, seed: int, workers: int = 2) -> Run:
    """Every check and every phase on every /api/v1/ operation of the server at `base`."""
    folder = Path(tempfile.mkdtemp(prefix="schemathesis-"))
    config, events = folder / "schemathesis.toml", folder / "events.ndjson"
    config.write_text(config_for(ids))
    command = [
        str(BIN / "st"), "--config-file", str(config), "run", f"{base}/api/schema/",
        "--include-path-regex", "^/api/v1/", "-H", f"Authorization: Bearer {token}",
        "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(examples), "--seed", str(seed), "--workers", str(workers),
        "--continue-on-failure", "--report", "ndjson", "--report-ndjson-path", str(events),
        "--request-timeout", "30", "--no-color",
    ]  # fmt: skip
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    requests, server_errors, failures = _count(events)
    return Run(seed, requests, server_errors, failures, finished.stdout + finished.stderr)


def _count(events: Path) -> tuple[int, int, Counter]:
    """Requests sent, answers with a 5xx and failed checks by name, from the run's events."""
    requests, server_errors, failures = 0, 0, Counter()
    for line in events.read_text().splitlines():
        finished = json.loads(line).get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished["recorder"]
        for interaction in recorder.get("interactions", {}).values():
            requests += 1
            server_errors += (interaction.get("response") or {}).get("status_code", 0) >= 500
        for results in recorder.get("checks", {}).values():
            failures.update(result["name"] for result in results if result["status"] == "failure")
    return requests, server_errors, failures
