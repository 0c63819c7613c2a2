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
    reached. While it is down, one caller every RETRY_SECONDS tries it again and the
    others go straight to memory, so a Redis that hangs rather than refuses costs one
    request its socket timeout, not every request. Counts kept meanwhile stay in this
    process; a warning is logged when the outage starts and a line when it ends."""

    RETRY_SECONDS = 5.0

    def __init__(self) -> None:
        self._local = LocMemCache("licensing-fallback", {"OPTIONS": {"MAX_ENTRIES": 100_000}})
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget the outage and what was counted during it (tests start afresh)."""
        with self._lock:
            self._down = False
            self._retry_at = 0.0
            self._local.clear()

    def _call(self, method: str, *args: Any) -> Any:
        if self._may_try_shared():
            try:
                answer = getattr(cache, method)(*args)
            except (ValueError, TypeError):  # the cache's own answers (incr of a missing key)
                self._answered()
                raise
            except Exception:
                self._went_down()
            else:
                self._answered()
                return answer
        return getattr(self._local, method)(*args)

    def _may_try_shared(self) -> bool:
        with self._lock:
            if not self._down:
                return True
            now = time.monotonic()
            if now < self._retry_at:
                return False
            self._retry_at = now + self.RETRY_SECONDS  # this caller tries; the others wait for its word
            return True

    def _went_down(self) -> None:
        with self._lock:
            first = not self._down
            self._down, self._retry_at = True, time.monotonic() + self.RETRY_SECONDS
        if first:
            logger.warning("the shared cache is unavailable: counting in this process", exc_info=True)

    def _answered(self) -> None:
        if self._down:  # read without the lock: the common case costs nothing
            with self._lock:
                recovered, self._down = self._down, False
            if recovered:
                logger.warning("the shared cache answers again: counting there")

    def get(self, key: str, default: Any = None) -> Any:
        return self._call("get", key, default)

    def set(self, key: str, value: Any, timeout: float | None) -> None:
        self._call("set", key, value, timeout)

    def add(self, key: str, value: Any, timeout: float | None) -> bool:
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
