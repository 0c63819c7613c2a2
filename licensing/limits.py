"""Limits on attempts, counted in the cache: Redis in production, shared by every worker
and every interface; process memory in the embedded default.

`PASSWORD_GUESSES` is the one lockout of a password: a license user's wrong passwords
count against it whether they come through the client API (online or offline) or the
portal's sign-in, and so do a customer contact's. Each attempt is counted before the
password is checked, so that guesses sent in parallel cannot slip past the limit
between a check and a count.

If the cache cannot be reached, attempts are not limited (and a warning is logged):
a cache outage must not stop every sign-in and activation.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


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
        try:
            if cache.add(key, 1, self.window):
                cache.set(f"{key}:ends", time.time() + self.window, self.window)
                return 0
            try:
                count = cache.incr(key)
            except ValueError:  # the window ended between add and incr
                cache.add(key, 1, self.window)
                return 0
            if count <= self.attempts:
                return 0
            ends = cache.get(f"{key}:ends") or time.time() + self.window
        except Exception:
            logger.warning("attempt limit %s not counted: the cache is unavailable", self.name, exc_info=True)
            return 0
        return max(1, round(ends - time.time()))

    def exceeded(self, subject: str) -> bool:
        """Whether the failures counted with `count` have reached the limit."""
        try:
            return (cache.get(self._key(subject)) or 0) >= self.attempts
        except Exception:
            logger.warning("attempt limit %s not read: the cache is unavailable", self.name, exc_info=True)
            return False

    def count(self, subject: str) -> None:
        """Count a failure (for limits that count failures, not attempts)."""
        self.take(subject)

    def reset(self, subject: str) -> None:
        try:
            cache.delete(self._key(subject))
        except Exception:
            logger.warning("attempt limit %s not reset: the cache is unavailable", self.name, exc_info=True)


PASSWORD_GUESSES = Limit(
    "password", attempts=settings.LICENSING_PASSWORD_ATTEMPTS, window=settings.LICENSING_PASSWORD_LOCKOUT_SECONDS
)
