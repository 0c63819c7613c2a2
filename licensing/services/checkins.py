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
from django.db.models import Case, F, Q, Value, When

from ..models import License

logger = logging.getLogger(__name__)
# Rows per UPDATE: bounds how long one flush holds its row locks.
FLUSH_BATCH = 2000
PORTABLE_BATCH = 200  # SQLite's CASE grows with the batch


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
        _write_portably(pending)


def _write_portably(pending: dict[Any, tuple[Any, Any]]) -> None:
    """The same rules through the ORM, for the embedded SQLite server: one UPDATE per
    batch that leaves alone licenses no longer active (a revoke or deactivation that
    landed after the check keeps the row as it left it) and check-ins older than the
    one written."""
    items = list(pending.items())
    for start in range(0, len(items), PORTABLE_BATCH):
        batch = items[start : start + PORTABLE_BATCH]
        newer = [Q(pk=pk) & (Q(last_check_in_at=None) | Q(last_check_in_at__lt=at)) for pk, (at, _) in batch]
        check_ins_at = [at for _, (at, _lease) in batch]
        leases = [lease for _, (_at, lease) in batch]
        License.objects.filter(pk__in=[pk for pk, _ in batch], status=License.Status.ACTIVE).update(
            last_check_in_at=_where(newer, check_ins_at, otherwise="last_check_in_at"),
            lease_expires_at=_where(newer, leases, otherwise="lease_expires_at"),
            updated_at=_where(newer, check_ins_at, otherwise="updated_at"),
        )


def _where(conditions: list[Q], values: list, *, otherwise: str) -> Case:
    """Each row's value where its condition holds; else the column keeps its own."""
    return Case(*[When(q, then=Value(v)) for q, v in zip(conditions, values, strict=True)], default=F(otherwise))


def _write_postgresql(pending: dict[Any, tuple[Any, Any]]) -> None:
    """One UPDATE per batch, the rows passed as three arrays: the statement text stays
    the same whatever the batch size, so neither psycopg nor PostgreSQL parses a long
    VALUES list per flush. (bulk_update's CASE has a branch per row, which PostgreSQL
    tests for every row: quadratic in the batch.)

    Workers flush the same licenses when a device checks in on two of them within a
    flush interval. The rows are locked in id order first, so two flushes queue instead
    of deadlocking (PostgreSQL would only notice that after a second, with both
    workers stalled); and a check-in older than the one already written is left out,
    so the newest wins whichever flush lands last."""
    table = License._meta.db_table
    items = sorted(pending.items())
    for start in range(0, len(items), FLUSH_BATCH):
        batch = items[start : start + FLUSH_BATCH]
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                WITH v AS MATERIALIZED (
                    SELECT * FROM unnest(%s::uuid[], %s::timestamptz[], %s::timestamptz[]) AS v(id, at, lease)
                ), locked AS MATERIALIZED (
                    SELECT id FROM {table} WHERE id IN (SELECT id FROM v) AND status = %s ORDER BY id FOR UPDATE
                )
                UPDATE {table} AS l
                SET last_check_in_at = v.at, lease_expires_at = v.lease, updated_at = v.at
                FROM v
                WHERE l.id = v.id AND l.id IN (SELECT id FROM locked)
                  AND (l.last_check_in_at IS NULL OR l.last_check_in_at < v.at)
                """,  # noqa: S608
                [
                    [pk for pk, _ in batch],
                    [at for _, (at, _lease) in batch],
                    [lease for _, (_at, lease) in batch],
                    License.Status.ACTIVE,
                ],
            )


check_ins = CheckInBuffer()


@atexit.register
def _flush_on_exit() -> None:
    try:
        check_ins.flush()
    except Exception:  # the interpreter is going away; nothing more to do
        logger.warning("could not write buffered check-ins at exit", exc_info=True)
