"""`make bench-scale`: the server with 1,000,000 licenses against the same with 1,000.

Seeds two PostgreSQL databases with tests/bench/seeding.py, `licensing_scale_small`
(1,000 licenses) and `licensing_scale` (SCALE_LICENSES, 1,000,000 unless set; seeding
takes minutes, and SCALE_REUSE=1 keeps a database that already holds that many licenses
on the current migrations). Then serves each database from a gunicorn of its own (2
workers, bench settings, one Redis), both running, and measures them taking turns, so
that the machine's drift weighs on both alike:

* admin changelists, signed in as a superuser, and management API lists with a token:
  the time to the first byte of the answer (median and max of 7 requests after 2 to warm
  up), and the SQL queries the page runs, counted in a Django process of its own (test
  client, CaptureQueriesContext) after one request to warm it;
* check_license p50 and p99 with wrk over 1,000 active licenses drawn from the whole
  table, warm (every worker remembers them) and cold (their entitlements' versions
  bumped 20 times a second, each license on an entitlement of its own, so every check
  reads the changed rows from the database).

Prints one table with both databases' figures and a verdict against the targets: every
list at most 1.5 times its time on the small database and under 150 ms; check_license
p99 at most 1.2 times. A filtered list that shows fewer rows on the small database than
on the large one is not compared by ratio (the pages differ in what they render), only
by time. With --explain, also prints, per page, the EXPLAIN (ANALYZE,
BUFFERS) of every query whose plan reads a licensing table whole (Seq Scan) or sorts on
disk. Loopback only; every run is bounded in time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from tests.bench import bench_check_license, seeding  # noqa: E402
from tests.bench.bench_check_license import lua_script, warm_up, wrk  # noqa: E402
from tests.servers import BIN, recreate_database, server_env, start_gunicorn, stop  # noqa: E402

SMALL = ("licensing_scale_small", 1_000)
LARGE = ("licensing_scale", int(os.environ.get("SCALE_LICENSES", "1000000")))
REUSE = os.environ.get("SCALE_REUSE") == "1"
REDIS_URL = "redis://127.0.0.1:6379/11"
WORKERS = 2
WARM_UPS, SAMPLES = 2, 7
CHECKED = 1_000
CHECK_ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
# Targets: a list on the large database at most this many times its time on the small
# one, and under this many milliseconds; check_license's p99 at most this many times.
LIST_RATIO, LIST_MS, CHECK_P99_RATIO = 1.5, 150.0, 1.2

ADMIN_PAGES = [
    ("admin customers", "/admin/licensing/customer/"),
    ("admin entitlements", "/admin/licensing/entitlement/"),
    ("admin entitlements, effectively disabled", "/admin/licensing/entitlement/?effective_status=disabled"),
    ("admin licenses", "/admin/licensing/license/"),
    ("admin licenses, suspended", "/admin/licensing/license/?status__exact=suspended"),
    ("admin devices", "/admin/licensing/device/"),
    ("admin audit events", "/admin/licensing/auditevent/"),
]
API_PAGES = [
    ("api licenses", "/api/v1/licenses"),
    ("api licenses, suspended", "/api/v1/licenses?status=suspended"),
    ("api licenses of a customer", "/api/v1/licenses?customer={customer}"),
    ("api entitlements, effectively disabled", "/api/v1/entitlements?effective_status=disabled"),
    ("api customers", "/api/v1/customers"),
    ("api devices", "/api/v1/devices"),
]

# Bumps the version of every entitlement the checked licenses use, 20 times a second, as
# their audited changes would: every remembered chain is outdated before its device checks
# again, and its entitlement and code are read again (licensing/services/checks.py). One
# bump per checked license, so both databases cost the same bumps.
CHURN = """
import sys, time, redis
client = redis.Redis.from_url(sys.argv[1])
keys = sys.argv[2].split(",")
deadline = time.monotonic() + 600
while time.monotonic() < deadline:
    pipeline = client.pipeline(transaction=False)
    for key in keys:
        pipeline.incr(key)
    pipeline.execute()
    time.sleep(0.05)
