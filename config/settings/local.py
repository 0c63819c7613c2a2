"""Settings for `make run`: the embedded default on a developer's machine."""

from .base import *  # noqa: F403
from .base import BASE_DIR, env

# A developer's own overrides; production and tests read only the real environment.
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# Local only: a fixed key is fine here, production refuses to start without its own.
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-dev-only-insecure-key-do-not-use-in-production")
# Webhook receivers on this machine (http://127.0.0.1:...), for trying them out.
LICENSING_WEBHOOK_ALLOW_HTTP = env.bool("LICENSING_WEBHOOK_ALLOW_HTTP", default=True)
LICENSING_WEBHOOK_ALLOW_INTERNAL = env.bool("LICENSING_WEBHOOK_ALLOW_INTERNAL", default=True)
