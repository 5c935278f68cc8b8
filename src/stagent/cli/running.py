"""Running a task from the CLI: hand it to a live worker, or run it in this process.

If another process holds a live worker lease, ``task run`` only enqueues (and, with
``--follow``, streams the log until the run ends). Otherwise this process becomes a worker for
the duration of the run and stops being one when the run ends or the user presses Ctrl-C, which
cancels the task.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from stagent.domain.errors import StagentError
from stagent.domain.events import LoggedEvent
from stagent.domain.tasks import Task
from stagent.workspace import Workspace

EventSink = Callable[[LoggedEvent], None]


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a ``task run`` ended, from the CLI's point of view."""

    task: Task
    local: bool
    """True if this process executed the run (no other worker was alive)."""
    waited: bool
    """True if the CLI waited for the run to end (always, for a local run)."""
    interrupted: bool = False
    """True if the user pressed Ctrl-C (a local run is then cancelled)."""


def run_task(
    ws: Workspace, task_id: str, *, wait: bool, on_event: EventSink | None = None
) -> RunOutcome:
    """Start a run of ``task_id``; with ``wait`` (or locally) block until it ends."""
    ws.tasks.get(task_id)  # an unknown id fails before any worker starts
    local = ws.live_workers() == 0
    try:
        if local:
            _start_local_worker(ws)
        after = ws.tasks.last_seq()
        ws.tasks.run(task_id)
        if not (local or wait):
            return RunOutcome(ws.tasks.get(task_id), local=False, waited=False)
        for event in ws.tasks.follow(task_id, after=after):
            if on_event is not None:
                on_event(event)
    except KeyboardInterrupt:
        if local:
            cancel_if_active(ws, task_id)
        return RunOutcome(ws.tasks.get(task_id), local=local, waited=True, interrupted=True)
    return RunOutcome(ws.tasks.get(task_id), local=local, waited=True)


def cancel_if_active(ws: Workspace, task_id: str) -> None:
    """Cancel the task if a run owns it; a task that already ended is left alone."""
    with contextlib.suppress(StagentError):
        if ws.tasks.get(task_id).status.is_active:
            ws.tasks.cancel(task_id)


def _start_local_worker(ws: Workspace) -> None:
    ws.start_worker("cli")
    # The engine warns about the step it abandons when this short-lived worker stops; the
    # task's own state and log already say everything a person needs.
    logging.getLogger("dbos").setLevel(logging.ERROR)
