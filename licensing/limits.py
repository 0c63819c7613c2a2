"""Limits on attempts, counted in the cache: Redis in production, shared by every worker
and every interface; process memory in the embedded default.

`PASSWORD_GUESSES` is the one lockout of a password: a license user's wrong passwords
count against it whether they come through the client API (online or offline) or the
portal's sign-in, and so do a customer contact's. Each attempt is counted before the
password is checked, so that guesses sent in parallel cannot slip past the limit
between a check and a count.

If the shared cache cannot be reached, each process counts in its own memory until it
can again (`fallback_cache`, with a warning in the log): limits hold per process for a
while, and a cache outage stops no sign-in, activation or API request.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache

logger = logging.getLogger(__name__)


class FallbackCache:
    """The shared cache, or this process's memory while the shared cache cannot be
    reached. After a failure the shared cache is left alone for RETRY_SECONDS, so an
    outage costs no timeout per request; counts kept meanwhile stay in this process."""

    RETRY_SECONDS = 5.0

    def __init__(self) -> None:
        self._local = LocMemCache("licensing-fallback", {"OPTIONS": {"MAX_ENTRIES": 100_000}})
        self._down_until = 0.0
        self._lock = threading.Lock()

    def _call(self, method: str, *args: Any) -> Any:
        if time.monotonic() >= self._down_until:
            try:
                return getattr(cache, method)(*args)
            except (ValueError, TypeError):  # the cache's own answers (incr of a missing key)
                raise
            except Exception:
                with self._lock:
                    if time.monotonic() >= self._down_until:
                        logger.warning("the shared cache is unavailable: counting in this process", exc_info=True)
                    self._down_until = time.monotonic() + self.RETRY_SECONDS
        return getattr(self._local, method)(*args)

    def get(self, key: str, default: Any = None) -> Any:
        return self._call("get", key, default)

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        self._call("set", key, value, timeout)

    def add(self, key: str, value: Any, timeout: float | None = None) -> bool:
        return self._call("add", key, value, timeout)

    def incr(self, key: str, delta: int = 1) -> int:
        return self._call("incr", key, delta)

    def delete(self, key: str) -> bool:
        return self._call("delete", key)


fallback_cache = FallbackCache()


@dataclass(frozen=True)
class Limit:
    name: str
    attempts: int
    window: int  # seconds, from the first attempt of a window

    def _key(self, subject: str) -> str:
        # Hashed: cache keys must be short and plain, and the cache need not hold addresses.
        digest = hashlib.sha256(subject.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"limit:{self.name}:{digest}"

    def take(self, subject: str) -> int:
        """Count an attempt. 0 if it may go ahead; else the seconds until it may."""
        key = self._key(subject)
        if fallback_cache.add(key, 1, self.window):
            fallback_cache.set(f"{key}:ends", time.time() + self.window, self.window)
            return 0
        try:
            count = fallback_cache.incr(key)
        except ValueError:  # the window ended between add and incr
            fallback_cache.add(key, 1, self.window)
            return 0
        if count <= self.attempts:
            return 0
        ends = fallback_cache.get(f"{key}:ends") or time.time() + self.window
        return max(1, round(ends - time.time()))

    def exceeded(self, subject: str) -> bool:
        """Whether the failures counted with `count` have reached the limit."""
        return (fallback_cache.get(self._key(subject)) or 0) >= self.attempts

    def count(self, subject: str) -> None:
        """Count a failure (for limits that count failures, not attempts)."""
        self.take(subject)

    def reset(self, subject: str) -> None:
        fallback_cache.delete(self._key(subject))


PASSWORD_GUESSES = Limit(
    "password", attempts=settings.LICENSING_PASSWORD_ATTEMPTS, window=settings.LICENSING_PASSWORD_LOCKOUT_SECONDS
)
