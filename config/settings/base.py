"""Settings shared by every environment, read from the process environment.

The embedded default (no environment at all) is a SQLite file next to the code and no
broker; `DATABASE_URL` and `REDIS_URL` switch to PostgreSQL and Redis.
"""

import datetime
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "licensing",
    "portal",
]

# The client API skips what only the site's pages and the management API use
# (config/middleware.py).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.security.ContentSecurityPolicyMiddleware",
    "config.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "config.middleware.AuthenticationMiddleware",
    "config.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers a locked-out staff sign-in.
    "axes.middleware.AxesMiddleware",
]

# Staff sign-ins to the admin are limited by django-axes: after AXES_FAILURE_LIMIT wrong
# passwords for a username, or from one client address, further attempts are refused
# for AXES_COOLOFF_TIME, the right password included. (Portal accounts and license users
# have their own lockout, licensing/limits.py.)
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "licensing.actors.client_ip"  # REMOTE_ADDR, as everywhere else
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_VERBOSE = False  # its failures are logged; not a banner at every start

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default: request threads and the webhook delivery thread write to one
    # file. Write-ahead logging lets reads go on beside a write; transactions take the
    # write lock when they begin (IMMEDIATE), so one that read first never fails to
    # upgrade ("database is locked"); and a writer waits its turn up to `timeout`
    # seconds instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def redis_cache(url: str) -> dict:
    """Django's cache on the Redis at `url`. A Redis that hangs rather than refuses costs
    a request at most these seconds, after which licensing.limits counts in memory."""
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }


REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = redis_cache(REDIS_URL)
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: Redis when configured; otherwise the in-memory transport of the embedded default.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A broker that is down must not hold up the change that queues a delivery: publishing
# gives up quickly, and the periodic re-queue sends the delivery later (licensing/webhooks.py).
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# ... and a broker that accepts connections but never answers gives up as quickly.
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 2, "socket_connect_timeout": 2}
CELERY_BEAT_SCHEDULE = {
    "requeue-webhook-deliveries": {
        "task": "licensing.tasks.requeue_webhook_deliveries",
        "schedule": env.float("LICENSING_WEBHOOK_REQUEUE_SECONDS", default=30.0),
    },
    # Floating slots free themselves at their end; this announces and tidies them.
    "sweep-floating-slots": {
        "task": "licensing.tasks.sweep_floating_slots",
        "schedule": env.float("LICENSING_FLOATING_SWEEP_SECONDS", default=60.0),
    },
    # Expiry notices, each sent once however often this runs (services/renewals.py).
    "send-expiry-notices": {
        "task": "licensing.tasks.send_expiry_notices",
        "schedule": env.float("LICENSING_EXPIRY_NOTICE_SECONDS", default=600.0),
    },
}
# Without a broker there is no beat: a thread of the web process runs the schedule above
# (config/scheduler.py).
LICENSING_EMBEDDED_SCHEDULER = env.bool("LICENSING_EMBEDDED_SCHEDULER", default=not REDIS_URL)

# Days before an entitlement's end at which `entitlement.expiring` is sent; the portal
# shows "expires in N days" from the first of them on.
LICENSING_EXPIRY_NOTICE_DAYS = env.list("LICENSING_EXPIRY_NOTICE_DAYS", cast=int, default=[30, 7, 1])
# New trial keys one client address may take per window (GET /api/v4/trial_key).
LICENSING_TRIALS_PER_ADDRESS = env.int("LICENSING_TRIALS_PER_ADDRESS", default=10)
LICENSING_TRIALS_WINDOW_SECONDS = env.int("LICENSING_TRIALS_WINDOW_SECONDS", default=3600)

