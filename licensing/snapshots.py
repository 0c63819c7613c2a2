"""Keeping the client check-in off the database in the steady state.

A device checks in every refresh interval, all day, and nearly every check finds the
same answer as the last one. Each worker process therefore keeps what a check needs
(the credential, the license with its chain) in memory, with the *versions* of the rows
it was built from: counters in the shared cache that every audited change of a row
bumps (`services.recording.record_change`). A check uses the remembered chain only if none of those
versions moved, so a customer disabled on any server is refused at the very next check
on every server, while changes to other customers leave this one's chain in memory.

With Redis, versions are read through one connection per process that has Redis's
client tracking on (RESP3, Redis 6 or later): Redis pushes an invalidation down that
connection as soon as a key it has read changes, so a version read once is reused,
without a round trip, until its push arrives. Every read first takes in whatever
pushes are waiting on the socket (a poll, not a round trip). Redis sends the push while
it answers the writer, in the same pass of its event loop, so it is there within
microseconds: before the person who made the change even sees the page confirm it. A
check racing the change itself by those microseconds may see the state before it, as
it would have had it arrived a moment earlier. This process's own changes are
forgotten locally at once.

The bump happens twice: at once, and again after the change commits. A remembered
chain is stored only under versions read *before* the database read that built it, so
a change that commits in between is always seen by the next check.

When some rows of a remembered chain changed, only those are read again (a row shared
by many chains, such as a customer or an entitlement, is itself remembered under its
version in `rows`): a vendor's change to a customer with ten thousand devices costs each
worker one read of that row, not ten thousand reads of whole chains. That holds for
licenses found by key; `services.checks` says when a chain is read whole instead.

The check-ins themselves are written in bulk by `services.checkins`.

If the cache cannot be reached, nothing is cached and every check reads the database;
after a failure one check a second tries the cache again, so a cache that hangs costs
one request its timeout, not every check (a change always tries: its bumps are how the
other servers learn of it). What this process remembered is dropped when the cache
answers again.
Snapshots also expire after LICENSING_SNAPSHOT_MAX_SECONDS whatever the versions: if
a bump is ever lost (a server cut off from Redis while it disables a customer), that
bounds how long another server may answer from memory. Leases already let a device
run for hours between checks, so minutes here are in proportion.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

VERSION_PREFIX = "licensing:v:"


def version_key(instance_or_label: Any, pk: Any = None) -> str:
    """The version key of one row: every audited change of the row bumps it."""
    if pk is None:
        instance_or_label, pk = instance_or_label._meta.label_lower, instance_or_label.pk
    return f"{VERSION_PREFIX}{instance_or_label}:{pk}"


# No retries, short timeouts: a check must never wait on the cache; without it, it
# reads the database instead.
_REDIS_OPTIONS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}


def _no_retry():
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return Retry(NoBackoff(), 0)


class _TrackedReads:
    """Versions this process has read from Redis, kept current by client tracking
    (see the module docstring). Not a cache with a lifetime: an entry is exact until
    Redis says the key changed, or the connection is lost (then everything is dropped).

    A connection can also die without a word (a NAT or load balancer dropping an idle
    flow): pushes would stop and nothing would fail. So a read that comes more than
    LIVENESS_SECONDS after the last round trip makes one first (a PING, whose reply
    comes after any push Redis sent before it). Where Redis refuses tracking (before
    version 6, some proxies, an ACL without CLIENT), every read asks Redis instead."""

    MAX_KEYS = 200_000  # about 35 MB; past this, start over rather than grow without end
    LIVENESS_SECONDS = 1.0

    def __init__(self) -> None:
        self._connection = None
        self._pid = 0
        self._known: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._last_round_trip = 0.0
        self.refused = False  # Redis said no to tracking: read every time

    def read(self, keys: list[str]) -> dict[str, Any]:
        with self._lock:
            try:
                connection = self._connect()
                if self.refused:
                    return self._ask(connection, keys)
                if time.monotonic() - self._last_round_trip > self.LIVENESS_SECONDS:
                    self._ask(connection, [])
                while connection.can_read():  # pushes already waiting: changed keys
                    connection.read_response(push_request=True)
                if len(self._known) > self.MAX_KEYS:
                    self._known.clear()
                found = {key: self._known[key] for key in keys if key in self._known}
                missing = [key for key in keys if key not in found]
                if missing:
                    # Pushes that come before the reply are for changes made before this
                    # read: the reply has the new values, and for keys in `found` the
                    # next read will. Either way nothing older is kept.
                    fresh = self._ask(connection, missing)
                    self._known.update(fresh)
                    found.update(fresh)
                return {key: found[key] for key in keys}
            except Exception:
                self.reset()
                raise

    def _ask(self, connection, keys: list[str]) -> dict[str, Any]:
        """One round trip: the values of `keys`, or a PING for none."""
        connection.send_command(*(("MGET", *keys) if keys else ("PING",)))
        reply = self._reply(connection)
        self._last_round_trip = time.monotonic()
        return dict(zip(keys, reply, strict=True)) if keys else {}

    @staticmethod
    def _reply(connection) -> Any:
        """The reply to the command sent last, after the pushes that came before it, each
        taken in as it is read. (redis-py, asked for a reply, reads each push before it
        one call deeper: a few thousand changes pushed during one round trip would
        exhaust Python's stack.)"""
        while (reply := connection.read_response(push_request=True)) is _PUSHED:
            pass
        return reply

    def forget(self, keys: list[str]) -> None:
        """Drop what this process knows of `keys` (it is changing them itself)."""
        with self._lock:
            self._drop(keys)

    def _drop(self, keys: list | None) -> None:
        # Called with the lock held. None: everything (the database was flushed).
        if keys is None:
            self._known.clear()
        else:
            for key in keys:
                self._known.pop(key.decode() if isinstance(key, bytes) else key, None)

    def reset(self) -> None:
        if self._connection is not None and self._pid == os.getpid():
            self._connection.disconnect()
        self._connection = None
        self._known.clear()

    def _connect(self):
        if self._connection is not None and self._pid == os.getpid():
            return self._connection
        from redis.connection import Connection, parse_url
        from redis.exceptions import ResponseError

        self._connection, self._known = None, {}  # a forked child starts afresh
        options = {**_REDIS_OPTIONS, **parse_url(settings.REDIS_URL), "retry": _no_retry()}
        connection_class = options.pop("connection_class", Connection)
        connection = connection_class(**{**options, "protocol": 3})
        connection.register_connect_callback(self._on_connect)
        try:
            connection.connect()
            self.refused = False
        except ResponseError:  # no RESP3 (HELLO), or no CLIENT TRACKING
            logger.warning("Redis refuses client tracking; every check will read versions from it", exc_info=True)
            connection.disconnect()
            self.refused = True
            connection = connection_class(**options)
            connection.connect()
        self._connection, self._pid = connection, os.getpid()
        return connection

    def _on_connect(self, connection) -> None:
        # Runs on every connect, also one redis-py might make on its own: nothing read
        # over an earlier connection can be trusted, since its pushes are lost.
        self._known.clear()
        # redis-py's own client-side cache hooks in the same way.
        connection._parser.set_invalidation_push_handler(self._on_invalidation)
        connection.send_command("CLIENT", "TRACKING", "ON")
        self._reply(connection)
        self._last_round_trip = time.monotonic()

    def _on_invalidation(self, message: list) -> object:
        # ["invalidate", [key, ...]], or ["invalidate", None] when the database was flushed;
        # it arrives inside read(), which holds the lock.
        self._drop(message[1])
        return _PUSHED


_PUSHED = object()  # what reading a push returns, told apart from a reply


class _Store:
    """Version counters: in Redis when REDIS_URL is set, read through `_TrackedReads`
    and written with one long-lived client (Django's cache would build a new client for
    every call); else in Django's cache (the embedded default, a single process)."""

    def __init__(self) -> None:
        self._redis = None
        self.tracked = _TrackedReads()

    def _client(self):
        if self._redis is None and settings.REDIS_URL:
            import redis

            self._redis = redis.Redis.from_url(settings.REDIS_URL, **_REDIS_OPTIONS, retry=_no_retry())
        return self._redis

    def read(self, keys: list[str]) -> dict[str, Any]:
        if settings.REDIS_URL:
            return self.tracked.read(keys)
        found = cache.get_many(keys)
        return {key: found.get(key) for key in keys}

    def bump(self, keys: list[str]) -> None:
        # Never let a counter restart low: after a Redis restart, small numbers could
        # repeat ones that old snapshots carry. Each starts at random, then counts up.
        client = self._client()
        if client:
            self.tracked.forget(keys)  # this process sees its own changes at once
            with client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.set(key, secrets.randbits(48), nx=True)
                    pipe.incr(key)
                pipe.execute()
            return
        for key in keys:
            cache.add(key, secrets.randbits(48), timeout=None)
            cache.incr(key)


_store = _Store()
_cache_down_until = 0.0
_cache_down = False
_health = threading.Lock()
CACHE_RETRY_SECONDS = 1.0


def _may_use_cache() -> bool:
    """Whether to go to the cache now. While it is down, one caller a second tries it
    again and the others go without, so a cache that hangs rather than refuses holds
    up that one request, not every check."""
    global _cache_down_until
    if time.monotonic() < _cache_down_until:
        return False
    if not _cache_down:
        return True
    with _health:
        now = time.monotonic()
        if now < _cache_down_until:
            return False
        _cache_down_until = now + CACHE_RETRY_SECONDS  # this caller tries
        return True


def _cache_failed() -> None:
    global _cache_down, _cache_down_until
    with _health:
        first, _cache_down = not _cache_down, True
        _cache_down_until = time.monotonic() + CACHE_RETRY_SECONDS
    if first:
        logger.warning("cache unavailable; client checks read the database", exc_info=True)


def _cache_answered() -> None:
    global _cache_down
    if not _cache_down:
        return
    with _health:
        recovered, _cache_down = _cache_down, False
    if recovered:
        # Bumps made meanwhile were lost: what this process remembered from before the
        # outage is not to be trusted.
        credentials.clear()
        licenses.clear()
        rows.clear()
        logger.warning("cache available again; client checks use remembered chains")


class Versions:
    """The row versions one request reads, in one round trip where it can.

    `None` values are rows never changed (or forgotten by a restarted cache); a
    `Versions` without values means the cache is unavailable: remember nothing.
    """

    def __init__(self, values: dict[str, Any] | None) -> None:
        self._values = values

    @classmethod
    def read(cls, keys: list[str]) -> Versions:
        if not _may_use_cache():
            return cls(None)
        try:
            values = _store.read(keys) if keys else {}
        except Exception:  # any cache failure means: do not trust snapshots
            _cache_failed()
            return cls(None)
        if keys:
            _cache_answered()
        return cls(values)

    @property
    def available(self) -> bool:
        return self._values is not None

    def of(self, keys: tuple[str, ...]) -> tuple | None:
        """The versions of `keys`, reading any this request has not read yet."""
        if self._values is None:
            return None
        missing = [key for key in keys if key not in self._values]
        if missing:
            more = Versions.read(missing)
            if more._values is None:
                return None
            self._values.update(more._values)
        return tuple(self._values[key] for key in keys)


READ_NOW = None  # "this request has read no versions yet": read them when needed


def bump(*rows: Any) -> None:
    """Retire every snapshot built from these rows (instances, or (label, pk) pairs),
    now and again after commit."""
    keys = [version_key(*row) if isinstance(row, tuple) else version_key(row) for row in rows if row is not None]
    if not keys:
        return
    _bump(keys)
    transaction.on_commit(lambda: _bump(keys))


def _bump(keys: list[str]) -> None:
    # Always tried, even in the second after a failure: a bump skipped while the cache
    # answers again would leave other servers answering from the old chain (for up to
    # LICENSING_SNAPSHOT_MAX_SECONDS). Changes are few; a cache that hangs costs each
    # its timeout, not each check.
    try:
        _store.bump(keys)
    except Exception:
        _cache_failed()
        return
    _cache_answered()


class SnapshotCache:
    """A bounded, thread-safe, process-local map of remembered values, each valid only
    while the versions of the rows it was built from are unchanged."""

    def __init__(self, size: int) -> None:
        self._size = size
        # identity -> (row keys, their versions, expiry, value); a value of None only
        # remembers the keys, for storing the next load under versions read before it.
        self._entries: OrderedDict[Hashable, tuple[tuple[str, ...], tuple | None, float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def keys_for(self, identity: Hashable) -> tuple[str, ...]:
        """The row keys last seen for `identity` (to read their versions up front)."""
        with self._lock:
            entry = self._entries.get(identity)
            return entry[0] if entry else ()

    def get(self, identity: Hashable, versions: Versions) -> Any | None:
        if not settings.LICENSING_CLIENT_SNAPSHOTS:
            return None
        with self._lock:
            entry = self._entries.get(identity)
        if entry is None or entry[3] is None or time.monotonic() >= entry[2]:
            return None
        if versions.of(entry[0]) != entry[1] or entry[1] is None:
            return None
        with self._lock:
            self._entries.move_to_end(identity)
        return entry[3]

    def outdated(self, identity: Hashable) -> Outdated | None:
        """What is remembered for `identity` whatever the versions, within its lifetime:
        for rebuilding it from the rows that changed (the caller compares the versions)."""
        if not settings.LICENSING_CLIENT_SNAPSHOTS:
            return None
        with self._lock:
            entry = self._entries.get(identity)
        if entry is None or entry[1] is None or entry[3] is None or time.monotonic() >= entry[2]:
            return None
        return Outdated(*entry)

    def put(
        self,
        identity: Hashable,
        keys: tuple[str, ...],
        versions_before: tuple | None,
        value: Any,
        *,
        expires: float | None = None,
    ) -> None:
        """Remember `value`, built from rows `keys`. `versions_before` must have been
        read before the database read that built it (None if it was not: then only the
        keys are kept, and the next load can be remembered). `expires`: when it is to be
        read again at the latest (time.monotonic()), for a value rebuilt partly from rows
        read earlier."""
        if not settings.LICENSING_CLIENT_SNAPSHOTS:
            return
        if expires is None:
            # Each entry lives 50-100% of the maximum, so entries loaded together (a
            # restart, a burst after a change) are not all read again at once.
            expires = time.monotonic() + settings.LICENSING_SNAPSHOT_MAX_SECONDS * random.uniform(0.5, 1.0)  # noqa: S311
        remembered = value if versions_before is not None else None
        with self._lock:
            self._entries[identity] = (keys, versions_before, expires, remembered)
            self._entries.move_to_end(identity)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def forget(self, identity: Hashable) -> None:
        with self._lock:
            self._entries.pop(identity, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class Outdated(NamedTuple):
    keys: tuple[str, ...]
    versions: tuple
    expires: float
    value: Any


credentials = SnapshotCache(size=1_000)
licenses = SnapshotCache(size=50_000)
# Single rows that many remembered licenses share (a customer, an entitlement, a code),
# read again once per change and process rather than once per license built on them.
rows = SnapshotCache(size=10_000)
