"""The scheduler loop: a thread in every ``serve`` and ``worker`` process.

Every process claims due occurrences (`ScheduleService.tick`); the claim is exactly-once, so a
schedule keeps firing while any worker is alive and no occurrence fires twice.
"""

from __future__ import annotations

import logging
import threading

from stagent.scheduler.service import ScheduleService

log = logging.getLogger(__name__)

NUDGE_EVERY_TICKS = 10


class SchedulerLoop:
    """Ticks the schedule service every ``poll_seconds`` until stopped."""

    def __init__(self, service: ScheduleService, poll_seconds: float) -> None:
        self._service = service
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start ticking in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="stagent-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking (waits for the current tick to end)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        ticks = 0
        while not self._stop.is_set():
            try:
                self._service.tick()
                ticks += 1
                if ticks % NUDGE_EVERY_TICKS == 0:
                    self._service.nudge_open()
            except Exception:  # keep ticking through transient database errors
                log.exception("scheduler tick failed")
            self._stop.wait(self._poll)
