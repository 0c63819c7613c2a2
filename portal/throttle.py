"""Limits on failed sign-ins and on password mails, counted in the cache (Redis in
production, shared by every web worker; process memory in the embedded default).

Counting per address stops guessing one account's password from many machines;
counting per client address stops trying one common password on many accounts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.cache import cache


@dataclass(frozen=True)
class Limit:
    name: str
    attempts: int
    window: int  # seconds

    def _key(self, subject: str) -> str:
        # Hashed: cache keys must be short and plain, and the cache need not hold addresses.
        digest = hashlib.sha256(subject.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"portal:limit:{self.name}:{digest}"

    def exceeded(self, subject: str) -> bool:
        return (cache.get(self._key(subject)) or 0) >= self.attempts

    def count(self, subject: str) -> None:
        key = self._key(subject)
        # The window starts with the first failure and is not extended by later ones.
        if not cache.add(key, 1, self.window):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, self.window)

    def reset(self, subject: str) -> None:
        cache.delete(self._key(subject))


SIGN_IN_PER_ACCOUNT = Limit("sign-in-address", attempts=5, window=15 * 60)
SIGN_IN_PER_CLIENT = Limit("sign-in-client", attempts=30, window=15 * 60)
PASSWORD_MAILS = Limit("password-mail", attempts=3, window=60 * 60)