"""

# The active licenses to check, from the whole table: every link of their chain active
# and the entitlement within its validity.
CHECKABLE = f"""
SELECT p.code, ac.code, d.hardware_id, l.entitlement_id, e.customer_id
FROM licensing_license AS l
JOIN licensing_device AS d ON d.id = l.device_id
JOIN licensing_activationcode AS ac ON ac.id = l.activation_code_id
JOIN licensing_entitlement AS e ON e.id = l.entitlement_id
JOIN licensing_customer AS c ON c.id = e.customer_id
JOIN licensing_product AS p ON p.id = e.product_id
LEFT JOIN licensing_licensetransaction AS t ON t.id = e.transaction_id
WHERE l.status = 'active' AND ac.status = 'active' AND e.status = 'active' AND c.status = 'active'
  AND (t.id IS NULL OR t.status = 'active') AND e.valid_from <= now()
  AND (e.valid_until IS NULL OR e.valid_until > now())
ORDER BY md5(l.id::text)
LIMIT {CHECKED}
"""


def environment(database: str) -> dict[str, str]:
    # wrk sends thousands of checks a second from one address with one key: a rate it
    # never reaches, so that nothing is refused.
    return server_env(
        database,
        REDIS_URL,
        settings="config.settings.bench",
        LICENSING_CLIENT_RATE="100000000/minute",
        LICENSING_MANAGEMENT_RATE="100000/minute",
    )


def connect(database: str) -> psycopg.Connection:
    return psycopg.connect(f"host=127.0.0.1 user=postgres dbname={database}", autocommit=True)


def query(database: str, sql: str) -> list[tuple]:
    with connect(database) as connection:
        return connection.execute(sql).fetchall()


def manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run([str(BIN / "python"), "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if check and out.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{out.stderr}")
    return out


def last_json_line(output: str):
    return json.loads(output.strip().splitlines()[-1])


def prepare(database: str, licenses: int) -> str:
    """The database seeded with `licenses` licenses (or kept, with SCALE_REUSE=1); says
    how long that took."""
    env = environment(database)
    if REUSE and reusable(database, licenses, env):
        return "reused"
    recreate_database(database)
    started = time.monotonic()
    manage(env, "migrate", "-v0")
    migrated = time.monotonic()
    with connect(database) as connection:
        steps = seeding.seed(connection.cursor(), licenses=licenses)
    seeded = time.monotonic()
    # What autovacuum would soon do to freshly written tables: mark their pages all-visible
    # (index-only scans) and their rows committed, so that no measurement pays for it.
    with connect(database) as connection:
        connection.execute("VACUUM")
    done = time.monotonic()
    summary = (
        f"{licenses:,} licenses seeded in {seeded - migrated:.0f} s ({_steps(steps)}); "
        f"migrate {migrated - started:.0f} s, VACUUM {done - seeded:.0f} s"
    )
    print(f"{database}: {summary}", flush=True)
    return summary


def _steps(steps: dict[str, float]) -> str:
    return ", ".join(f"{step} {seconds:.1f} s" for step, seconds in steps.items() if seconds >= 0.05)


def reusable(database: str, licenses: int, env: dict[str, str]) -> bool:
    exists = query("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{database}'")
    if not exists:
        return False
    if manage(env, "migrate", "--check", "-v0", check=False).returncode != 0:
        print(f"{database}: migrations to apply, seeding it again")
        return False
    (count,) = query(database, "SELECT count(*) FROM licensing_license")[0]
    if count != licenses:
        print(f"{database}: {count:,} licenses, not {licenses:,}: seeding it again")
        return False
    print(f"{database}: reusing its {count:,} licenses")
    return True


def flush_redis() -> None:
    """Nothing left in Redis from the other database's run (throttles, versions)."""
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def inspect_pages(pages: list[list[str]], token: str, explain: bool) -> dict:
    """Runs in a Django process on the database: the SQL queries each page runs, counted
    on its second request, as the superuser or with the token; with `explain`, the plans
    of those that read a licensing table whole or sort on disk. Also the superuser's
    session, for the server's requests."""
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    # The bench settings allow 127.0.0.1, not the test client's "testserver".
    admin = Client(HTTP_HOST="127.0.0.1")
    admin.force_login(User.objects.get(username=seeding.SUPERUSER))
    api = Client(HTTP_HOST="127.0.0.1", headers={"authorization": f"Bearer {token}"})
    results = {}
    for label, path in pages:
        client = admin if path.startswith("/admin/") else api
        client.get(path)  # the first request fills what a process keeps (content types, the signing key)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
        queries = captured.captured_queries if explain else []
        plans = [plan for sql in queries if (plan := _slow_plan(connection, sql["sql"]))]
        results[label] = {"queries": len(captured), "plans": plans, "rows": _rows_shown(response)}
    return {"session": admin.cookies[settings.SESSION_COOKIE_NAME].value, "pages": results}


