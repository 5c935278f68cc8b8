"""Running a task from the CLI: hand it to a live worker, or run it in this process.

If another process holds a live worker lease, ``task run`` only enqueues (and, with
``--follow``, streams the log until the run ends). Otherwise this process becomes a worker for
the duration of the run and stops being one when the run ends or the user presses Ctrl-C, which
cancels the task.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stagent.domain.errors import StagentError
from stagent.domain.events import LoggedEvent
from stagent.domain.tasks import RUNNABLE_FROM, Task

if TYPE_CHECKING:
    from stagent.workspace import Workspace

EventSink = Callable[[LoggedEvent], None]

SETTLE_SECONDS = 5.0
"""How long a local run may take to checkpoint its workflow after the task has ended."""


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
    task = ws.tasks.get(task_id)
    if task.status not in RUNNABLE_FROM:
        ws.tasks.run(task_id)  # refuses with the service's own error, before a worker starts
    ws.runtimes.require_ready(task.runtime)  # a runtime that cannot run: say so before starting
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
        if local:
            _let_workflow_settle(ws, task_id)
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


def _let_workflow_settle(ws: Workspace, task_id: str) -> None:
    """Wait until the engine has recorded the run's end, so stopping the worker strands nothing."""
    workflow_id = ws.tasks.get(task_id).workflow_id
    if workflow_id is None:
        return
    deadline = time.monotonic() + SETTLE_SECONDS
    while ws.queue.status(workflow_id) in ("PENDING", "ENQUEUED") and time.monotonic() < deadline:
        time.sleep(0.05)


def _start_local_worker(ws: Workspace) -> None:
    ws.start_worker("cli")
    # The engine warns about the step it abandons when this short-lived worker stops; the
    # task's own state and log already say everything a person needs.
    logging.getLogger("dbos").setLevel(logging.ERROR)
