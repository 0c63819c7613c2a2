"""`make run` on a fresh clone: the promise at the top of the Makefile, kept end to end.

The clone holds only what is committed and builds its own virtualenv, as a new machine would;
sharing this checkout's `.venv` or database would hide exactly the mistakes this test is for
(an uncommitted file, a missing requirement, a migration that only works on an old database).
"""

import contextlib
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from tests.licensing.webhooks.receiver import Receiver, wait_for

REPO_ROOT = Path(__file__).resolve().parents[1]

# A fresh virtualenv plus a pip install of requirements.txt comes before the server starts.
STARTUP_TIMEOUT = 300
# None of these exists on a fresh machine. pytest-django sets DJANGO_SETTINGS_MODULE in this
# process, and a developer's shell may carry the others; any of them would change what
# `make run` does. The MAKE* ones appear when this suite itself runs under `make test`.
LEAKY_VARIABLES = {
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "REDIS_URL",
    "VIRTUAL_ENV",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    "MAKEOVERRIDES",
}


@dataclass
class RunningServer:
    clone: Path
    base_url: str
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output().splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fresh_machine_environ() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in LEAKY_VARIABLES}
    # An activated checkout venv on PATH would let the clone's make pick up its python3.
    checkout_bin = str(REPO_ROOT / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != checkout_bin)
    return env


def _stop_process_group(process: subprocess.Popen) -> None:
    # make, runserver and runserver's autoreload child share the session started for make;
    # signalling the group is the only way to be sure none of them outlives the test.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    # make may be gone while a child ignored SIGTERM; finish whatever is left of the group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _wait_until_answering(url: str, process: subprocess.Popen, server: RunningServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`make run` exited with {process.returncode} before serving:\n{server.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    pytest.fail(f"{url} did not answer 200 within {STARTUP_TIMEOUT} s:\n{server.tail()}")


@pytest.fixture
def make_run_server(tmp_path: Path) -> Iterator[RunningServer]:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True, timeout=120)
    port = _free_port()
    server = RunningServer(clone=clone, base_url=f"http://127.0.0.1:{port}", log_path=tmp_path / "make-run.log")
    with server.log_path.open("wb") as log:
        process = subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=clone,
            env=_fresh_machine_environ(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_answering(f"{server.base_url}/admin/login/", process, server)
        yield server
    finally:
        _stop_process_group(process)


def _printed_password(output: str, username: str) -> str:
    # load_demo prints each staff login as "  <username> / <password> (<role>)".
    match = re.search(rf"^\s*{re.escape(username)}\s+/\s+(\S+)", output, re.MULTILINE)
    assert match, f"no login printed for {username!r}:\n{output}"
    return match.group(1)


def _portal(base_url: str, email: str, password: str) -> urllib.request.OpenerDirector:
    """A browser-like session signed in to the end-user portal through its form."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    sign_in_url = f"{base_url}/portal/sign-in/"
    with opener.open(sign_in_url, timeout=10) as response:
        page = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "email": email, "password": password}).encode()
    with opener.open(urllib.request.Request(sign_in_url, data=form, headers={"Referer": sign_in_url})) as response:
        assert urllib.parse.urlsplit(response.url).path == "/portal/", response.read().decode()[-2000:]
    return opener


def _sign_in(base_url: str, username: str, password: str) -> str:
    """Sign in through the admin login form as a browser would; return the final URL."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login_url = f"{base_url}/admin/login/?next=/admin/"
    with opener.open(login_url, timeout=10) as response:
        page = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": username, "password": password, "next": "/admin/"}
    ).encode()
    request = urllib.request.Request(login_url, data=form, headers={"Referer": login_url})
    with opener.open(request, timeout=10) as response:
        return response.url


@pytest.mark.slow
def test_make_run_on_a_fresh_clone_serves_admin_and_prints_demo_logins(make_run_server: RunningServer):
    with urllib.request.urlopen(f"{make_run_server.base_url}/admin/login/", timeout=10) as response:
        page = response.read().decode()
    assert 'id="id_username"' in page
    assert 'id="id_password"' in page

    output = make_run_server.output()
    for username in ("admin", "support", "licadmin"):
        _printed_password(output, username)
    assert re.search(r"api key:\s+\S+", output), output
    assert re.search(r"shared key:\s+\S+", output), output
    # The embedded default, not settings leaked from this test process.
    assert (make_run_server.clone / "db.sqlite3").is_file()

    # The printed admin login must be one that works, not just one that is printed.
    final_url = _sign_in(make_run_server.base_url, "admin", _printed_password(output, "admin"))
    assert urllib.parse.urlsplit(final_url).path == "/admin/", make_run_server.tail()

    # So must the printed management API token.
    match = re.search(r"Authorization: Bearer (\S+)' (\S+/api/v1/customers)", output)
    assert match, output
    request = urllib.request.Request(match.group(2), headers={"Authorization": f"Bearer {match.group(1)}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        customers = {c["name"]: c["effective_status"] for c in json.loads(response.read())["results"]}
    assert customers["Acme Corporation"] == "active"

    # The printed portal login works too, and shows the customer's entitlements.
    portal = _portal(make_run_server.base_url, "it@acme.example", _printed_password(output, "it@acme.example"))
    with portal.open(f"{make_run_server.base_url}/portal/", timeout=10) as response:
        dashboard = response.read().decode()
    assert "Entitlements of Acme Corporation" in dashboard and "Studio Desktop" in dashboard

    # Webhooks are delivered without a broker: an endpoint made through the API hears of
    # a customer disabled through the API, signed with the secret it was given.
    receiver = Receiver().start()
    try:
        token, base = match.group(1), match.group(2).rsplit("/customers", 1)[0]
        endpoint = _api(base, token, "POST", "/webhook-endpoints", {"url": receiver.url})
        acme = next(c for c in _api(base, token, "GET", "/customers")["results"] if c["name"] == "Acme Corporation")
        _api(base, token, "POST", f"/customers/{acme['id']}/disable", {"reason": "make run test"})
        wait_for(lambda: receiver.successes(), 30, make_run_server.tail())
        event = Webhook(endpoint["secret"]).verify(receiver.received[0].body, receiver.received[0].headers)
        assert event["type"] == "customer.disabled" and event["data"]["id"] == acme["id"]
        # ... and the customer's contact sees it at once in the portal.
        with portal.open(f"{make_run_server.base_url}/portal/", timeout=10) as response:
            assert "All access for Acme Corporation is disabled" in response.read().decode()
    finally:
        receiver.stop()


def _api(base: str, token: str, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        base + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())
