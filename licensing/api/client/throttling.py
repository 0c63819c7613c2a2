"""Rate limiting of the client API without a cache round trip per request.

A warm check-in makes no database or cache round trip (licensing/snapshots.py), and
the throttle must not add one: DRF's own throttles read and write the cache on every
request. Here each worker process counts in memory, per key and fixed window, and
settles with the shared cache (Redis in production) at most once a second per key.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.core.cache import cache as default_cache
from django.http import HttpRequest
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from ...actors import client_ip

logger = logging.getLogger(__name__)

_API_KEY = re.compile(r'apiKey="([^"]{1,64})"')


def sent_api_key(request: HttpRequest) -> str:
    """The API key as the client sent it in `Authorization`, unchecked ("" if none).
    Longer than any real key, or absent, counts as none: the header is refused anyway."""
    match = _API_KEY.search(request.META.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match else ""


class _Window:
    """One key's counts in one fixed window, as this worker knows them."""

    __slots__ = ("cache_key", "end", "in_cache", "in_flight", "known", "settled_at", "settling", "unsettled", "window")

    def __init__(self, cache_key: str, window: int, end: float, now: float) -> None:
        self.cache_key = cache_key
        self.window = window
        self.end = end
        self.known = 0  # the global total at the last settle, this worker's share included
        self.unsettled = 0  # allowed here since then
        self.in_flight = 0  # being added to the cache right now
        self.settling = False
        self.in_cache = False  # this worker has made sure the cache key exists
        # The first settle comes a second after a key is first seen, not at once, so
        # that a flood of made-up API keys costs no cache round trips at all.
        self.settled_at = now

    def estimate(self) -> int:
        """A lower bound of the requests allowed in this window on every worker."""
        return self.known + self.in_flight + self.unsettled


