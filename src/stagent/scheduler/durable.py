"""The durable side of firing: one DBOS workflow per firing, on its own queue.

The workflow id is the firing id, which is derived from the schedule and the occurrence, so
handing one firing to the engine twice (from two processes, or after a crash) starts it once.
The workflow calls one step, `ScheduleService.process`; a firing queued behind an earlier one
(overlap policy ``queue``) sleeps durably between attempts.

A worker must `bind` its service before DBOS launches and `unbind` it only after DBOS has shut
down: DBOS keeps its queues in the database, so a worker polls the firing queue (registered by
any worker before it) from the moment it launches, whether or not it registered the queue
itself. A firing dequeued by a process that could not run it would stay claimed by that live
process and never be decided.
"""

from __future__ import annotations

import asyncio

from dbos import DBOS

from stagent.scheduler.firing import WAIT
from stagent.scheduler.queue import FIRE_WORKFLOW, FIRING_QUEUE
from stagent.scheduler.service import ScheduleService

FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 10.0

_service: ScheduleService | None = None


def bind(service: ScheduleService) -> None:
    """Decide firings with ``service`` in this process; call it before DBOS launches (importing
    this module registers the firing workflow, which must happen before the launch too)."""
    global _service
    _service = service


def activate(*, poll_seconds: float, concurrency: int = 4) -> None:
    """Register the firing queue (this process has launched DBOS) with this worker's limits."""
    _require()
    DBOS.register_queue(
        FIRING_QUEUE, worker_concurrency=concurrency, polling_interval_sec=poll_seconds
    )


def unbind() -> None:
    """Stop deciding firings here; call it once DBOS has shut down in this process."""
    global _service
    _service = None


def _require() -> ScheduleService:
    if _service is None:
        raise RuntimeError("a firing ran before the scheduler was activated in this process")
    return _service


@DBOS.step(name="stagent.decide_firing")
async def _decide_step(firing_id: str) -> str:
    return await asyncio.to_thread(_require().process, firing_id)


@DBOS.workflow(name=FIRE_WORKFLOW)
async def fire_schedule_workflow(firing_id: str) -> str:
    """Decide one firing; retry (durably asleep in between) while it waits for an earlier one."""
    delay = FIRST_RETRY_SECONDS
    while True:
        outcome = await _decide_step(firing_id)
        if outcome != WAIT:
            return outcome
        await DBOS.sleep_async(delay)
        delay = min(delay * 2, MAX_RETRY_SECONDS)
