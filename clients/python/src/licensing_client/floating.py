"""FloatingSession: hold a floating slot while a block of code runs."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from .errors import FloatingNotAvailable, LicenseError

if TYPE_CHECKING:
    from .answers import License
    from .client import LicenseClient


class FloatingSession:
    """Takes a slot on entry (``check``), checks in from a background thread every
    ``fraction`` (a third by default) of the license's ``floating_timeout``, and releases
    the slot on exit.

    With ``wait=True`` a full entitlement is waited out: the session tries again at the
    refusal's ``next_slot_at`` (at most every ``poll`` seconds), for up to ``max_wait``
    seconds (None: for ever), then raises :class:`FloatingNotAvailable`.

    If a check-in fails (slot lost to a switch, lease ended while unreachable), ``lost``
    is set, ``error`` holds the exception and ``on_lost(error)`` is called; check-ins go on,
    and a later success clears ``lost``. Stop the licensed work while ``lost`` is set.
    """

    def __init__(
        self,
        client: LicenseClient,
        *,
        wait: bool = False,
        max_wait: float | None = None,
        poll: float = 5.0,
        fraction: float = 1 / 3,
        interval: float | None = None,
        on_lost: Callable[[LicenseError], None] | None = None,
    ) -> None:
        if not 0 < fraction < 1:
            raise ValueError("fraction must be between 0 and 1")
        self.client = client
        self.wait = wait
        self.max_wait = max_wait
        self.poll = poll
        self.fraction = fraction
        self.interval = interval
        self.on_lost = on_lost
        self.license: License | None = None
        self.error: LicenseError | None = None
        self.lost = threading.Event()
        self.check_ins = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FloatingSession:
        deadline = None if self.max_wait is None else time.monotonic() + self.max_wait
        while True:
            try:
                self.license = self.client.check()
                break
            except FloatingNotAvailable as refused:
                if not self.wait or (deadline is not None and time.monotonic() >= deadline):
                    raise
                delay = self.poll
                if refused.next_slot_at is not None:
                    delay = min(self.poll, max(0.2, refused.next_slot_at.timestamp() - self.client.clock()))
                if deadline is not None:
                    delay = min(delay, max(0.0, deadline - time.monotonic()))
                time.sleep(delay)
        self._thread = threading.Thread(target=self._heartbeat, name="licensing-floating", daemon=True)
        self._thread.start()
        return self

    def heartbeat_interval(self) -> float:
        """Seconds between check-ins: ``interval`` if given, else ``fraction`` of the
        floating timeout (or the answer's ``refresh_interval``), at least one second."""
        if self.interval is not None:
            return self.interval
        license = self.license
        timeout = license.floating_timeout if license is not None else None
        if timeout:
            return max(1.0, timeout * self.fraction)
        refresh = license.refresh_interval if license is not None else None
        return max(1.0, refresh or 60.0)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_interval()):
            try:
                self.license = self.client.check()
            except Exception as error:  # a refusal, or anything else (a full disk): never die silently
                self.error = error
                if not self.lost.is_set():
                    self.lost.set()
                    if self.on_lost is not None:
                        self.on_lost(error)
            else:
                self.check_ins += 1
                self.error = None
                self.lost.clear()

    def close(self, *, release: bool = True) -> None:
        """Stop checking in, and release the slot (a failed release is left to the slot's end)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if release:
            with contextlib.suppress(LicenseError):
                self.client.release()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
