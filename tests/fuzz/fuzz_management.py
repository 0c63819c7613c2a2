"""`make fuzz`: the management API under Schemathesis at length (every check and phase,
FUZZ_EXAMPLES cases per operation and phase), on a scratch PostgreSQL database served
by gunicorn as in production. Not part of `make test`: it sends tens of thousands of
requests and takes a quarter of an hour.

Prints the requests sent, the answers with a 5xx, the failed checks, and the seed:
FUZZ_SEED=<seed> make fuzz repeats a run. Exits non-zero on any failed check."""

from __future__ import annotations

import os
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.fuzz import management  # noqa: E402
from tests.servers import recreate_database, server_env, start_gunicorn, stop  # noqa: E402

DB_NAME = "licensing_fuzz"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "650"))
SEED = int(os.environ.get("FUZZ_SEED", str(random.randrange(2**31))))

ENV = server_env(
    DB_NAME,
    "redis://127.0.0.1:6379/13",
    DJANGO_SECURE_SSL_REDIRECT="false",
    # One token sends all of it: a budget it never reaches.
    LICENSING_MANAGEMENT_RATE="100000000/minute",
)


def seed() -> tuple[str, dict[str, list[str]]]:
    """Migrates the scratch database and seeds it; returns a read-write token and the ids."""
    recreate_database(DB_NAME)
    os.environ.update(ENV)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from licensing import services
    from licensing.actors import Actor

    ids = management.seed_rows()
    _, token = services.api_token_create(name="fuzz", read_only=False, actor=Actor.system("fuzz"))
    return token, ids


def main() -> None:
    token, ids = seed()
    log = Path(tempfile.mkdtemp(prefix="fuzz-")) / "server.log"
    server, base = start_gunicorn(ENV, workers=3, log=log)
    try:
        print(f"seed {SEED}: {EXAMPLES} examples per operation and phase, every check and phase", flush=True)
        print(f"the server's log: {log}", flush=True)
        run = management.run(base, token, ids, examples=EXAMPLES, seed=SEED)
    finally:
        stop(server)
    print(run.output[-20000:])
    print(f"\n{run}\nFUZZ_SEED={SEED} make fuzz repeats this run.")
    sys.exit(1 if run.failures or run.server_errors else 0)


if __name__ == "__main__":
    main()
