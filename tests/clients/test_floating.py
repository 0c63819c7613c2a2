"""Three processes on a floating entitlement of two seats, each running the library's
FloatingSession: two run, the third waits; one is killed without releasing, and when its
slot ends the waiting one takes it.

The server's shortest floating_timeout is 60 s (MIN_FLOATING_TIMEOUT), too long to wait
out in the suite: instead the test moves time on the server's side, setting the slots'
ends a few seconds ahead in the database. The process still running renews its slot by
its heartbeats (every second here, instead of a third of the timeout), so its slot
survives; the killed one's ends, and the waiting process takes it."""

from __future__ import annotations

import datetime as dt
import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.utils import timezone

from licensing.models import Entitlement, FloatingSlot
from tests.factories import ActivationCodeFactory, LicenseFactory

from .conftest import PRODUCT

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WORKER = Path(__file__).with_name("floating_worker.py")


class Worker:
    def __init__(self, config: Path, hardware_id: str, heartbeat: float = 1.0) -> None:
        self.hardware_id = hardware_id
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), str(config), hardware_id, str(heartbeat)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.strip())

    def expect(self, word: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line.startswith(word):
                return line
        raise AssertionError(f"{self.hardware_id}: no {word!r} within {timeout}s")

    def said(self, word: str) -> bool:
        return any(line.startswith(word) for line in list(self.lines.queue))

    def send(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


def running(code) -> set[str]:
    slots = FloatingSlot.objects.live(timezone.now()).filter(entitlement=code.entitlement)
    return set(slots.values_list("license__device__hardware_id", flat=True))


def test_a_killed_holder_s_slot_goes_to_the_waiting_process_at_its_end(live, tmp_path):
    code = ActivationCodeFactory(
        entitlement__product__code=PRODUCT,
        entitlement__license_model=Entitlement.LicenseModel.FLOATING,
        entitlement__seats=2,
        entitlement__floating_timeout=60,
    )
    for n in (1, 2, 3):  # activated earlier, none running now
        LicenseFactory(activation_code=code, device__hardware_id=f"fl-{n}")
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "base": live.base,
                "api_key": live.api_key,
                "shared_key": live.shared_key,
                "public_key_pem": live.public_key_pem.decode(),
                "product": PRODUCT,
                "license_key": code.code,
                "cache": str(tmp_path / "cache"),
            }
        )
    )
    workers = []
    try:
        first, second = Worker(config, "fl-1"), Worker(config, "fl-2")
        workers += [first, second]
        first.expect("holding")
        second.expect("holding")
        waiting = Worker(config, "fl-3")
        workers.append(waiting)
        waiting.expect("started")
        time.sleep(1.5)  # refused, and polling
        assert not waiting.said("holding")
        assert running(code) == {"fl-1", "fl-2"}

        first.process.kill()  # gone without releasing
        first.process.wait(timeout=10)
        time.sleep(1.5)  # the server's buffered renewals of fl-1 are written by now
        # Time moves on, on the server: both slots end in 3 seconds.
        FloatingSlot.objects.filter(entitlement=code.entitlement).update(
            ends_at=timezone.now() + dt.timedelta(seconds=3)
        )
        waiting.expect("holding", timeout=15)
        # fl-2's heartbeats kept its slot; fl-1's ended and went to fl-3.
        assert running(code) == {"fl-2", "fl-3"}
        second.send("status")
        status = second.expect("check-ins").split()
        assert int(status[1]) >= 3 and status[3] == "False"

        for worker in (second, waiting):
            worker.send("exit")
            worker.expect("released")
            assert worker.process.wait(timeout=10) == 0
        assert running(code) == set()  # released on exit
    finally:
        for worker in workers:
            worker.stop()
