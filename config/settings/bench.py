"""Settings for `make bench`: production's stack (no debug, PostgreSQL, Redis cache) on
this machine, plus a bare baseline view to compare the client API against."""

from .production import *  # noqa: F403

ROOT_URLCONF = "config.urls_bench"
SECURE_SSL_REDIRECT = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
