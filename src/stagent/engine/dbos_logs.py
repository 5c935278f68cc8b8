"""DBOS's log, without the noise of an ordinary cancel.

Cancelling a task cancels its DBOS workflow; DBOS then logs the awaiting side's
``DBOSAwaitedWorkflowCancelledError`` at ERROR with a 28-line traceback. A cancel is something a
person asked for and the task's log records it, so those records are dropped; every other DBOS
record passes.
"""

from __future__ import annotations

import logging

CANCEL_ERRORS = frozenset({"DBOSAwaitedWorkflowCancelledError", "DBOSWorkflowCancelledError"})


class DropCancellations(logging.Filter):
    """Drops records whose exception is a DBOS workflow cancellation."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a cancellation traceback, True for everything else."""
        exc = record.exc_info[1] if record.exc_info else None
        return exc is None or type(exc).__name__ not in CANCEL_ERRORS


def quiet_cancellations(logger: logging.Logger | None = None) -> None:
    """Install the filter on DBOS's logger (idempotent)."""
    target = logger or logging.getLogger("dbos")
    if not any(isinstance(f, DropCancellations) for f in target.filters):
        target.addFilter(DropCancellations())
