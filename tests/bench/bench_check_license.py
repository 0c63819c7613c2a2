"""`make bench`: the client API against a bare view, both served as in production.

Starts gunicorn on a scratch PostgreSQL database seeded with 1,000 active licenses,
drives each URL with wrk (many concurrent connections), and prints requests/s and
p50/p99 latency for both, their ratio, and the transactions each request committed.
Scenarios: check_license warm, with changes elsewhere, cold (the chain changed since the
device's last check), and uncached (worker memory off: every check reads its chain);
activate_license with a new device every request; deactivate_license of a different
device every request; a floating check_license, 1,000 devices renewing 1,000 slots,
against the node-locked warm check; and floating slots at the limit: 1,000 devices
contending for 50 slots.
Loopback only; every run is bounded in time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from email.utils import formatdate
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.servers import BIN, recreate_database, server_env, start_gunicorn, stop  # noqa: E402

DB_NAME = "licensing_bench"
DEVICES = 1000
DURATION = os.environ.get("BENCH_DURATION", "10s")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
WORKERS = int(os.environ.get("BENCH_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
# The lowest ratio to the bare view each scenario is meant to reach.
TARGETS = {
    "warm": 0.6,
    "elsewhere": 0.5,
    "cold": 0.4,
    "uncached": None,
    "activate": 0.08,
    "deactivate": 0.08,
    "floating": 0.8,  # of the node-locked warm check, not of the bare view
    "contention": None,
    "consume-hot": None,  # beside the warm check: every request writes
    "consume-wide": None,
}
# Scenarios compared with the node-locked warm check rather than the bare view.
AGAINST_CHECK = {"floating", "consume-hot", "consume-wide"}
# Metered entitlements the wide consumption scenario spreads its devices over.
METERED_WIDE = 1000
CONTENDED_SLOTS = 50
# PostgreSQL's server processes report what they committed at most once a second while
# busy, and within 10 seconds once idle.
STATS_FLUSH_SECONDS = 11
# Active devices waiting to be deactivated, per run of the deactivation scenario and wrk
# thread: more than a run can free (2,000 a second per thread; this machine frees a
# few hundred).
RUN_SECONDS = int(DURATION[:-1]) * {"s": 1, "m": 60}[DURATION[-1]]
RELEASABLE_PER_THREAD = 2_000 * RUN_SECONDS
SPREAD = 100
SCENARIOS = os.environ.get(
    "BENCH_SCENARIOS", "warm,elsewhere,cold,uncached,activate,deactivate,floating,contention,consume-hot,consume-wide"
).split(",")

ENV = server_env(
    DB_NAME,
    "redis://127.0.0.1:6379/14",
    settings="config.settings.bench",
    # wrk sends thousands of checks a second from one address with one key: a rate it
    # never reaches, so that nothing is refused. Per minute, not per second, so that the
    # throttle's cost is measured as in production: each worker settles once a second.
    LICENSING_CLIENT_RATE="100000000/minute",
)

SEED = f"""
from licensing import services
from licensing.actors import Actor
from licensing.services import seats
from licensing.models import ActivationCode, Customer, Device, Entitlement, License, Product
product = Product.objects.create(code="bench", name="Bench")
customer = Customer.objects.create(name="Bench customer")
entitlement = Entitlement.objects.create(customer=customer, product=product, seats={DEVICES})
code = ActivationCode.objects.create(entitlement=entitlement)
devices = Device.objects.bulk_create(Device(customer=customer, hardware_id=f"bench-hw-{{n}}") for n in range({DEVICES}))
License.objects.bulk_create(License(entitlement=entitlement, device=d, activation_code=code) for d in devices)
# Activations, each of a new device, and deactivations, each of a different one, over
# {SPREAD} entitlements of their own each (a release day touches many customers' at once;
# activations of one entitlement queue on its lock), with seats to spare.
def spread(name):
    entitlements = Entitlement.objects.bulk_create(
        Entitlement(customer=customer, product=product, seats=10_000_000) for _ in range({SPREAD})
    )
    return ActivationCode.objects.bulk_create(ActivationCode(entitlement=e) for e in entitlements)
