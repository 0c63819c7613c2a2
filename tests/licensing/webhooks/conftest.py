"""Real Celery workers and beat, as subprocesses on the test database and Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[3]
# Fast retries, a short timeout and a quick re-queue, so a test sees a day's schedule in seconds.
FAST = {
    "LICENSING_WEBHOOK_RETRY_DELAYS": "0.5,1,1,1,1,1,1",
    "LICENSING_WEBHOOK_TIMEOUT": "2",
    "LICENSING_WEBHOOK_REQUEUE_SECONDS": "1",
    "LICENSING_WEBHOOK_REQUEUE_GRACE": "2",
}


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Processes:
    """Starts `celery worker` and `celery beat` processes; kills what is left at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.running: list[subprocess.Popen] = []

    def _start(self, args: list[str], redis_url: str | None, env: dict[str, str]) -> subprocess.Popen:
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis_url or settings.REDIS_URL,
            **FAST,
            **env,
        }
        log = open(self.tmp_path / f"celery-{len(self.running)}.log", "w")  # noqa: SIM115 (kept open for the process)
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args, "--loglevel", "warning"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running.append(process)
        return process

    def worker(self, *, redis_url: str | None = None, concurrency: int = 4, **env: str) -> subprocess.Popen:
        return self._start(
            ["worker", "--pool", "threads", "--concurrency", str(concurrency), "--without-gossip", "--without-mingle"],
            redis_url,
            env,
        )

    def beat(self, *, redis_url: str | None = None, **env: str) -> subprocess.Popen:
        return self._start(["beat", "--schedule", str(self.tmp_path / "beat-schedule")], redis_url, env)

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        """SIGKILL: no chance to finish or hand back what it holds."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                self.kill(process)

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.tmp_path.glob("celery-*.log")))


@pytest.fixture
def celery(transactional_db, tmp_path):
    # Depends on transactional_db: the workers see committed rows, and they are killed
    # before the tables are flushed.
    processes = Processes(tmp_path)
    yield processes
    processes.stop_all()
