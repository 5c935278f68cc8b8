"""SIGINT and SIGTERM as a request to stop cleanly, for the long-running commands."""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any, Self

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ShutdownSignals:
    """While active, SIGINT and SIGTERM are recorded instead of killing the process.

    Servers that install their own handlers (uvicorn) restore these when they stop, and re-raise
    the signal they caught, which lands here harmlessly.
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self._event = threading.Event()
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        """True once a shutdown signal arrived."""
        return self._event.is_set()

    def wait(self, poll_seconds: float = 0.5) -> None:
        """Block until a shutdown signal arrives."""
        while not self._event.wait(poll_seconds):
            pass

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signum)
        self._event.set()

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in SHUTDOWN_SIGNALS}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