def _rows_shown(response) -> int:
    """How many rows the page lists: an admin changelist's table rows, an API list's
    results."""
    if response["Content-Type"].startswith("application/json"):
        return len(response.json()["results"])
    html = response.content.decode()
    table = html.find('id="result_list"')
    if table < 0:
        return 0
    return html[html.find("<tbody>", table) : html.find("</tbody>", table)].count("<tr")


SEQ_SCAN = re.compile(r"Seq Scan on (licensing_\w+)")
DISK_SORT = re.compile(r"Sort Method: external \w+\s+Disk: (\d+)kB")


def _slow_plan(connection, sql: str | None) -> dict | None:
    if not sql or not sql.lstrip().upper().startswith(("SELECT", "WITH")):
        return None
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    findings = [f"Seq Scan on {table}" for table in dict.fromkeys(SEQ_SCAN.findall(plan))]
    findings += [f"Sort spilled {int(kb):,} kB to disk" for kb in DISK_SORT.findall(plan)]
    if not findings:
        return None
    milliseconds = float(re.search(r"Execution Time: ([\d.]+) ms", plan).group(1))
    return {"ms": milliseconds, "findings": findings, "sql": sql, "plan": plan}


def inspect(database: str, pages: list[tuple[str, str]], token: str, explain: bool) -> dict:
    env = environment(database)
    code = (
        "import django, json, sys; django.setup(); from tests.bench.bench_scale import inspect_pages; "
        "print(json.dumps(inspect_pages(*json.loads(sys.argv[1]))))"
    )
    out = subprocess.run(
        [str(BIN / "python"), "-c", code, json.dumps([pages, token, explain])],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"counting the queries of {database}'s pages failed:\n{out.stderr}")
    return last_json_line(out.stdout)


def first_byte_ms(base: str, path: str, headers: dict[str, str]) -> float:
    """Milliseconds from sending the request to the answer's status line and headers
    (Django sends them once the page is rendered), on a new connection."""
    address = urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=300)
    try:
        started = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        elapsed = (time.perf_counter() - started) * 1000
        response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise SystemExit(f"{path} answered {response.status}")
    return elapsed


def time_pages(servers: list[dict]) -> None:
    """Each page's time to first byte on every server: WARM_UPS requests each, then
    SAMPLES rounds that take turns between the servers, so that the machine's drift
    (and whatever else it runs) weighs on both alike. Sets each server's `times`."""
    for server in servers:
        server["times"] = {}
    for index in range(len(servers[0]["pages"])):
        for server in servers:
            for _ in range(WARM_UPS):
                first_byte_ms(server["base"], *server["requests"][index])
        samples = [
            [first_byte_ms(server["base"], *server["requests"][index]) for server in servers] for _ in range(SAMPLES)
        ]
        for server, taken in zip(servers, zip(*samples, strict=True), strict=True):
            label = server["pages"][index][0]
            server["times"][label] = {"median": statistics.median(taken), "max": max(taken)}


