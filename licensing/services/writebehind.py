"""Writes made behind the answer: what a client check-in leaves in the database.

A worker answers a check-in from memory (licensing/snapshots.py) and buffers what it
must write: the license's renewed lease (services/checkins.py), a floating slot's
renewed end (services/floating.py). Each buffer writes what it holds in one statement
per batch at most every LICENSING_CHECKIN_FLUSH_SECONDS: when a later record finds the
interval past, or from a thread of the worker when no request comes to do it; and when
the worker exits. A write that fails goes back into the buffer for the next try; it
never fails the request that recorded it. A worker killed outright loses what it
buffered; each buffer's module says what that costs.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections

logger = logging.getLogger(__name__)


class WriteBehind:
    """Values waiting to be written, the newest per key. `write` takes them all and
    raises DatabaseError if it could not; `merge` says which of an old and a new value
    for one key is kept (the newer, by default)."""

    def __init__(
        self, name: str, write: Callable[[dict[Any, Any]], None], merge: Callable[[Any, Any], Any] | None = None
    ) -> None:
        self.name = name
        self._write = write
        self._merge = merge or (lambda old, new: new)
        self._pending: dict[Any, Any] = {}
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        self._flusher_pid = 0
        _buffers.append(self)

    def record(self, key: Any, value: Any) -> None:
        with self._lock:
            old = self._pending.get(key)
            self._pending[key] = value if old is None else self._merge(old, value)
            interval = settings.LICENSING_CHECKIN_FLUSH_SECONDS
            due = time.monotonic() - self._last_flush >= interval
            if interval > 0 and self._flusher_pid != os.getpid():
                self._start_flusher(interval)
        if due:
            self.flush()

    def discard(self) -> None:
        """Forget what is buffered (a test's leftovers)."""
        with self._lock:
            self._pending = {}

    def flush(self) -> int:
        """Write what is buffered; the number of keys written (0 on failure)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._last_flush = time.monotonic()
        if not pending:
            return 0
        try:
            self._write(pending)
        except DatabaseError:
            logger.warning("writing buffered %s failed; kept for the next flush", self.name, exc_info=True)
            with self._lock:
                for key, value in pending.items():
                    newer = self._pending.get(key)
                    self._pending[key] = value if newer is None else self._merge(value, newer)
            return 0
        return len(pending)

    def _start_flusher(self, interval: float) -> None:
        # One thread per buffer and process (a forked worker starts its own): it writes
        # what a worker buffered when no later request comes to write it.
        self._flusher_pid = os.getpid()
        thread = threading.Thread(target=self._flush_every, args=(interval,), name=f"flush-{self.name}", daemon=True)
        thread.start()

    def _flush_every(self, interval: float) -> None:
        while True:
            time.sleep(interval)
            if not self._pending or time.monotonic() - self._last_flush < interval:
                continue
            try:
                close_old_connections()
                self.flush()
            except Exception:  # the thread must outlive any one failure
                logger.exception("flushing buffered %s failed", self.name)


_buffers: list[WriteBehind] = []


@atexit.register
def _flush_on_exit() -> None:
    for buffer in _buffers:
        try:
            buffer.flush()
        except Exception:  # the interpreter is going away; nothing more to do
            logger.warning("could not write buffered %s at exit", buffer.name, exc_info=True)
