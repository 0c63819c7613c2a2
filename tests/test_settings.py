"""Production settings, checked in a fresh interpreter the way a deployment starts them.

Each test runs `manage.py check` in a subprocess: settings are read once per process, so the
only honest way to see what production does with a given environment is to start one.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# Everything a deployment must provide except the secret keys, pointing at the local services.
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
    "DJANGO_ALLOWED_HOSTS": "licensing.example.com",
}


def _clean_environ() -> dict[str, str]:
    # The pytest process sets DJANGO_SETTINGS_MODULE, and a developer's shell may carry other
    # DJANGO_* switches or service URLs; none of them belongs to the deployment under test.
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DJANGO_") and key not in {"DATABASE_URL", "REDIS_URL", "LICENSING_SECRETS_KEY"}
    }


def _deployment_env() -> dict[str, str]:
    """A complete production environment, strong secrets included."""
    secrets_env = {"DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "LICENSING_SECRETS_KEY": secrets.token_urlsafe(32)}
    return _clean_environ() | PRODUCTION_ENV | secrets_env


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_refuse_to_start_without_secret_key():
    env = _clean_environ() | PRODUCTION_ENV | {"LICENSING_SECRETS_KEY": secrets.token_urlsafe(32)}

    result = _manage("check", env=env)

    assert result.returncode != 0, result.stdout + result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_settings_refuse_to_start_without_their_own_secrets_key():
    """Client shared keys must not hang on DJANGO_SECRET_KEY in production."""
    env = _clean_environ() | PRODUCTION_ENV | {"DJANGO_SECRET_KEY": secrets.token_urlsafe(50)}

    result = _manage("check", env=env)

    assert result.returncode != 0, result.stdout + result.stderr
    assert "LICENSING_SECRETS_KEY" in result.stderr


def test_production_settings_pass_deploy_checks_with_a_strong_secret_key():
    env = _deployment_env()

    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)

    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_never_allow_webhooks_to_internal_addresses_or_http_by_default():
    env = _deployment_env()
    code = (
        "from django.conf import settings; "
        "print(settings.LICENSING_WEBHOOK_ALLOW_INTERNAL, settings.LICENSING_WEBHOOK_ALLOW_HTTP)"
    )

    result = _manage("shell", "-v", "0", "-c", code, env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_production_reuses_connections_without_a_round_trip_per_request_unless_asked():
    """A health check is one more statement, and transaction, before every request's
    first query; it is the deployment's choice."""
    env = _deployment_env()
    code = (
        "from django.conf import settings; d = settings.DATABASES['default']; "
        "print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
    )

    by_default = _manage("shell", "-v", "0", "-c", code, env=env)
    asked = _manage("shell", "-v", "0", "-c", code, env=env | {"DATABASE_HEALTH_CHECKS": "true"})

    assert by_default.stdout.split() == ["60", "False"], by_default.stderr
    assert asked.stdout.split() == ["60", "True"], asked.stderr
