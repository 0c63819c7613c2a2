"""Offline activation through the library's files, and the command line, against the
real server."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time

import pytest
import requests
from licensing_client import LeaseExpired, SignatureInvalid, WrongDevice
from licensing_client.offline import auth_headers

from licensing.models import License
from tests.factories import ActivationCodeFactory

from .conftest import CLIENT_SRC, PRODUCT

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def code(transactional_db):
    return ActivationCodeFactory(entitlement__product__code=PRODUCT, entitlement__seats=1)


def carried(live, endpoint: str, request_file: str) -> requests.Response:
    """The request file, carried to a connected machine and posted there."""
    headers = auth_headers(live.api_key, live.shared_key, time.time()) | {"Content-Type": "text/plain"}
    return requests.post(f"{live.base}/api/v4/{endpoint}", data=request_file, headers=headers, timeout=10)


def test_offline_activation_request_and_license_file(make_client, code, live, nowhere):
    vault = make_client("vault-1", base=nowhere, max_retries=0)  # never online
    answer = carried(live, "activate_offline", vault.offline_request("activation", code.code))
    assert answer.status_code == 200, answer.text
    license = vault.verify_license_file(answer.text)
    assert license["hardware_id"] == "vault-1" and license.license_key
    assert License.objects.holding_seat().count() == 1
    # The file stands in for the server until its expires_at.
    assert vault.check().from_cache
    vault.clock = lambda: license.expires_at.timestamp() + 1
    with pytest.raises(LeaseExpired):
        vault.check()
    vault.clock = time.time
    # Another machine cannot use it; a changed file is no license.
    with pytest.raises(WrongDevice):
        make_client("vault-2", base=nowhere).verify_license_file(answer.text)
    lines = answer.text.strip().splitlines()
    envelope = json.loads(base64.b64decode("".join(lines[1:-1])))
    payload = json.loads(base64.b64decode(envelope["payload"]))
    payload["expires_at"] = "2099-01-01T00:00:00.000Z"
    envelope["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    forged = "\n".join([lines[0], base64.b64encode(json.dumps(envelope).encode()).decode(), lines[-1]])
    with pytest.raises(SignatureInvalid):
        vault.verify_license_file(forged)
    # Deactivation, dated after the activation as the server requires.
    vault.clock = lambda: time.time() + 2
    answer = carried(live, "deactivate_offline", vault.offline_request("deactivation"))
    assert answer.text == "license_deactivated"
    assert License.objects.holding_seat().count() == 0


def test_the_command_line(code, live, tmp_path):
    key_file = tmp_path / "public.pem"
    key_file.write_bytes(live.public_key_pem)
    env = {
        **os.environ,
        "PYTHONPATH": str(CLIENT_SRC),
        "LICENSING_URL": live.base,
        "LICENSING_API_KEY": live.api_key,
        "LICENSING_SHARED_KEY": live.shared_key,
        "LICENSING_PUBLIC_KEY": str(key_file),
        "LICENSING_PRODUCT": PRODUCT,
        "LICENSING_CACHE_DIR": str(tmp_path / "cache"),
        "LICENSING_HARDWARE_ID": "cli-1",
    }

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "licensing_client", *args], env=env, capture_output=True, text=True, timeout=60
        )

    activated = run("activate", "--license-key", code.code)
    assert activated.returncode == 0, activated.stderr
    assert json.loads(activated.stdout)["hardware_id"] == "cli-1"
    checked = run("check")
    assert checked.returncode == 0 and json.loads(checked.stdout)["from_cache"] is False
    assert run("deactivate").stdout.strip() == "license_deactivated"
    refused = run("check")
    assert refused.returncode == 1 and "device_not_found" in refused.stderr
    time.sleep(1.1)  # a machine's requests must be dated after its last (de)activation
    request = run("offline-request", "--license-key", code.code, "-o", str(tmp_path / "request.txt"))
    assert request.returncode == 0, request.stderr
    answer = carried(live, "activate_offline", (tmp_path / "request.txt").read_text().strip())
    assert answer.status_code == 200, answer.text
    (tmp_path / "license.txt").write_text(answer.text)
    verified = run("verify-file", str(tmp_path / "license.txt"))
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["hardware_id"] == "cli-1"
    env["LICENSING_HARDWARE_ID"] = "cli-2"
    wrong = run("verify-file", str(tmp_path / "license.txt"), "--no-save")
    assert wrong.returncode == 1 and "wrong_device" in wrong.stderr
