"""Production settings: nothing secret or environment-specific has a default here."""

from .base import *  # noqa: F403
from .base import env, redis_cache

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
LICENSING_SECRETS_KEY = env("LICENSING_SECRETS_KEY")
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# A health check is a `SELECT 1` round trip, and a transaction, before each request's
# first query: off by default. Without it, after the database restarts each web worker
# fails one request on its stale connection (a 500, which clients retry) and reconnects.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_HEALTH_CHECKS", default=False)
# Server-side parameter binding: parameters travel apart from the SQL text, so psycopg
# does not rebuild long queries in Python on every call, and statements a connection
# repeats are prepared (planned once). Behind a pooler in transaction mode that cannot
# keep prepared statements (PgBouncer before 1.21), set DATABASE_PREPARED_STATEMENTS=false.
DATABASES["default"]["OPTIONS"] = {
    "server_side_binding": True,
    "prepare_threshold": 5 if env.bool("DATABASE_PREPARED_STATEMENTS", default=True) else None,
}
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")

REDIS_URL = env("REDIS_URL")
CACHES = redis_cache(REDIS_URL)
CELERY_BROKER_URL = REDIS_URL

# Webhook receivers: public https URLs only, whatever the environment says otherwise.
LICENSING_WEBHOOK_ALLOW_HTTP = env.bool("LICENSING_WEBHOOK_ALLOW_HTTP", default=False)
LICENSING_WEBHOOK_ALLOW_INTERNAL = env.bool("LICENSING_WEBHOOK_ALLOW_INTERNAL", default=False)

# Behind a TLS-terminating load balancer that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