class WindowCounts:
    """One worker's request counts per key and fixed window, settled with the shared cache.

    A request is allowed while the global total this worker last learned plus what it
    allowed since is below the limit. Once a second per key (on that key's next request,
    allowed or not) the worker adds what it allowed to the cache's counter for the
    window and learns the new global total from the answer. The estimate never exceeds
    the true total, so no request is refused that a shared counter would have allowed.

    The price is overshoot: what other workers allowed since this one last settled is
    unknown to it. Across all workers, a key gets at most about one settle interval's
    worth of its traffic beyond the limit per window (within the first second of a
    window, or of a worker restart, each worker may allow up to the whole limit on its
    own), plus what a worker loses when it drops a key before settling. For the client
    API, where the limit guards the server against a runaway client rather than
    metering anyone, that is a good trade for a check-in that stays off the network.

    Memory is bounded: keys are kept in least-recently-used order, those of past windows
    are dropped as new keys come, and at MAX_KEYS the least recently used go.

    If the cache fails, this worker counts alone (and says so in the log once) and
    one request a second tries the cache again.
    """

    SETTLE_SECONDS = 1.0
    MAX_KEYS = 20_000  # a few MB; far more (key, address) pairs than one worker sees in a window
    # Cache keys outlive their window by this much, so that a server whose clock is
    # behind does not recreate, without an expiry, a key that has just expired.
    CLOCK_SKEW_SECONDS = 60
    PREFIX = "licensing:throttle:"

    def __init__(self, *, cache: Any = None, clock: Callable[[], float] = time.time, max_keys: int | None = None):
        self._cache = cache  # None: Django's default cache
        # Wall-clock time, not monotonic: every worker on every server must agree on
        # where a window starts.
        self._clock = clock
        self.max_keys = max_keys or self.MAX_KEYS
        self._entries: OrderedDict[tuple[str, ...], _Window] = OrderedDict()
        self._lock = threading.Lock()
        self._cache_down, self._cache_down_until = False, 0.0

    def __len__(self) -> int:
        return len(self._entries)

    def hit(self, key: tuple[str, ...], limit: int, duration: int) -> float | None:
        """Count one request for `key` against `limit` per `duration` seconds. None if it
        is allowed; else the seconds until the window ends (it is then not counted)."""
        now = self._clock()
        with self._lock:
            entry = self._entry(key, int(now // duration), duration, now)
            settle = self._settle_due(entry, now)
            if settle:
                delta, entry.unsettled = entry.unsettled, 0
                entry.in_flight, entry.settling = delta, True
        if settle:
            # Outside the lock: other keys' requests don't wait on this round trip.
            self._settle(entry, delta, duration, now)
        with self._lock:
            if entry.estimate() >= limit:
                return entry.end - now
            entry.unsettled += 1
            return None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._cache_down, self._cache_down_until = False, 0.0

    def _entry(self, key: tuple[str, ...], window: int, duration: int, now: float) -> _Window:
        # Called with the lock held.
        entry = self._entries.get(key)
        if entry is not None and entry.window == window:
            self._entries.move_to_end(key)
            return entry
        # A new key, or a new window: what a past window left unsettled is of no use.
        self._entries.pop(key, None)
        self._drop_old(now)
        digest = hashlib.sha256("\n".join(key).encode()).hexdigest()[:32]
        entry = _Window(f"{self.PREFIX}{duration}:{window}:{digest}", window, (window + 1) * duration, now)
        self._entries[key] = entry
        return entry

    def _drop_old(self, now: float) -> None:
        # Least recently used first: entries of windows that have ended gather at the front.
        while self._entries:
            first = next(iter(self._entries.values()))
            if first.end > now and len(self._entries) < self.max_keys:
                return
            self._entries.popitem(last=False)

    def _settle_due(self, entry: _Window, now: float) -> bool:
        # Called with the lock held.
        if entry.settling or now < self._cache_down_until:
            return False
        # A clock that went back (an NTP step) makes it due too, rather than never.
        due = not 0 <= now - entry.settled_at < self.SETTLE_SECONDS
        if due and self._cache_down:
            # While the cache is down, one settle a second tries it; a cache that hangs
            # then holds up that one request, not every key's.
            self._cache_down_until = now + self.SETTLE_SECONDS
        return due

    def _settle(self, entry: _Window, delta: int, duration: int, now: float) -> None:
        cache = self._cache if self._cache is not None else default_cache
        try:
            total = self._add(cache, entry, delta, duration)
        except Exception:
            with self._lock:
                if not self._cache_down:
                    logger.warning(
                        "rate-limit counts could not be settled with the cache; counting locally", exc_info=True
                    )
                # From when the failure came back, which may be a timeout later.
                self._cache_down, self._cache_down_until = True, self._clock() + self.SETTLE_SECONDS
                entry.unsettled += delta
                entry.in_flight, entry.settling, entry.settled_at = 0, False, now
            return
        with self._lock:
            self._cache_down = False
            entry.known = total
            entry.in_flight, entry.settling, entry.settled_at = 0, False, now

    def _add(self, cache: Any, entry: _Window, delta: int, duration: int) -> int:
        """Add `delta` to the window's shared counter; the new global total."""
        if not delta:
            return int(cache.get(entry.cache_key) or 0)
        timeout = duration + self.CLOCK_SKEW_SECONDS
        if not entry.in_cache:
            cache.add(entry.cache_key, 0, timeout=timeout)
            entry.in_cache = True
        try:
            return cache.incr(entry.cache_key, delta)
        except ValueError:  # gone meanwhile: expired, evicted, or the cache was flushed
            cache.add(entry.cache_key, 0, timeout=timeout)
            return cache.incr(entry.cache_key, delta)


class ClientRateThrottle(BaseThrottle):
    """Requests per (API key as sent, client address), counted by `WindowCounts`: in
    worker memory, settled with the cache once a second, so a limit may be overshot by
    about a second's traffic (see `WindowCounts`). The rate is
    REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["client"] (LICENSING_CLIENT_RATE).

    Keyed by the key as sent, not as verified, so that it runs before authentication's
    work. A made-up key thus gets a budget of its own: this holds back a runaway client,
    not someone inventing keys (authentication refuses those, one by one).
    The address is REMOTE_ADDR (audit.client_ip): behind a proxy that does not pass the
    client's address on, all installations of an application share one budget."""

    scope = "client"
    THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    counts = WindowCounts()  # this worker's

    def __init__(self, counts: WindowCounts | None = None) -> None:
        if counts is not None:
            self.counts = counts
        # DRF's own parsing, so the rate reads like the management API's ("100/minute").
        self.num_requests, self.duration = SimpleRateThrottle.parse_rate(self, self.THROTTLE_RATES.get(self.scope))
        self._wait: float | None = None

    def get_ident(self, request: HttpRequest) -> tuple[str, str]:
        return sent_api_key(request), client_ip(request) or ""

    def allow_request(self, request: HttpRequest, view: Any) -> bool:
        if self.num_requests is None:
            return True
        self._wait = self.counts.hit(self.get_ident(request), self.num_requests, self.duration)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait
