"""The documentation stands alone and says what the code does: docs/ names every error code
the client API can answer and every endpoint, every setting read from the environment and
every webhook event; the API docs group every operation under a described tag; and what
`make run` prints can be tried as printed."""

from __future__ import annotations

import ast
import base64
import datetime as dt
import hashlib
import hmac
import io
import re
import shutil
import subprocess
import types
import urllib.parse
from email.utils import formatdate
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern
from standardwebhooks.webhooks import Webhook

from licensing import representations, services
from licensing.actors import Actor
from licensing.api.client import urls as client_urls
from licensing.api.management import urls as management_urls
from licensing.errors import refusal_for
from licensing.management.commands import load_demo
from licensing.models import ActivationCode, Product
from licensing.rules import Reason
from licensing.signing import current_signer

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
LICENSING = ROOT / "licensing"
CLIENT_API = (DOCS / "client-api.md").read_text()
# Built so that this file does not match what it looks for (grep reads "." as any character).
DESIGN_DOCUMENT = re.compile(("DESIGN" + "." + "md").encode())


def test_nothing_in_the_project_mentions_a_design_document_it_does_not_hold():
    mentions = []
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if parts[0] in (".git", ".venv") or not path.is_file() or path.stat().st_size > 50_000_000:
            continue
        if DESIGN_DOCUMENT.search(path.read_bytes()):
            mentions.append(str(path.relative_to(ROOT)))
    assert mentions == []


# The client API's error codes -------------------------------------------------------


def raised_codes() -> dict[str, set[int]]:
    """Every code a Refusal or TryLater in licensing/ is made with, as a literal first
    argument, with the HTTP statuses it is answered with (400 unless the call says)."""
    codes: dict[str, set[int]] = {}
    for path in LICENSING.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("Refusal", "TryLater")):
                continue
            if not (node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                continue  # a code passed on (an exception's own), not made here
            status = 429 if node.func.id == "TryLater" else 400
            for keyword in node.keywords:
                if keyword.arg == "status" and isinstance(keyword.value, ast.Constant):
                    status = keyword.value.value
            codes.setdefault(node.args[0].value, set()).add(status)
    # The access rules' refusals, from the one function that words them.
    for reason in Reason:
        codes.setdefault(refusal_for(types.SimpleNamespace(reason=reason, label="")).code, set()).add(400)
    # The error pages of requests no view answered, in the client API's shape under /api/v4/.
    for status, code in re.findall(
        r'_for_api\(request, (\d+), "([a-z0-9_]+)"', (LICENSING / "api/errors.py").read_text()
    ):
        codes.setdefault(code, set()).add(int(status))
    return codes


def documented_errors() -> dict[str, int]:
    """The error table of docs/client-api.md: code → HTTP status."""
    table = CLIENT_API.split("\n## Errors\n")[1]
    return {code: int(status) for code, status in re.findall(r"^\| `([a-z0-9_]+)` \| (\d{3}) \|", table, re.M)}


def test_the_scan_finds_the_codes_it_should():
    codes = raised_codes()
    # From a service, a multi-line call, a TryLater, refusal_for and the error pages.
    assert {"floating_not_available", "borrow_until_not_valid", "too_many_attempts", "license_not_enabled"} <= set(
        codes
    )
    assert codes["invalid_api_key"] == {401} and codes["rate_limited"] == {429} and codes["not_found"] == {404}


def test_the_client_api_reference_lists_every_error_code_with_its_http_status():
    documented = documented_errors()
    for code, statuses in raised_codes().items():
        assert code in documented, f"docs/client-api.md does not list {code}"
        assert statuses == {documented[code]}, f"{code}: answered with {statuses}, documented {documented[code]}"


def test_the_client_api_reference_lists_every_endpoint():
    routes = [
        str(pattern.pattern)
        for pattern in client_urls.urlpatterns
        if isinstance(pattern, URLPattern) and pattern.name != "not-found"
    ]
    assert "floating/borrow" in routes and "public_key" in routes
    for route in routes:
        # In the table of endpoints, and a section of its own.
        assert f" /api/v4/{route}` |" in CLIENT_API, f"docs/client-api.md lists no /api/v4/{route}"
        assert re.search(rf"^###.* `(GET|POST) /api/v4/{re.escape(route)}`", CLIENT_API, re.M), route


def python_block(text: str, containing: str) -> str:
    return next(block for block in re.findall(r"```python\n(.*?)```", text, re.S) if containing in block)


def test_a_request_signed_as_the_client_api_reference_shows_is_accepted(db, fresh_signer):
    credential, shared_key = services.client_credential_create(name="Docs", actor=Actor.system("test"))
    namespace = {"API_KEY": credential.api_key, "SHARED_KEY": shared_key}
    exec(python_block(CLIENT_API, "formatdate"), namespace)

    response = Client().get(
        "/api/v4/check_license?product=nothing&hardware_id=hw&license_key=K", headers=namespace["headers"]
    )

    assert response.json()["code"] == "unknown_product"  # past the signature: it was good


def test_the_webhooks_guide_verifies_without_a_library_what_the_server_signs():
    namespace: dict = {}
    exec(python_block((DOCS / "webhooks.md").read_text(), "def verified"), namespace)
    verified = namespace["verified"]
    secret, previous = (f"whsec_{base64.b64encode(bytes([n]) * 24).decode()}" for n in (1, 2))
    now = dt.datetime.now(dt.UTC)
    body = '{"id":"msg_1","type":"webhook.test","data":{}}'
    signatures = f"{Webhook(previous).sign('msg_1', now, body)} {Webhook(secret).sign('msg_1', now, body)}"
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signatures}

    assert verified(body.encode(), headers, secret)  # either of two signatures, as during a rotation
    assert not verified(body.encode() + b" ", headers, secret)
    assert not verified(body.encode(), {**headers, "webhook-timestamp": str(int(now.timestamp()) - 301)}, secret)


def test_the_management_api_reference_names_every_resource():
    text = (DOCS / "management-api.md").read_text()
    for prefix, _viewset, _basename in management_urls.router.registry:
        assert f"/{prefix}`" in text, f"docs/management-api.md does not name /{prefix}"


def test_the_readme_and_the_client_api_reference_verify_answers_with_the_same_code():
    readme = (ROOT / "README.md").read_text()
    assert python_block(readme, "def verified") == python_block(CLIENT_API, "def verified")


# Settings and webhooks ----------------------------------------------------------------


def test_the_production_guide_names_every_setting_read_from_the_environment():
    settings = ROOT / "config" / "settings"
    read = {
        name
        for path in settings.glob("*.py")
        for name in re.findall(r'\benv(?:\.\w+)?\(\s*"([A-Z0-9_]+)"', path.read_text())
    }
    assert {"DJANGO_SECRET_KEY", "LICENSING_SECRETS_KEY", "REDIS_URL", "AXES_COOLOFF_MINUTES"} <= read
    guide = (DOCS / "production.md").read_text()
    assert sorted(name for name in read if f"`{name}`" not in guide) == []


def test_the_webhooks_guide_names_every_event_type():
    guide = (DOCS / "webhooks.md").read_text()
    missing = [event for event in (*representations.EVENT_TYPES, "webhook.test") if f"`{event}`" not in guide]
    assert missing == []


def test_every_link_between_the_documents_leads_to_a_file():
    for document in [ROOT / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#]+\.md)\)", document.read_text()):
            assert (document.parent / target).is_file(), f"{document.name} links to {target}"
    readme = (ROOT / "README.md").read_text()
    assert [path.name for path in sorted(DOCS.glob("*.md")) if f"(docs/{path.name})" not in readme] == []


# The API docs --------------------------------------------------------------------------


@pytest.fixture
def schema(db) -> dict:
    return Client().get("/api/schema/?format=json").json()


def test_every_operation_is_grouped_under_a_described_tag(schema):
    operations = [
        (method.upper(), path, operation)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    described = {tag["name"]: tag.get("description", "") for tag in schema["tags"]}
    for method, path, operation in operations:
        tags = operation.get("tags", [])
        assert tags and not {"v1", "v4"} & set(tags), f"{method} {path}: {tags}"
        assert all(described.get(tag) for tag in tags), f"{method} {path}: {tags} not described"
    used = {tag for _, _, operation in operations for tag in operation["tags"]}
    assert used == set(described), "a tag is described that no operation uses, or the reverse"
    assert all(
        operation["tags"][0].startswith("Client: ") == path.startswith("/api/v4/") for _, path, operation in operations
    )


def test_tag_descriptions_stand_alone(schema):
    for tag in schema["tags"]:
        text = tag["description"]
        assert not re.search(r"README|DESIGN|§|\bsee (above|below)\b", text), tag["name"]
        assert len(text) > 80, tag["name"]


# What `make run` prints ----------------------------------------------------------------


@pytest.fixture
def fresh_signer():
    current_signer.cache_clear()  # each test's database starts without a signing key
    yield
    current_signer.cache_clear()


def printed_demo(url: str = "http://127.0.0.1:8000") -> str:
    out = io.StringIO()
    call_command("load_demo", "--force", "--url", url, stdout=out)
    return out.getvalue()


def printed_check(output: str) -> str:
    """The check_license URL of the printed example."""
    return re.search(r"'(\S+/api/v4/check_license\?\S+)'", output).group(1)


def test_the_demo_printout_names_the_products_and_a_whole_activation_code_that_works(db, fresh_signer):
    output = printed_demo()

    for code in load_demo.DEMO_PRODUCTS:
        assert re.search(rf"^  {re.escape(code)} +{re.escape(Product.objects.get(code=code).name)} ", output, re.M)
    printed_code = re.search(r"^Activation code .*:\n  (\S+)$", output, re.M).group(1)
    code = ActivationCode.objects.get(code=printed_code)
    assert code.entitlement.product.code == "studio" and code.entitlement.customer.name == "Acme Corporation"
    assert "docs/client-api.md" in output

    # The printed check, signed as printed, is answered with the device's license.
    query = urllib.parse.urlsplit(printed_check(output)).query
    date = formatdate(usegmt=True)
    digest = hmac.new(
        load_demo.DEMO_SHARED_KEY.encode(), f"licenseSpring\ndate: {date}".encode(), hashlib.sha256
    ).digest()
    authorization = (
        f'algorithm="hmac-sha256",headers="date",signature="{base64.b64encode(digest).decode()}",'
        f'apiKey="{load_demo.DEMO_API_KEY}"'
    )
    response = Client().get(f"/api/v4/check_license?{query}", headers={"Date": date, "Authorization": authorization})
    assert response.status_code == 200, response.content
    assert response.json()["license_key"] == printed_code and response.json()["hardware_id"] == load_demo.DEMO_DEVICE

    # Loading again changes nothing, and prints the same.
    codes = ActivationCode.objects.count()
    assert printed_demo() == output
    assert ActivationCode.objects.count() == codes


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("openssl")), reason="needs curl and openssl")
def test_the_printed_check_runs_as_printed_in_a_shell(transactional_db, live_server, fresh_signer):
    output = printed_demo(live_server.url)
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  DATE="))
    script = "\n".join(lines[start : start + 4])
    assert printed_check(script).startswith(live_server.url)

    answer = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, check=True).stdout

    assert answer.startswith("HTTP/1.1 200"), answer
    assert "LicenseSignature: " in answer and f'"hardware_id":"{load_demo.DEMO_DEVICE}"' in answer
