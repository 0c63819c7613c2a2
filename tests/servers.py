"""The server as production runs it (gunicorn workers on PostgreSQL and Redis), started
from this checkout for the benchmarks, `make fuzz` and the suite's Schemathesis run."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(database: str, redis_url: str, settings: str = "config.settings.production", **more: str) -> dict:
    """The environment of a server run from this checkout on the local PostgreSQL
    database `database` and the Redis at `redis_url`, with throwaway secrets."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings,
        "DJANGO_SECRET_KEY": "local-only-" + "x" * 50,
        "LICENSING_SECRETS_KEY": "local-only-secrets-key",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "REDIS_URL": redis_url,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        **more,
    }


def recreate_database(name: str) -> None:
    """An empty PostgreSQL database of that name on the local server."""
    for sql in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True, capture_output=True)


def wait_until_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the server did not answer {url} within {timeout}s")


def start_gunicorn(
    env: dict[str, str], workers: int, ready_path: str = "/api/schema/", log: Path | None = None
) -> tuple[subprocess.Popen, str]:
    """gunicorn serving config.wsgi on a free loopback port, once it answers `ready_path`.
    Returns the process (stop it with `stop`) and the base URL. Its output goes to `log`
    if given, else to this process's."""
    port = free_port()
    output = log.open("ab") if log else None
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "config.wsgi", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=output,
        stderr=subprocess.STDOUT if output else None,
    )
    if output:
        output.close()  # the child has its own copy
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + ready_path)
    except RuntimeError:
        stop(server)
        raise
    return server, base


def stop(server: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)


class RedisServer:
    """A Redis server of a test's own, on a free port, which it may stop, kill and start
    again (empty each time, as a Redis that keeps nothing on disk comes back)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.directory),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self.answers():
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def answers(self) -> bool:
        ping = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True)
        return ping.stdout == b"PONG\n"

    def stop(self) -> None:
        """Shut down as an operator would (SIGTERM)."""
        self.process.terminate()
        self.process.wait(timeout=10)

    def kill(self) -> None:
        """Gone at once, with everything it held."""
        self.process.kill()
        self.process.wait(timeout=10)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None
