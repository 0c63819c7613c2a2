"""`make bench-webhooks` (and the end of `make bench`): webhook deliveries per second.

Writes EVENTS changes (customer disables) on a scratch PostgreSQL database with one
endpoint subscribed, while no worker runs, so every delivery waits in Redis. Then starts
two Celery workers (production settings, thread pools) and times how long they take to
deliver everything to a local receiver (a separate process answering 204 at once).
Prints deliveries per second, from the first attempt to the last. Loopback only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.servers import BIN, free_port, recreate_database, server_env  # noqa: E402

DB_NAME = "licensing_bench_webhooks"
EVENTS = int(os.environ.get("BENCH_WEBHOOK_EVENTS", "3000"))
WORKERS = 2
CONCURRENCY = int(os.environ.get("BENCH_WEBHOOK_CONCURRENCY", "4"))
POOL = os.environ.get("BENCH_WEBHOOK_POOL", "prefork")
REDIS_URL = "redis://127.0.0.1:6379/14"

# The receiver is a plain-HTTP server on loopback, which production refuses by default.
ENV = server_env(
    DB_NAME,
    REDIS_URL,
    settings="config.settings.bench",
    LICENSING_WEBHOOK_ALLOW_HTTP="true",
    LICENSING_WEBHOOK_ALLOW_INTERNAL="true",
)

RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a production receiver would

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""

SEED = """
import time
from licensing import services
from licensing.actors import Actor
from licensing.models import Customer, WebhookEndpoint
services.webhook_endpoint_create(endpoint=WebhookEndpoint(url="{url}"), actor=Actor.system("bench"))
customers = Customer.objects.bulk_create(Customer(name=f"Customer {{n}}") for n in range({events}))
started = time.perf_counter()
for customer in customers:
    services.customer_disable(customer=customer, actor=Actor.system("bench"), reason="bench")
print(f"{{(time.perf_counter() - started) / len(customers) * 1000:.2f}}")
"""

# Read with psql, not a Django shell: a shell a second would take a core from the workers.
RESULT = """
SELECT (SELECT count(*) FROM licensing_webhookdelivery WHERE status = 'succeeded'),
       (SELECT count(*) FROM licensing_webhookattempt),
       coalesce(extract(epoch FROM max(started_at) - min(started_at)), 0)
FROM licensing_webhookattempt
"""


def result() -> list[str]:
    command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", DB_NAME, "-tAF", " ", "-c", RESULT]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.split()


def manage(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "python"), "manage.py", *args], cwd=ROOT, env=ENV, check=True, **kwargs)


def shell(code: str) -> str:
    return manage("shell", "-v0", "-c", code, capture_output=True, text=True).stdout.strip()


def main() -> None:
    recreate_database(DB_NAME)
    subprocess.run(["redis-cli", "-n", "14", "FLUSHDB"], check=True, capture_output=True)
    manage("migrate", "-v0")
    port = free_port()
    receiver = subprocess.Popen([str(BIN / "python"), "-c", RECEIVER, str(port)])
    workers: list[subprocess.Popen] = []
    try:
        per_change_ms = shell(SEED.format(url=f"http://127.0.0.1:{port}/hooks", events=EVENTS)).split()[-1]
        print(f"{EVENTS} changes written, each with its outbox rows: {per_change_ms} ms per change")
        command = [str(BIN / "celery"), "--quiet", "-A", "config", "worker", "--pool", POOL]
        command += ["--concurrency", str(CONCURRENCY), "--without-gossip", "--without-mingle", "--loglevel", "warning"]
        workers.extend(subprocess.Popen(command, cwd=ROOT, env=ENV) for _ in range(WORKERS))
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            done, attempts, seconds = result()
            if int(done) >= EVENTS:
                break
            time.sleep(1)
        done, attempts, seconds = result()
        rate = int(done) / float(seconds) if float(seconds) else float("nan")
        print(
            f"{done}/{EVENTS} delivered in {float(seconds):.1f} s with {WORKERS} workers × {CONCURRENCY} ({POOL}) "
            f"({attempts} attempts): {rate:,.0f} deliveries/s"
        )
    finally:
        for process in [*workers, receiver]:
            process.terminate()
        for process in [*workers, receiver]:
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