# Webhooks. Without a broker (the embedded default) a thread of the web process delivers
# them. Retry delays in seconds after each failed try: eight tries spread over a day.
LICENSING_WEBHOOKS_INLINE = env.bool("LICENSING_WEBHOOKS_INLINE", default=not REDIS_URL)
LICENSING_WEBHOOK_TIMEOUT = env.float("LICENSING_WEBHOOK_TIMEOUT", default=10.0)
LICENSING_WEBHOOK_RETRY_DELAYS = [
    float(delay)
    for delay in env.list("LICENSING_WEBHOOK_RETRY_DELAYS", default=[60, 300, 900, 3600, 10800, 21600, 43200])
]
# Webhook receivers must be public https URLs. Development and the test suite may allow
# http and internal addresses (loopback, private networks); production never does by
# default: an endpoint at an internal address would let whoever may create endpoints
# reach the server's own network.
LICENSING_WEBHOOK_ALLOW_HTTP = env.bool("LICENSING_WEBHOOK_ALLOW_HTTP", default=False)
LICENSING_WEBHOOK_ALLOW_INTERNAL = env.bool("LICENSING_WEBHOOK_ALLOW_INTERNAL", default=False)
# How long past its due time a pending delivery waits before the re-queue sends it again
# (its queued message is presumed lost).
LICENSING_WEBHOOK_REQUEUE_GRACE = env.float("LICENSING_WEBHOOK_REQUEUE_GRACE", default=60.0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Mail (portal invitations and password resets). Without EMAIL_URL it is printed on the
# console, which is what `make run` wants; production sets e.g. smtp+tls://user:pass@host:587.
# (django-environ's documented way to set the EMAIL_* settings from one URL.)
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="licensing@localhost")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    # Requests per token (management API), counted in the cache, which is Redis in
    # production; and per (API key, client address) (client API), counted in each
    # worker's memory and settled with the cache once a second (licensing/api/client/
    # throttling.py). The client default, 100 a second, is for a customer site behind
    # one NAT: thousands of installations sharing a key and an address may all check in
    # within the same minute (an office starting work), while a client stuck in a loop
    # is held to it.
    "DEFAULT_THROTTLE_RATES": {
        "management": env("LICENSING_MANAGEMENT_RATE", default="1200/minute"),
        "client": env("LICENSING_CLIENT_RATE", default="6000/minute"),
    },
}
# The OpenAPI schema (/api/schema/) and its docs (/api/docs/). Operations are grouped by
# resource: the management API's tags come from licensing/api/management/schema.py
# (RESOURCE_TAGS), the client API's from its views; each tag is described here, in words
# that stand alone (Swagger UI shows them above each group).
SPECTACULAR_SETTINGS = {
    "TITLE": "Licensing server API",
    "DESCRIPTION": (
        "Two APIs.\n\n"
        "**Management API** (`/api/v1/`), for the vendor's billing, CRM and back office. Send "
        "`Authorization: Bearer <token>`, a token made in the admin (*API tokens*) or with "
        "`manage.py create_api_token`; a read-only token reads everything and changes nothing. Bodies and "
        'answers are JSON. Every error is `{"status", "code", "message"}`, plus `errors` (field to '
        "messages) for invalid input. Lists come in pages of 50 (`page_size` up to 100).\n\n"
        "**Client API** (`/api/v4/`), for the vendor's applications: activate, check and deactivate a device's "
        "license, online or with offline request files; floating slots; features and metered consumption; "
        "trial keys. Every request but `public_key` is signed with a client credential's shared key (HMAC-SHA256 "
        "over the `Date` header), and every answer, errors included, is signed by the server (Ed25519, in the "
        "`LicenseSignature` header)."
    ),
    "VERSION": "1.0.0",
    "TAGS": [
        {
            "name": "Customers",
            "description": "The vendor's customers, organizations or persons. Disabling a customer stops every "
            "license it owns at its application's next check; enabling it again restores exactly the earlier "
            "state (an entitlement disabled on its own stays disabled).",
        },
        {
            "name": "Products",
            "description": "What the vendor sells. A product has a short `code` that applications send, an "
            "`authorization_method` (`license_key`: devices activate with an activation code; `user`: with a "
            "license user's username and password) and, optionally, the terms of the trials it offers.",
        },
        {
            "name": "License transactions",
            "description": "Orders from the vendor's billing (`external_id` is the billing's own id). Suspending "
            "an order stops every entitlement it provisioned, and resuming it restores them. The 10Duke-style "
            "paths under `/organizations/` and `/users/` do this by the customer's id and the order's external "
            "id.",
        },
        {
            "name": "Entitlements",
            "description": "What a customer may use: a product, a number of seats, a validity window with an "
            "optional grace period, node-locked or floating, optionally metered. Also: disable and enable, renew "
            "(move the end later), convert a trial into a paid entitlement, the floating slots in use, usage per "
            "meter and its corrections.",
        },
        {
            "name": "Activation codes",
            "description": "The license keys applications activate with, each of one entitlement, optionally "
            "with its own cap on devices. A code is shown in full only in the answer that creates it, masked "
            "everywhere else. Disabling is reversible; revoking is final.",
        },
        {
            "name": "Licenses",
            "description": "One device's activation of an entitlement. Licenses are made by applications "
            "activating; here they are listed, suspended, resumed, revoked, deactivated (which frees the seat at "
            "once) and released from a floating slot.",
        },
        {
            "name": "Devices",
            "description": "The machines the customer's applications run on, by hardware id: one record per "
            "customer and machine, with what the applications report about it (host name, operating system, "
            "versions).",
        },
        {
            "name": "License users",
            "description": "People who activate user-based products with a username (an email address) and a "
            "password, each holding some of its customer's entitlements. Taking an entitlement away from a user "
            "deactivates the user's devices on it.",
        },
        {
            "name": "Features",
            "description": "Product features, modules applications open (`activation`) or units they meter "
            "(`consumption`), and their grants to entitlements, each with a value, an optional expiry and, for "
            "a consumption feature, the terms of its counter. Applications see a change at their next check.",
        },
        {
            "name": "Webhooks",
            "description": "Endpoints that receive events about changes, signed as Standard Webhooks specifies, "
            "and every delivery with its attempts. An endpoint's signing secret is shown only in the answer that "
            "makes it (create, rotate-secret).",
        },
        {
            "name": "Audit",
            "description": "The append-only history of every change: who made it (staff user, API token, client "
            "application, portal user or the system), to what, when, why, and the values before and after.",
        },
        {
            "name": "Client: licenses",
            "description": "The life of a license on a device. Activate once (`activate_license`), check on "
            "start and every `refresh_interval` seconds (`check_license`, which renews the lease), deactivate to "
            "free the seat (`deactivate_license`). Sign every request: a `Date` header (RFC 7231, GMT, within 15 "
            "minutes of the server's clock) and `Authorization: "
            'algorithm="hmac-sha256",headers="date",signature="<S>",apiKey="<api key>"`, where S is the base64 '
            'HMAC-SHA256, keyed with the shared key, of "licenseSpring\\ndate: " followed by the Date value. '
            "Verify every answer, errors included: `LicenseSignature` is an Ed25519 signature of the body bytes, "
            "checked with the key `public_key` returns, and JSON answers carry the request's `nonce` and the "
            '`hardware_id` they are about. Errors are `{"status", "code", "message"}`, plus `reason` '
            "when the license is switched off or out of its validity.",
        },
        {
            "name": "Client: floating",
            "description": "Floating licenses: any number of devices may be activated, but only `floating_seats` "
            "of them run at once. Each activation and check takes or renews the device's slot until "
            "`floating_until`; with every slot taken the answer is `floating_not_available` with `next_slot_at`. "
            "Release the slot on exit, or borrow it to work offline until a time of your choosing.",
        },
        {
            "name": "Client: features and consumption",
            "description": "Features granted to a license (also listed in every license body as `features` and "
            "`product_features`), and metered consumption: counts on the entitlement's own meter or a "
            "consumption feature's, atomic, within a limit per period. Send a fresh `request_id` with each count "
            "and the same one to retry: a repeat counts nothing and gets the first answer.",
        },
        {
            "name": "Client: offline",
            "description": "Activation and deactivation of machines that never reach the server. The "
            "application saves a request file (base64 of signed JSON); someone posts it here, as the body or as "
            "the `file` part of a form, and carries back a signed license file (or the text "
            "`license_deactivated`). The same request file always gets the same answer.",
        },
        {
            "name": "Client: trials",
            "description": "Trial keys the application asks for itself, for products that offer trials: one "
            "trial per machine and per email address, answered with the same key when asked again, also after "
            "it ended. Activate with the key as with any other.",
        },
    ],
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from this server's static files, not a CDN: docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "SwitchStatusEnum": "licensing.models.Customer.Status",  # customers and entitlements
        "TransactionStatusEnum": "licensing.models.LicenseTransaction.Status",
        "ActivationCodeStatusEnum": "licensing.models.ActivationCode.Status",
        "LicenseStatusEnum": "licensing.models.License.Status",
        "ProductAuthorizationMethodEnum": "licensing.models.Product.AuthorizationMethod",
        "LicenseModelEnum": "licensing.models.Entitlement.LicenseModel",
        "ResetPeriodEnum": "licensing.models.ResetPeriod",
        "FeatureTypeEnum": "licensing.models.ProductFeature.FeatureType",
        "RenewalStartEnum": "licensing.services.renewals.RENEWAL_STARTS",
    },
}

