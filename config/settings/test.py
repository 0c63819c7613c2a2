"""Settings for the test suite: the local PostgreSQL and Redis, over real connections."""

from .base import *  # noqa: F403
from .base import env, redis_cache

SECRET_KEY = "test-only-secret-key"
DEBUG = False
DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/licensing"),
}
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/15")
CACHES = redis_cache(REDIS_URL)
CELERY_BROKER_URL = REDIS_URL
# Webhooks go through that broker to real workers the tests start; the one test of the
# embedded default turns its delivery thread on by itself.
LICENSING_WEBHOOKS_INLINE = False
# The suite's receivers listen on 127.0.0.1; the tests of the address checks turn this off.
LICENSING_WEBHOOK_ALLOW_HTTP = True
LICENSING_WEBHOOK_ALLOW_INTERNAL = True
# Check-ins written at once, so tests see them without waiting for a flush.
LICENSING_CHECKIN_FLUSH_SECONDS = 0
# Fast hashing: the suite creates many users; production keeps Django's default hasher.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The suite runs with production's connection options (see production.py).
DATABASES["default"]["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 5}
# Periodic tasks run when a test calls them (the embedded default's own test starts them).
LICENSING_EMBEDDED_SCHEDULER = False
