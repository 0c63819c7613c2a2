"""Check-ins written behind the answer.

Each worker buffers the check-ins it answered (the renewed lease, the last check-in
time) and writes them in one UPDATE at most every LICENSING_CHECKIN_FLUSH_SECONDS, and
when it exits. A write that fails goes back into the buffer for the next try; it never
fails the check that triggered it. A worker killed outright loses what it buffered:
check-in history, never an answer, since each client already holds its signed lease.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection

from ..models import License

logger = logging.getLogger(__name__)


class CheckInBuffer:
    """Check-ins waiting to be written, newest per license."""

    def __init__(self) -> None:
        self._pending: dict[Any, tuple[Any, Any]] = {}
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()

    def record(self, license_id: Any, checked_in_at: Any, lease_expires_at: Any) -> None:
        with self._lock:
            self._pending[license_id] = (checked_in_at, lease_expires_at)
            due = time.monotonic() - self._last_flush >= settings.LICENSING_CHECKIN_FLUSH_SECONDS
        if due:
            self.flush()

    def discard(self) -> None:
        """Forget what is buffered (a test's leftovers)."""
        with self._lock:
            self._pending = {}

    def flush(self) -> int:
        """Write what is buffered; the number of licenses written (0 on failure)."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._last_flush = time.monotonic()
        if not pending:
            return 0
        try:
            _write(pending)
        except DatabaseError:
            logger.warning("check-in write failed; kept for the next flush", exc_info=True)
            with self._lock:
                # Newer check-ins recorded meanwhile win over the ones put back.
                self._pending = {**pending, **self._pending}
            return 0
        return len(pending)


def _write(pending: dict[Any, tuple[Any, Any]]) -> None:
    if connection.vendor == "postgresql":
        _write_postgresql(pending)
    else:
        rows = [
            License(pk=pk, last_check_in_at=at, lease_expires_at=lease, updated_at=at)
            for pk, (at, lease) in pending.items()
        ]
        # Only licenses still active: a revoke or deactivation that landed after
        # the check keeps the row as it left it.
        License.objects.filter(status=License.Status.ACTIVE).bulk_update(
            rows, ["last_check_in_at", "lease_expires_at", "updated_at"], batch_size=500
        )


def _write_postgresql(pending: dict[Any, tuple[Any, Any]]) -> None:
    """One UPDATE joined to a VALUES list. (bulk_update's CASE has a branch per row,
    which PostgreSQL tests for every row: quadratic in the batch.) Rows go in key order,
    which makes two workers flushing the same licenses rarely conflict; when they do,
    PostgreSQL aborts one and its rows wait for the next flush."""
    table = License._meta.db_table
    items = sorted(pending.items())
    for start in range(0, len(items), 1000):
        batch = items[start : start + 1000]
        values = ", ".join(["(%s::uuid, %s::timestamptz, %s::timestamptz)"] * len(batch))
        params = [value for pk, (at, lease) in batch for value in (pk, at, lease)]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS l SET last_check_in_at = v.at, lease_expires_at = v.lease, "  # noqa: S608
                f"updated_at = v.at FROM (VALUES {values}) AS v(id, at, lease) "
                "WHERE l.id = v.id AND l.status = %s",
                [*params, License.Status.ACTIVE],
            )


check_ins = CheckInBuffer()


@atexit.register
def _flush_on_exit() -> None:
    try:
        check_ins.flush()
    except Exception:  # the interpreter is going away; nothing more to do
        logger.warning("could not write buffered check-ins at exit", exc_info=True)