# Ed25519 private key (PEM) that signs client answers and license files. Empty: one is
# generated on first use and kept, encrypted, in the database.
LICENSING_SIGNING_KEY = env("LICENSING_SIGNING_KEY", default="")

# Client checks answer from worker memory while nothing changed (licensing/snapshots.py).
LICENSING_CLIENT_SNAPSHOTS = env.bool("LICENSING_CLIENT_SNAPSHOTS", default=True)
LICENSING_SNAPSHOT_MAX_SECONDS = env.float("LICENSING_SNAPSHOT_MAX_SECONDS", default=300.0)
# Client check-ins are written in bulk at most this often per worker (seconds); see
# licensing/snapshots.py. 0 writes each check-in at once.
LICENSING_CHECKIN_FLUSH_SECONDS = env.float("LICENSING_CHECKIN_FLUSH_SECONDS", default=1.0)

# A password's lockout (a license user's, a customer contact's): this many attempts per
# address within the window, counted together by the client API and the portal.
LICENSING_PASSWORD_ATTEMPTS = env.int("LICENSING_PASSWORD_ATTEMPTS", default=5)
LICENSING_PASSWORD_LOCKOUT_SECONDS = env.int("LICENSING_PASSWORD_LOCKOUT_SECONDS", default=15 * 60)

# How old an offline request file may be when it is posted.
LICENSING_OFFLINE_REQUEST_MAX_AGE = datetime.timedelta(
    days=env.int("LICENSING_OFFLINE_REQUEST_MAX_AGE_DAYS", default=7)
)

# Key for encrypting client-credential shared keys at rest. Locally it may be derived from
# SECRET_KEY; production requires its own so that SECRET_KEY can rotate without making
# every stored shared key unreadable.
LICENSING_SECRETS_KEY = env("LICENSING_SECRETS_KEY", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}