grows, shrinks = spread("grows"), spread("shrinks")
releasable = Device.objects.bulk_create(
    Device(customer=customer, hardware_id=f"release-{{run}}-{{thread}}-{{n}}")
    for run in range({ROUNDS}) for thread in (1, 2) for n in range(1, {RELEASABLE_PER_THREAD} + 1)
)
License.objects.bulk_create(
    License(entitlement=code.entitlement, device=d, activation_code=code)
    for d in releasable
    for code in [shrinks[int(d.hardware_id.rsplit("-", 1)[1]) % {SPREAD}]]
)
# Floating: {DEVICES} devices renewing {DEVICES} slots, and {DEVICES} contending for {CONTENDED_SLOTS}.
def floating(name, slots):
    e = Entitlement.objects.create(
        customer=customer, product=product, license_model="floating", seats=slots, floating_timeout=600
    )
    c = ActivationCode.objects.create(entitlement=e)
    machines = Device.objects.bulk_create(
        Device(customer=customer, hardware_id=f"{{name}}-hw-{{n}}") for n in range({DEVICES})
    )
    License.objects.bulk_create(License(entitlement=e, device=d, activation_code=c) for d in machines)
    return c.code
floats, contends = floating("float", {DEVICES}), floating("contend", {CONTENDED_SLOTS})
# Consumption: {DEVICES} devices counting on one metered entitlement (every count queues on
# its counter row), and the same number spread one each over {METERED_WIDE} entitlements.
def metered(name, count):
    es = Entitlement.objects.bulk_create(
        Entitlement(customer=customer, product=product, seats=10_000_000, max_consumptions=10**15)
        for _ in range(count)
    )
    cs = ActivationCode.objects.bulk_create(ActivationCode(entitlement=e) for e in es)
    machines = Device.objects.bulk_create(
        Device(customer=customer, hardware_id=f"{{name}}-hw-{{n}}") for n in range({DEVICES})
    )
    License.objects.bulk_create(
        License(entitlement=cs[n % count].entitlement, device=d, activation_code=cs[n % count])
        for n, d in enumerate(machines)
    )
    return ",".join(c.code for c in cs)
hot, wide = metered("hot", 1), metered("wide", {METERED_WIDE})
seats.recount()  # the licenses above were written around the services
credential, shared_key = services.client_credential_create(name="bench", actor=Actor.system("bench"))
print(credential.api_key, shared_key, code.code, entitlement.pk)
print(",".join(c.code for c in grows), ",".join(c.code for c in shrinks), floats, contends)
print(hot, wide)
"""


# Changes the entitlement every device uses 20 times a second, as its audited changes
# (activations, edits) would: every remembered chain is retired (licensing/snapshots.py).
CHURN = """
import time, redis
client = redis.Redis.from_url("redis://127.0.0.1:6379/14")
key = "licensing:v:licensing.entitlement:" + ENTITLEMENT
deadline = time.monotonic() + 300
while time.monotonic() < deadline:
    client.incr(key)
    time.sleep(0.05)
"""


def manage(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "python"), "manage.py", *args], cwd=ROOT, env=ENV, check=True, **kwargs)


def prepare_database() -> list[str]:
    recreate_database(DB_NAME)
    manage("migrate", "-v0")
    out = manage("shell", "-v0", "-c", SEED, capture_output=True, text=True).stdout.split()
    # Fresh planner statistics after the bulk insert, as autovacuum would have them.
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", DB_NAME, "-qc", "ANALYZE"], check=True)
    return out[-10:]


def wrk(url: str, script: str | None = None, duration: str = DURATION, refusals: bool = False) -> dict[str, float]:
    """wrk's figures; any answer but a 2xx stops the bench, unless `refusals` are expected
    (then counted)."""
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{duration}", "--latency", "--timeout", "5s"]
    if script:
        command += ["-s", script]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True, timeout=300).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx and not refusals:
        raise SystemExit(f"{non_2xx.group(1)} failed responses from {url}:\n{out}")
    return {
        "refused": int(non_2xx.group(1)) if non_2xx else 0,
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
    }


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def lua_script(path_expression: str, api_key: str, shared_key: str, body_expression: str = "") -> str:
    """A wrk script that builds every request in Lua with the signed headers, used for
    every URL so that the load generator does the same work for each; with a body
    expression, a JSON POST. `counter` counts each thread's requests and `thread` (1 or
    2) tells the threads apart. One signed Date for the whole run: it stays within the
    15-minute window."""
    date = formatdate(usegmt=True)
    signature = base64.b64encode(
        hmac.new(shared_key.encode(), f"licenseSpring\ndate: {date}".encode(), hashlib.sha256).digest()
    ).decode()
    authorization = f'algorithm="hmac-sha256",headers="date",signature="{signature}",apiKey="{api_key}"'
    lua = f"""
