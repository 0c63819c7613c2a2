"""Periodic work without a broker: the embedded default's stand-in for Celery beat.

With no Redis there is no beat to run CELERY_BEAT_SCHEDULE, so one daemon thread of the
web process runs the same tasks itself, in-process (`Task.apply`), each at its
interval. Started by the WSGI application (config/wsgi.py, which `runserver` loads too)
when LICENSING_EMBEDDED_SCHEDULER is on, as it is without REDIS_URL. The tasks are safe
to run in several processes at once: each claims its work under row locks.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from django.conf import settings
from django.db import close_old_connections

from config.celery import app

logger = logging.getLogger(__name__)

_started_in = 0
_lock = threading.Lock()


def start() -> bool:
    """Start the scheduler thread in this process, once; whether it runs."""
    global _started_in
    if not settings.LICENSING_EMBEDDED_SCHEDULER:
        return False
    with _lock:
        if _started_in != os.getpid():
            _started_in = os.getpid()
            threading.Thread(target=_run, name="embedded-scheduler", daemon=True).start()
    return True


def _run() -> None:
    # A worker imports the tasks modules when it starts; a web process never has.
    app.loader.import_default_modules()
    schedule = {entry["task"]: float(entry["schedule"]) for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    due = {name: time.monotonic() + interval for name, interval in schedule.items()}
    while True:
        name = min(due, key=due.get)
        time.sleep(max(0.0, due[name] - time.monotonic()))
        close_old_connections()
        try:
            app.tasks[name].apply()
        except Exception:  # one failing run must not end the schedule
            logger.exception("scheduled task %s failed", name)
        finally:
            close_old_connections()
        due[name] = time.monotonic() + schedule[name]