def check_script(checks: list[tuple], api_key: str, shared_key: str) -> str:
    """bench_check_license's signed wrk script, over a table of check URLs, one per
    license, built once rather than in each request."""
    script = Path(lua_script("paths[counter % #paths + 1]", api_key, shared_key))
    paths = ",\n".join(
        f'"/api/v4/check_license?product={product}&license_key={code}&hardware_id={hardware_id}"'
        for product, code, hardware_id, *_ in checks
    )
    script.write_text(f"paths = {{\n{paths}\n}}\n" + script.read_text())
    return str(script)


def measure_checks(servers: list[dict]) -> None:
    """check_license's p50 and p99 on every server, warm then cold: CHECK_ROUNDS wrk runs
    each, taking turns between the servers; the median run's figures. Cold, the churn
    bumps the entitlements of every server's checked licenses throughout, so that its
    cost weighs on both alike. Sets each server's `checks`."""
    for server in servers:
        bench_check_license.DB_NAME = server["database"]  # warm_up counts the commits of this database
        warm_up(server["base"], server["script"])
    runs = {"warm": [[wrk(server["base"] + "/", server["script"]) for server in servers] for _ in range(CHECK_ROUNDS)]}
    keys = ",".join(
        f"licensing:v:licensing.entitlement:{check[3]}" for server in servers for check in server["checked"]
    )
    churn = subprocess.Popen([str(BIN / "python"), "-c", CHURN, REDIS_URL, keys], cwd=ROOT, start_new_session=True)
    try:
        time.sleep(1)
        runs["cold"] = [
            [wrk(server["base"] + "/", server["script"]) for server in servers] for _ in range(CHECK_ROUNDS)
        ]
    finally:
        os.killpg(churn.pid, signal.SIGTERM)
        churn.wait(timeout=30)
    for index, server in enumerate(servers):
        server["checks"] = {
            scenario: {stat: statistics.median(run[index][stat] for run in rounds) for stat in ("p50", "p99")}
            for scenario, rounds in runs.items()
        }


