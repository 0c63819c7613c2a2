"""Keeping the client check-in off the database in the steady state.

A device checks in every refresh interval, all day, and nearly every check finds the
same answer as the last one. Each worker process therefore keeps what a check needs
(the credential, the license with its chain) in memory, tagged with a *generation*: a
counter in the shared cache that every audited change bumps (`audit.record_event` calls
`bump_generation`). A snapshot from an older generation is never used, so a customer
disabled on any server is refused at the very next check on every server.

The bump happens twice: at once, and again after the change commits. The second one
covers a check that read the old state while the change was still uncommitted and
stored it under the first bump's generation.

The check-ins themselves are written in bulk by `services.checkins`.

If the cache cannot be reached, nothing is cached and every check reads the database;
after a failure the cache is left alone for a second, so an outage costs no timeouts.
Snapshots also expire after LICENSING_SNAPSHOT_MAX_SECONDS whatever the generation: if
a bump is ever lost (a server cut off from Redis while it disables a customer), that
bounds how long another server may answer from memory. Leases already let a device
run for hours between checks, so minutes here are in proportion.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

GENERATION_KEY = "licensing:generation"


class _Counter:
    """The shared counter: in Redis when REDIS_URL is set (one long-lived client; Django's
    cache would build a new client for every call, on the hottest path there is), else in
    Django's cache (the embedded default, a single process)."""

    def __init__(self) -> None:
        self._redis = None

    def _client(self):
        if self._redis is None and settings.REDIS_URL:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            # No retries, short timeouts: a check must never wait on the cache; without
            # it, it reads the database instead.
            self._redis = redis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
            )
        return self._redis

    def get(self) -> int | None:
        client = self._client()
        value = client.get(GENERATION_KEY) if client else cache.get(GENERATION_KEY)
        return int(value) if value is not None else None

    def start(self) -> None:
        # A random start, so that a cache restart can never reuse a number that stale
        # snapshots still carry.
        start = secrets.randbits(48)
        client = self._client()
        if client:
            client.set(GENERATION_KEY, start, nx=True)
        else:
            cache.add(GENERATION_KEY, start, timeout=None)

    def incr(self) -> None:
        client = self._client()
        if client:
            # Never let INCR create the key at 1: after a Redis restart, small numbers
            # could repeat ones that old snapshots carry. Start at random first.
            client.set(GENERATION_KEY, secrets.randbits(48), nx=True)
            client.incr(GENERATION_KEY)
        else:
            try:
                cache.incr(GENERATION_KEY)
            except ValueError:
                self.start()


_counter = _Counter()


READ_NOW = object()  # "no generation read yet for this request: read it"


def generation_or_read(generation: Any) -> int | None:
    return current_generation() if generation is READ_NOW else generation


_cache_down_until = 0.0
CACHE_RETRY_SECONDS = 1.0


def current_generation() -> int | None:
    """The shared generation, or None when the cache is unavailable (cache nothing)."""
    global _cache_down_until
    if time.monotonic() < _cache_down_until:
        return None
    try:
        generation = _counter.get()
        if generation is None:
            _counter.start()
            generation = _counter.get()
    except Exception:  # any cache failure means: do not trust snapshots
        _cache_down_until = time.monotonic() + CACHE_RETRY_SECONDS
        logger.warning("cache unavailable; client checks read the database", exc_info=True)
        return None
    return generation


def bump_generation() -> None:
    """Invalidate every snapshot in every process, now and again after commit."""
    _bump()
    transaction.on_commit(_bump)


def _bump() -> None:
    try:
        _counter.incr()
    except Exception:
        logger.warning("could not bump the snapshot generation", exc_info=True)


class SnapshotCache:
    """A bounded, thread-safe, process-local map whose entries hold only for the
    generation they were stored under."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[Hashable, tuple[int, float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, generation: int | None) -> Any | None:
        if generation is None or not settings.LICENSING_CLIENT_SNAPSHOTS:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != generation:
                return None
            if time.monotonic() >= entry[1]:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[2]

    def put(self, key: Hashable, generation: int | None, value: Any) -> None:
        if generation is None or not settings.LICENSING_CLIENT_SNAPSHOTS:
            return
        with self._lock:
            # Each entry lives 50-100% of the maximum, so entries loaded together (a
            # restart, a burst after a change) are not all read again at once.
            lifetime = settings.LICENSING_SNAPSHOT_MAX_SECONDS * random.uniform(0.5, 1.0)  # noqa: S311
            self._entries[key] = (generation, time.monotonic() + lifetime, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


credentials = SnapshotCache(size=1_000)
licenses = SnapshotCache(size=50_000)
