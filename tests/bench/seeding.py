"""A licensing database at scale for `make bench-scale`, filled in set-based SQL.

`seed(cursor, licenses=1_000_000)` fills an empty, migrated PostgreSQL database with what
a vendor selling to 100,000 customers has after two years: per 1,000,000 licenses,
100,000 customers, 200,000 entitlements over five products (two per customer, one
activation code each), 1,000,000 devices, 50,000 license users, a few thousand license
transactions and 1,300,000 audit events. Every count is in proportion to `licenses`.

Rows are numbered, and each id is the md5 of its kind and number, so every reference is
computed from numbers and no insert joins another table, except the audit events, which
read the rows they describe. What varies from row to row (ages, statuses) comes from
md5 as well: the same `licenses` always gives the same data, dated back from when it
runs. The seat counts of entitlements and activation codes (`seats_used`) are set from
the licenses at the end.

`credentials()` adds what a run signs in with, through the project's own code (needs
Django set up on the same database).
"""

from __future__ import annotations

import time

PRODUCTS = [
    ("studio", "Studio Desktop"),
    ("studio-pro", "Studio Pro"),
    ("render", "Render Node"),
    ("sync", "Cloud Sync"),
    ("analytics", "Analytics Suite"),
]
# licensing.models.entitlements' (importing it needs Django set up).
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LICENSES_PER_CUSTOMER = 10
LICENSES_PER_USER = 20
SUPERUSER = "scale-admin"
SUPERUSER_PASSWORD = "scale-admin"  # a local scratch database's


def _uuid(kind: str, number: str) -> str:
    return f"md5('{kind}-' || ({number}))::uuid"


def _fraction(salt: str, number: str) -> str:
    """A number in [0, 1) that looks random, the same for the same salt and number."""
    return f"(('x' || substr(md5('{salt}-' || ({number})), 1, 8))::bit(32)::bigint / 4294967296.0)"


def _pick(values: list[str], index: str) -> str:
    array = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return f"(ARRAY[{array}])[1 + ({index}) % {len(values)}]"


ORGANIZATIONS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Soylent", "Cyberdyne"]
SUFFIXES = ["Labs", "Systems", "GmbH", "Industries", "Studio", "Group", "Partners", "Works"]
FIRST_NAMES = ["Rosa", "Jane", "Ahmed", "Mei", "Olga", "Tom", "Priya", "Luis", "Sara", "Kenji"]
LAST_NAMES = ["Martínez", "Doe", "Khan", "Chen", "Ivanova", "Berg", "Patel", "Silva", "Nilsson", "Sato"]


def customer_name(n: str) -> str:
    """Every fifth customer is a person; names repeat, as real ones do, with the number."""
    return (
        f"CASE WHEN ({n}) % 5 = 0 THEN {_pick(FIRST_NAMES, n)} || ' ' || {_pick(LAST_NAMES, f'({n}) / 10')}"
        f" ELSE {_pick(ORGANIZATIONS, n)} || ' ' || {_pick(SUFFIXES, f'({n}) / 10')} END || ' ' || ({n})"
    )


def seed(cursor, *, licenses: int) -> dict[str, float]:
    """Fill the empty, migrated database behind `cursor` with `licenses` licenses and all
    that goes with them. On an autocommit connection each step commits; otherwise the
    caller commits. Returns the seconds each step took."""
    customers = max(1, licenses // LICENSES_PER_CUSTOMER)
    entitlements = 2 * customers
    users = licenses // LICENSES_PER_USER
    steps: dict[str, float] = {}
    columns = _columns(cursor)

    def run(step: str, sql: str) -> None:
        started = time.monotonic()
        cursor.execute(sql)
        steps[step] = steps.get(step, 0.0) + time.monotonic() - started

    # Enough memory for the audit trail's joins to hash in memory.
    cursor.execute("SET work_mem = '256MB'")
    cursor.execute("SET synchronous_commit = off")

    # When customer n joined: one after another over the two years up to now.
    def customer_joined(n: str) -> str:
        return f"(now() - interval '730 days' * (({customers} - ({n}) + 0.5) / {customers}::float8))"

    # An entitlement: the odd one when its customer joined, the even one a while later.
    def entitlement_created(e: str) -> str:
        joined = customer_joined(f"(({e}) + 1) / 2")
        return f"({joined} + (now() - {joined}) * CASE WHEN ({e}) % 2 = 0 THEN 0.25 ELSE 0 END)"

    # License l is device l's, on entitlement ((l - 1) mod entitlements) + 1.
    def license_entitlement(n: str) -> str:
        return f"((({n}) - 1) % {entitlements} + 1)"

    def activated(n: str) -> str:
        created = entitlement_created(license_entitlement(n))
        return f"({created} + (now() - {created}) * {_fraction('activated', n)})"

    _check_columns(
        columns,
        {
            "licensing_product": PRODUCT_COLUMNS,
            "licensing_customer": CUSTOMER_COLUMNS,
            "licensing_licensetransaction": TRANSACTION_COLUMNS,
            "licensing_entitlement": ENTITLEMENT_COLUMNS,
            "licensing_activationcode": CODE_COLUMNS,
            "licensing_device": DEVICE_COLUMNS,
            "licensing_license": LICENSE_COLUMNS,
            "licensing_licenseuser": USER_COLUMNS,
            "licensing_auditevent": AUDIT_COLUMNS,
        },
    )
    products = ", ".join(f"({n}, '{code}', '{name}')" for n, (code, name) in enumerate(PRODUCTS, start=1))
    run(
        "products",
        f"""
        INSERT INTO licensing_product ({", ".join(PRODUCT_COLUMNS)})
        SELECT {_uuid("product", "n")}, now() - interval '800 days', now() - interval '800 days',
               code, name, 'license_key', false, 14, 1
        FROM (VALUES {products}) AS p (n, code, name)
        """,
    )
    # One customer in 97 disabled.
    run(
        "customers",
        f"""
        INSERT INTO licensing_customer ({", ".join(CUSTOMER_COLUMNS)})
        SELECT {_uuid("customer", "n")}, joined, joined + (now() - joined) * 0.1,
               CASE WHEN disabled THEN 'Unpaid invoice' ELSE '' END,
               CASE WHEN disabled THEN joined + (now() - joined) * 0.5 END,
               {customer_name("n")},
               CASE WHEN n % 5 = 0 THEN 'person' ELSE 'organization' END,
               CASE WHEN n % 5 = 0 THEN 'person-' || n || '@example.com' ELSE 'it@customer-' || n || '.example' END,
               'CRM-' || lpad(n::text, 7, '0'),
               CASE WHEN disabled THEN 'disabled' ELSE 'active' END
        FROM (SELECT n, {customer_joined("n")} AS joined, n % 97 = 0 AS disabled
              FROM generate_series(1, {customers}) AS n OFFSET 0) AS c
        """,
    )
    # Every 30th customer bought through an order of the vendor's billing; one order in 11 suspended.
    run(
        "transactions",
        f"""
        INSERT INTO licensing_licensetransaction ({", ".join(TRANSACTION_COLUMNS)})
        SELECT {_uuid("transaction", "n")}, joined, joined,
               CASE WHEN suspended THEN 'Chargeback' ELSE '' END,
               CASE WHEN suspended THEN joined + (now() - joined) * 0.5 END,
               'ORDER-' || lpad(n::text, 7, '0'), joined,
               CASE WHEN suspended THEN 'suspended' ELSE 'active' END,
               {_uuid("customer", "n")}
        FROM (SELECT n, {customer_joined("n")} AS joined, n % 11 = 0 AS suspended
              FROM generate_series(30, {customers}, 30) AS n OFFSET 0) AS t
        """,
    )
    # Two per customer over the products; one in 89 disabled, one in 31 expired, a third
    # with an end date to come, the others perpetual.
    run(
        "entitlements",
        f"""
        INSERT INTO licensing_entitlement ({", ".join(ENTITLEMENT_COLUMNS)})
        SELECT {_uuid("entitlement", "e")}, created, created,
               CASE WHEN disabled THEN 'Contract ended' ELSE '' END,
               CASE WHEN disabled THEN created + (now() - created) * 0.5 END,
               10, created,
               CASE WHEN e % 31 = 0 THEN created + (now() - created) * 0.5
                    WHEN e % 3 = 0 THEN now() + interval '1 day' * (30 + e % 700) END,
               '[]'::jsonb,
               interval '1 day', interval '7 days',
               CASE WHEN disabled THEN 'disabled' ELSE 'active' END,
               {_uuid("customer", "(e + 1) / 2")},
               CASE WHEN (e + 1) / 2 % 30 = 0 THEN {_uuid("transaction", "(e + 1) / 2")} END,
               {_uuid("product", f"(e - 1) % {len(PRODUCTS)} + 1")}, 0,
               'node_locked', NULL, 600, 0, NULL, false, NULL, 'never', false, interval '0', false
        FROM (SELECT e, {entitlement_created("e")} AS created, e % 89 = 0 AS disabled
              FROM generate_series(1, {entitlements}) AS e OFFSET 0) AS en
        """,
    )
    # One code per entitlement, 80 bits of md5 in the model's alphabet and groups.
    letters = " || ".join(
        f"substr('{CODE_ALPHABET}', get_byte(h, {i}) % 32 + 1, 1)" + (" || '-'" if i in (3, 7, 11) else "")
        for i in range(16)
    )
    run(
        "activation codes",
        f"""
        INSERT INTO licensing_activationcode ({", ".join(CODE_COLUMNS)})
        SELECT {_uuid("code", "e")}, created, created,
               CASE WHEN e % 71 = 0 THEN 'Leaked' WHEN e % 53 = 0 THEN 'On hold' ELSE '' END,
               CASE WHEN e % 71 = 0 OR e % 53 = 0 THEN created + (now() - created) * 0.5 END,
               {letters}, NULL,
               CASE WHEN e % 71 = 0 THEN 'revoked' WHEN e % 53 = 0 THEN 'disabled' ELSE 'active' END,
               {_uuid("entitlement", "e")}, 0
        FROM (SELECT e, {entitlement_created("e")} AS created, decode(md5('code-key-' || e), 'hex') AS h
              FROM generate_series(1, {entitlements}) AS e OFFSET 0) AS c
        """,
    )
    hostname = f"{_pick(['ws', 'laptop', 'build', 'render', 'dev'], 'n')} || '-' || substr(md5('host-' || n), 1, 6)"
    mac = "substr(m, 1, 2) || ':' || substr(m, 3, 2) || ':' || substr(m, 5, 2) || ':' || substr(m, 7, 2)"
    run(
        "devices",
        f"""
        INSERT INTO licensing_device ({", ".join(DEVICE_COLUMNS)})
        SELECT {_uuid("device", "n")}, activated, activated,
               md5('hardware-' || n), {hostname},
               {_pick(["Windows 11", "Windows 10", "macOS 14.5", "Ubuntu 22.04"], "n / 3")},
               n % 10 = 0, CASE WHEN n % 10 = 0 THEN 'VMware' ELSE '' END,
               '02:00:' || {mac},
               ('10.' || (n >> 16) % 256 || '.' || (n >> 8) % 256 || '.' || n % 256)::inet,
               '5.' || n % 4 || '.' || n % 10, '7.2.0',
               {_uuid("customer", f"({license_entitlement('n')} + 1) / 2")}
        FROM (SELECT n, {activated("n")} AS activated, md5('mac-' || n) AS m
              FROM generate_series(1, {licenses}) AS n OFFSET 0) AS d
        """,
    )
    # 90% active, 4% suspended, 4% deactivated, 2% revoked; active ones checked in within
    # the last 30 days, the others last when their status changed.
    run(
        "licenses",
        f"""
        INSERT INTO licensing_license ({", ".join(LICENSE_COLUMNS)})
        SELECT {_uuid("license", "n")}, activated, coalesce(changed, checked),
               CASE status WHEN 'suspended' THEN 'Under review' WHEN 'revoked' THEN 'Refunded'
                           WHEN 'deactivated' THEN 'Seat released by the client' ELSE '' END,
               changed, status, activated,
               CASE WHEN status = 'deactivated' THEN changed END,
               checked + interval '1 day', checked,
               {_uuid("code", "e")}, {_uuid("device", "n")}, {_uuid("entitlement", "e")}, NULL, activated
        FROM (SELECT *, coalesce(changed, greatest(activated, now() - interval '30 days' * r)) AS checked
              FROM (SELECT *, CASE WHEN status <> 'active' THEN activated + (now() - activated) * r END AS changed
                    FROM (SELECT n, e, activated, {_fraction("checked", "n")} AS r,
                                 CASE WHEN s < 0.90 THEN 'active' WHEN s < 0.94 THEN 'suspended'
                                      WHEN s < 0.98 THEN 'deactivated' ELSE 'revoked' END AS status
                          FROM (SELECT n, {license_entitlement("n")} AS e, {activated("n")} AS activated,
                                       {_fraction("status", "n")} AS s
                                FROM generate_series(1, {licenses}) AS n OFFSET 0) AS a OFFSET 0) AS b
                    OFFSET 0) AS c OFFSET 0) AS l
        """,
    )
    # Who may activate user-based products; none is assigned one here.
    run(
        "license users",
        f"""
        INSERT INTO licensing_licenseuser ({", ".join(USER_COLUMNS)})
        SELECT {_uuid("license-user", "n")}, joined, joined,
               'user-' || n || '@customer-' || c || '.example', 'User ' || n,
               '!' || substr(md5('password-' || n), 1, 40), {_uuid("customer", "c")},
               CASE WHEN n % 3 = 0 THEN joined + (now() - joined) * 0.9 END
        FROM (SELECT n, c, {customer_joined("c")} AS joined
              FROM (SELECT n, (n * 7 - 1) % {customers} + 1 AS c FROM generate_series(1, {users}) AS n) AS u
              OFFSET 0) AS u
        """,
    )
    _audit(run)
    for table in ("licensing_activationcode", "licensing_entitlement"):
        key = "entitlement_id" if table == "licensing_entitlement" else "activation_code_id"
        run(
            "seats used",
            f"""
            UPDATE {table} AS t SET seats_used = held.n
            FROM (SELECT {key} AS id, count(*) AS n FROM licensing_license
                  WHERE status IN ('active', 'suspended') GROUP BY {key}) AS held
            WHERE held.id = t.id
            """,
        )
    cursor.execute("RESET work_mem")
    cursor.execute("RESET synchronous_commit")
    run("analyze", "ANALYZE")
    return steps


BILLING = "'api_token', md5('token-billing')::uuid::text, 'Billing sync', '10.200.0.5'::inet"
SUPPORT = "'staff', '7', 'support', '10.200.1.17'::inet"
CLIENT = "'client', md5('credential-desktop')::uuid::text, 'Desktop client'"


def _audit(run) -> None:
    """One event per license (its activation, or the change that ended or paused it), one
    per customer and one per entitlement (its creation, or its disabling), at the time
    each happened: 1.3 per license, over the two years."""
    insert = f"INSERT INTO licensing_auditevent ({', '.join(AUDIT_COLUMNS)})"
    run(
        "audit events",
        f"""
        {insert}
        SELECT md5('audit-' || l.id)::uuid, coalesce(l.status_changed_at, l.activated_at),
               {_actor("l.status IN ('active', 'deactivated')", f"{CLIENT}, d.ip", SUPPORT)},
               'license.' || CASE l.status WHEN 'active' THEN 'activated' ELSE l.status END,
               'licensing.license', l.id,
               left(coalesce(nullif(d.hostname, ''), d.hardware_id) || ' on ' || p.name || ' for ' || c.name, 200),
               l.status_reason,
               CASE WHEN l.status = 'active' THEN '{{}}'::jsonb ELSE '{{"status": "active"}}'::jsonb END,
               jsonb_build_object('status', l.status)
        FROM licensing_license AS l
        JOIN licensing_device AS d ON d.id = l.device_id
        JOIN licensing_entitlement AS e ON e.id = l.entitlement_id
        JOIN licensing_product AS p ON p.id = e.product_id
        JOIN licensing_customer AS c ON c.id = e.customer_id
        """,
    )
    for table, action, label in (
        ("licensing_customer", "customer", "t.name"),
        ("licensing_entitlement", "entitlement", "p.name || ' for ' || c.name"),
    ):
        join = (
            "JOIN licensing_product AS p ON p.id = t.product_id JOIN licensing_customer AS c ON c.id = t.customer_id"
            if action == "entitlement"
            else ""
        )
        run(
            "audit events",
            f"""
            {insert}
            SELECT md5('audit-' || t.id)::uuid, coalesce(t.status_changed_at, t.created_at),
                   {_actor("t.status = 'active'", BILLING, SUPPORT)},
                   '{action}.' || CASE t.status WHEN 'active' THEN 'created' ELSE t.status END,
                   'licensing.{action}', t.id, left({label}, 200), t.status_reason,
                   CASE WHEN t.status = 'active' THEN '{{}}'::jsonb ELSE '{{"status": "active"}}'::jsonb END,
                   jsonb_build_object('status', t.status)
            FROM {table} AS t {join}
            """,
        )


def _actor(condition: str, then: str, otherwise: str) -> str:
    """The four actor columns (type, id, label, ip): `then`'s where `condition` holds."""
    parts = zip(_split(then), _split(otherwise), strict=True)
    return ", ".join(f"CASE WHEN {condition} THEN {a} ELSE {b} END" for a, b in parts)


def _split(actor: str) -> list[str]:
    return [part.strip() for part in actor.split(", ")]


# What each insert fills. Django's defaults are not the database's: every NOT NULL column
# is given a value. A required column not listed here (a later migration's) stops the
# seeding before it starts (`_check_columns`).
PUBLIC = ["id", "created_at", "updated_at"]
SWITCHED = [*PUBLIC, "status_reason", "status_changed_at"]
PRODUCT_COLUMNS = [*PUBLIC, "code", "name", "authorization_method", "trial_allowed", "trial_duration", "trial_seats"]
CUSTOMER_COLUMNS = [*SWITCHED, "name", "kind", "email", "external_id", "status"]
TRANSACTION_COLUMNS = [*SWITCHED, "external_id", "processed_at", "status", "customer_id"]
ENTITLEMENT_COLUMNS = [
    *SWITCHED,
    "seats",
    "valid_from",
    "valid_until",
    "feature_terms",
    "lease_period",
    "offline_grace",
    "status",
    "customer_id",
    "transaction_id",
    "product_id",
    "seats_used",
    "license_model",
    "max_activations",
    "floating_timeout",
    "max_borrow_time",
    "max_consumptions",
    "allow_overages",
    "max_overages",
    "reset_period",
    "allow_negative_consumptions",
    "grace_period",
    "is_trial",
]
CODE_COLUMNS = [*SWITCHED, "code", "max_activations", "status", "entitlement_id", "seats_used"]
DEVICE_COLUMNS = [
    *PUBLIC,
    "hardware_id",
    "hostname",
    "os_ver",
    "is_vm",
    "vm_info",
    "mac_address",
    "ip",
    "app_ver",
    "sdk_ver",
    "customer_id",
]
LICENSE_COLUMNS = [
    *SWITCHED,
    "status",
    "activated_at",
    "deactivated_at",
    "lease_expires_at",
    "last_check_in_at",
    "activation_code_id",
    "device_id",
    "entitlement_id",
    "license_user_id",
    "client_signed_at",
]
USER_COLUMNS = [*PUBLIC, "username", "name", "password", "customer_id", "last_login"]
AUDIT_COLUMNS = [
    "id",
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "ip",
    "action",
    "target_type",
    "target_id",
    "target_repr",
    "reason",
    "before",
    "after",
]


def _columns(cursor) -> dict[str, dict[str, bool]]:
    """Each licensing table's columns: whether the database requires a value for it (NOT
    NULL without a default of its own)."""
    cursor.execute(
        """
        SELECT table_name, column_name, is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'
        FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name LIKE 'licensing\\_%'
        """
    )
    columns: dict[str, dict[str, bool]] = {}
    for table, column, required in cursor.fetchall():
        columns.setdefault(table, {})[column] = required
    return columns


def _check_columns(columns: dict[str, dict[str, bool]], given: dict[str, list[str]]) -> None:
    """Refuse to start if a table has a required column this file does not fill: a
    migration newer than this file, which must learn the column's value."""
    missing = [
        f"{table}.{column}"
        for table, names in given.items()
        for column, required in columns[table].items()
        if required and column not in names
    ]
    if missing:
        raise RuntimeError(f"tests/bench/seeding.py gives no value for these NOT NULL columns: {', '.join(missing)}")


def credentials() -> dict[str, str]:
    """The superuser the admin pages are read as, a read-only management API token and a
    client credential, made as the project makes them (Django must be set up on the
    seeded database). A token and a credential are shown only when made, so every run
    makes its own."""
    from django.contrib.auth.models import User

    from licensing import services
    from licensing.actors import Actor

    user, created = User.objects.get_or_create(
        username=SUPERUSER, defaults={"is_staff": True, "is_superuser": True, "email": "scale-admin@localhost"}
    )
    if created:
        user.set_password(SUPERUSER_PASSWORD)
        user.save()
    actor = Actor.system("bench-scale")
    _, token = services.api_token_create(name="bench-scale", read_only=True, actor=actor)
    credential, shared_key = services.client_credential_create(name="bench-scale", actor=actor)
    return {"token": token, "api_key": credential.api_key, "shared_key": shared_key}