wrk.headers["Date"] = "{date}"
wrk.headers["Authorization"] = '{authorization}'
wrk.headers["Content-Type"] = "application/json"
threads = 0
function setup(t)
  threads = threads + 1
  t:set("thread", threads)
end
counter = 0
request = function()
  counter = counter + 1
  return wrk.format({'"POST"' if body_expression else '"GET"'}, {path_expression}, nil, {body_expression or "nil"})
end
"""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(lua)
    return handle.name


def warm_up(base: str, check_script: str, most_runs: int = 30) -> None:
    """Checks until nearly none reads the database: each worker remembers a device
    after seeing it twice, and which worker takes a request is up to the kernel. What
    is left are the buffered check-in writes, a few a second."""
    for _ in range(most_runs):
        before = transactions()
        rate = wrk(base + "/", check_script, duration="5s")["rps"]
        if (transactions() - before) / (rate * 5) < 0.01:
            return


def transactions() -> int:
    """Transactions committed in the bench database so far: every query outside one is."""
    sql = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    out = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", DB_NAME, "-tAc", sql],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout)


def measure(base: str, baseline_script: str, scripts, refusals: bool = False) -> tuple[dict, dict, float]:
    """Alternating runs of the baseline (the bare view, or the node-locked check) and
    of the scenario, ROUNDS of each: this machine's speed drifts by 10% from one minute
    to the next, so each run is compared with the baseline run just before it, and the
    middle pair stands for the scenario. `scripts(round)` is the scenario's wrk script
    for that round."""
    pairs = []
    for round_ in range(ROUNDS):
        baseline = wrk(base + "/", baseline_script)
        before = transactions()
        result = wrk(base + "/", scripts(round_), refusals=refusals)
        time.sleep(STATS_FLUSH_SECONDS)  # idle server processes report their last commits
        result["transactions"] = (transactions() - before) / result["requests"]
        pairs.append((baseline, result))
    pairs.sort(key=lambda pair: pair[1]["rps"] / pair[0]["rps"])
    baseline, result = pairs[len(pairs) // 2]
    return baseline, result, result["rps"] / baseline["rps"]


LABELS = {
    "warm": "warm: nothing changed since each device's last check",
    "elsewhere": "another customer's entitlement changes 20 times a second",
    "cold": "cold: their entitlement changes 20 times a second, so every chain changed since its last check",
    "uncached": "worker memory off: every check reads its whole chain from the database",
    "activate": "a new device activates with every request",
    "deactivate": "a different device deactivates with every request",
    "floating": "floating: 1,000 devices renewing their slots, against the node-locked warm check",
    "contention": f"floating at the limit: 1,000 devices contending for {CONTENDED_SLOTS} slots",
    "consume-hot": "1,000 devices counting consumption on one metered entitlement, against the warm check",
    "consume-wide": f"1,000 devices counting over {METERED_WIDE} metered entitlements, against the warm check",
}


def main() -> None:
    api_key, shared_key, code, entitlement, grows_codes, shrinks_codes, floats, contends, hot, wide = prepare_database()
    device = f'"hardware_id=bench-hw-" .. (counter % {DEVICES})'
    check_script = lua_script(
        f'"/api/v4/check_license?product=bench&license_key={code}&" .. {device}', api_key, shared_key
    )
    floating_script = lua_script(
        f'"/api/v4/check_license?product=bench&license_key={floats}&hardware_id=float-hw-" .. (counter % {DEVICES})',
        api_key,
        shared_key,
    )
    # Each thread's devices in a random order: which 50 hold the slots changes as they lapse.
    contention_script = lua_script(
        f'"/api/v4/check_license?product=bench&license_key={contends}&hardware_id=contend-hw-" '
        f".. math.random(0, {DEVICES - 1})",
        api_key,
        shared_key,
    )
    baseline_script = lua_script(f'"/bench/baseline?" .. {device}', api_key, shared_key)

    def posting(endpoint: str, codes: str, hardware_id: str, spread: int = SPREAD):
        # The n-th request of a thread uses code n % SPREAD, as the seed licensed the
        # n-th releasable device of each thread.
        key = f'({{"{codes.replace(",", chr(34) + "," + chr(34))}"}})[counter % {spread} + 1]'
        body = (
            f"""'{{"product": "bench", "license_key": "' .. {key} .. '", "hardware_id": "' .. {hardware_id} .. '"}}'"""
        )
        return lua_script(f'"/api/v4/{endpoint}"', api_key, shared_key, body_expression=body)

    scripts = {
        "activate": lambda round_: posting(
            "activate_license", grows_codes, f'"new-{round_}-" .. thread .. "-" .. counter'
        ),
        "deactivate": lambda round_: posting(
            "deactivate_license", shrinks_codes, f'"release-{round_}-" .. thread .. "-" .. counter'
        ),
        "floating": lambda round_: floating_script,
        "contention": lambda round_: contention_script,
        "consume-hot": lambda round_: posting("add_consumption", hot, f'"hot-hw-" .. (counter % {DEVICES})', 1),
        "consume-wide": lambda round_: posting(
            "add_consumption", wide, f'"wide-hw-" .. (counter % {METERED_WIDE})', METERED_WIDE
        ),
    }
    results = {}
    for scenario in SCENARIOS:
        env = {**ENV, "LICENSING_CLIENT_SNAPSHOTS": "false"} if scenario == "uncached" else ENV
        server, base = start_gunicorn(env, WORKERS, ready_path="/bench/baseline")
        churn = None
        try:
            wrk(base + "/", baseline_script)  # warm the workers: connections, code paths
            if scenario in ("warm", "elsewhere", "cold", "floating") or scenario in AGAINST_CHECK:
                warm_up(base, check_script)  # every worker has seen every device: the steady state
            if scenario == "floating":
                warm_up(base, floating_script)
            if scenario in ("elsewhere", "cold"):
                # An entitlement changes 20 times a second: another customer's ("elsewhere",
                # which should leave these chains in memory), or the one every device here
                # uses ("cold": every chain is retired before its device checks again).
                changing = entitlement if scenario == "cold" else "another-customers-entitlement"
                script = CHURN.replace("ENTITLEMENT", repr(changing))
                churn = subprocess.Popen([str(BIN / "python"), "-c", script], env=ENV, start_new_session=True, cwd=ROOT)
            results[scenario] = measure(
                base,
                check_script if scenario in AGAINST_CHECK else baseline_script,
                scripts.get(scenario, lambda round_: check_script),
                refusals=scenario == "contention",
            )
        finally:
            if churn is not None:
                os.killpg(churn.pid, signal.SIGTERM)
            stop(server)

    print(f"\ngunicorn {WORKERS} sync workers, wrk 2 threads x {CONNECTIONS} connections, {DURATION} per run,")
    print(f"{DEVICES} devices checking in turn; {ROUNDS} runs of each, alternating: the median pair is shown")
    print(f"{'':34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'tx/req':>10}")
    for scenario, (baseline, result, ratio) in results.items():
        name = f"check_license, {scenario}"
        if scenario in ("activate", "deactivate"):
            name = scenario
        if scenario.startswith("consume"):
            name = f"add_consumption, {scenario.split('-')[1]}"
        against = "check_license, warm" if scenario in AGAINST_CHECK else "bare view"
        print(f"{against:34}{baseline['rps']:>10.0f}{baseline['p50']:>10.2f}{baseline['p99']:>10.2f}")
        print(
            f"{name:34}{result['rps']:>10.0f}{result['p50']:>10.2f}{result['p99']:>10.2f}"
            f"{result['transactions']:>10.2f}"
        )
        if result["refused"]:
            share = result["refused"] / result["requests"]
            print(f"  {share:.0%} refused (floating_not_available): the slots were taken")
        target = TARGETS[scenario]
        if target is None:
            print(f"  ratio {ratio:.2f} (no target), {LABELS[scenario]}")
            continue
        verdict = "meets" if ratio >= target else "MISSES"
        print(f"  ratio {ratio:.2f} ({verdict} the {target:.0%} target), {LABELS[scenario]}")


if __name__ == "__main__":
    main()