def prepare_run(database: str, explain: bool) -> dict:
    """What a database's measurements need: a superuser's session, a token and a client
    credential of this run, the pages (with the queries each runs) and the checks."""
    credentials = last_json_line(
        manage(
            environment(database),
            "shell",
            "-v0",
            "-c",
            "import json; from tests.bench.seeding import credentials; print(json.dumps(credentials()))",
        ).stdout
    )
    checked = query(database, CHECKABLE)
    customer = checked[len(checked) // 2][4]
    pages = [(label, path.format(customer=customer)) for label, path in ADMIN_PAGES + API_PAGES]
    inspected = inspect(database, pages, credentials["token"], explain)
    admin = {"Cookie": f"sessionid={inspected['session']}"}
    api = {"Authorization": f"Bearer {credentials['token']}"}
    return {
        "database": database,
        "pages": pages,
        "inspected": inspected["pages"],
        "requests": [(path, admin if path.startswith("/admin/") else api) for _, path in pages],
        "checked": checked,
        "count": len(checked),
        "script": check_script(checked, credentials["api_key"], credentials["shared_key"]),
    }


def measure(servers: list[dict]) -> float:
    """Both databases' pages and checks, each on a gunicorn of its own, started side by
    side (an idle one costs nothing). Returns the machine's load average before: what
    else it was running (during, this benchmark is most of the load)."""
    load = os.getloadavg()[0]
    started = []
    try:
        for server in servers:
            process, server["base"] = start_gunicorn(
                environment(server["database"]), WORKERS, ready_path="/bench/baseline"
            )
            started.append(process)
        time_pages(servers)
        measure_checks(servers)
    finally:
        for process in started:
            stop(process)
        for server in servers:
            os.unlink(server["script"])
    return load


def size(licenses: int) -> str:
    if licenses % 1_000_000 == 0:
        return f"{licenses // 1_000_000}M"
    return f"{licenses // 1_000}k" if licenses % 1_000 == 0 else str(licenses)


def print_plans(run: dict) -> None:
    database = run["database"]
    for label, path in run["pages"]:
        plans = run["inspected"][label]["plans"]
        if not plans:
            continue
        print(f"\n=== {database}: {label} ({path}): {len(plans)} of {run['inspected'][label]['queries']} queries")
        for plan in plans:
            print(f"--- {plan['ms']:.1f} ms: {'; '.join(plan['findings'])}")
            print(plan["sql"])
            print(plan["plan"])


def print_table(small: dict, large: dict, names: tuple[str, str], seeded: dict[str, str], load: float) -> None:
    one, other = names
    print()
    for database, summary in seeded.items():
        print(f"{database}: {summary}")
    print(
        f"gunicorn {WORKERS} workers; pages: time to first byte, median of {SAMPLES} after {WARM_UPS} to warm up; "
        f"check_license: wrk 2 threads x {bench_check_license.CONNECTIONS} connections, {bench_check_license.DURATION}"
        f" per run, median of {CHECK_ROUNDS} runs, over {small['count']} and {large['count']} licenses; "
        "both servers side by side, taking turns"
    )
    print(f"load average (1 min) of the machine before measuring: {load:.2f}")
    print(
        f"{'':42}{one + ' ms':>9}{other + ' ms':>9}{'ratio':>7}{'q ' + one:>7}{'q ' + other:>7}"
        f"{one + ' max':>9}{other + ' max':>9}{'rows':>10}  verdict"
    )
    for label, _ in small["pages"]:
        a, b = small["times"][label], large["times"][label]
        ratio = b["median"] / a["median"]
        rows = (small["inspected"][label]["rows"], large["inspected"][label]["rows"])
        misses = []
        # A filter that matches a handful of rows on the small database fills a page on
        # the large one: the pages then differ in what they render, not only in what the
        # database holds, and the ratio says nothing about scale.
        if rows[0] != rows[1]:
            misses.append(f"ratio not comparable ({rows[0]} vs {rows[1]} rows)")
        elif ratio > LIST_RATIO:
            misses.append(f"> {LIST_RATIO}x")
        if b["median"] >= LIST_MS:
            misses.append(f">= {LIST_MS:.0f} ms")
        print(
            f"{label:42}{a['median']:>9.1f}{b['median']:>9.1f}{ratio:>7.2f}"
            f"{small['inspected'][label]['queries']:>7}{large['inspected'][label]['queries']:>7}"
            f"{a['max']:>9.1f}{b['max']:>9.1f}{f'{rows[0]}/{rows[1]}':>10}  {_verdict(misses)}"
        )
    for scenario in ("warm", "cold"):
        for stat in ("p50", "p99"):
            a, b = small["checks"][scenario][stat], large["checks"][scenario][stat]
            ratio = b / a
            verdict = ""
            if stat == "p99":
                verdict = "meets" if ratio <= CHECK_P99_RATIO else f"MISSES: > {CHECK_P99_RATIO}x"
            print(
                f"{'check_license ' + scenario + ' ' + stat:42}{a:>9.2f}{b:>9.2f}{ratio:>7.2f}{'-':>7}{'-':>7}"
                f"{'':18}  {verdict}"
            )
    print(
        f"targets: every list at most {LIST_RATIO}x its {one} time and under {LIST_MS:.0f} ms; "
        f"check_license p99 at most {CHECK_P99_RATIO}x"
    )


def _verdict(misses: list[str]) -> str:
    if not misses:
        return "meets"
    if all(miss.startswith("ratio not comparable") for miss in misses):
        return misses[0]
    return "MISSES: " + ", ".join(misses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--explain", action="store_true", help="print the plans that read a licensing table whole or sort on disk"
    )
    arguments = parser.parse_args()
    seeded = {database: prepare(database, licenses) for database, licenses in (SMALL, LARGE)}
    flush_redis()
    small, large = (prepare_run(database, arguments.explain) for database, _ in (SMALL, LARGE))
    print("measuring", flush=True)
    load = measure([small, large])
    if arguments.explain:
        for run in (small, large):
            print_plans(run)
    print_table(small, large, (size(SMALL[1]), size(LARGE[1])), seeded, load)


if __name__ == "__main__":
    main()
