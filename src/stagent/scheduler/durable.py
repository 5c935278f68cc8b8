"""The durable side of firing: one DBOS workflow per firing, on its own queue.

The workflow id is the firing id, which is derived from the schedule and the occurrence, so
handing one firing to the engine twice (from two processes, or after a crash) starts it once.
The workflow calls one step, `ScheduleService.process`; a firing queued behind an earlier one
(overlap policy ``queue``) sleeps durably between attempts. The step is idempotent, so one that
raises (a dropped database connection, a crash of a collaborator) is tried again after a durable
backoff, `DECIDE_ATTEMPTS` times in all; a firing still undecided then is marked ``failed`` with
the last error as its reason (`ScheduleService.fail_undecided`), so it never vanishes silently.

A worker must `bind` its service before DBOS launches and `unbind` it only after DBOS has shut
down: DBOS keeps its queues in the database, so a worker polls the firing queue (registered by
any worker before it) from the moment it launches, whether or not it registered the queue
itself. A firing dequeued by a process that could not run it would stay claimed by that live
process and never be decided.
"""

from __future__ import annotations

import asyncio
import logging

from dbos import DBOS

from stagent.scheduler.firing import WAIT
from stagent.scheduler.queue import FIRE_WORKFLOW, FIRING_QUEUE
from stagent.scheduler.service import ScheduleService

FIRST_RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 10.0
DECIDE_ATTEMPTS = 6
"""How many times a raising decide step is tried before its firing is marked failed."""
FIRST_FAILURE_RETRY_SECONDS = 1.0
"""The first backoff after a raising decide step (it doubles, up to `MAX_RETRY_SECONDS`)."""
REASON_LIMIT = 300

log = logging.getLogger(__name__)

_service: ScheduleService | None = None


def bind(service: ScheduleService) -> None:
    """Decide firings with ``service`` in this process; call it before DBOS launches (importing
    this module registers the firing workflow, which must happen before the launch too)."""
    global _service
    _service = service


def activate(*, poll_seconds: float, concurrency: int = 4) -> None:
    """Register the firing queue (this process has launched DBOS) with this worker's limits."""
    from stagent.engine import queue_polls

    _require()
    DBOS.register_queue(
        FIRING_QUEUE, worker_concurrency=concurrency, polling_interval_sec=poll_seconds
    )
    queue_polls.gate_queues(FIRING_QUEUE)


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


@DBOS.step(name="stagent.fail_firing")
async def _fail_step(firing_id: str, reason: str) -> str:
    return await asyncio.to_thread(_require().fail_undecided, firing_id, reason)


@DBOS.workflow(name=FIRE_WORKFLOW)
async def fire_schedule_workflow(firing_id: str) -> str:
    """Decide one firing; retry (durably asleep in between) while it waits for an earlier one,
    or after the decision raised; mark it failed, with the error, once the attempts run out."""
    wait_delay = FIRST_RETRY_SECONDS
    failures = 0
    while True:
        try:
            outcome = await _decide_step(firing_id)
        except Exception as exc:  # the engine's own control flow raises BaseExceptions
            failures += 1
            log.warning(
                "firing %s: deciding it failed (attempt %d of %d): %r",
                firing_id,
                failures,
                DECIDE_ATTEMPTS,
                exc,
            )
            if failures >= DECIDE_ATTEMPTS:
                return await _fail_step(firing_id, failure_reason(failures, exc))
            backoff = FIRST_FAILURE_RETRY_SECONDS * 2 ** (failures - 1)
            await DBOS.sleep_async(min(backoff, MAX_RETRY_SECONDS))
            continue
        if outcome != WAIT:
            return outcome
        await DBOS.sleep_async(wait_delay)
        wait_delay = min(wait_delay * 2, MAX_RETRY_SECONDS)


def failure_reason(attempts: int, exc: Exception) -> str:
    """What a person reads in the firing's history when its decision kept raising."""
    error = f"{type(exc).__name__}: {exc}".strip()
    if len(error) > REASON_LIMIT:
        error = error[: REASON_LIMIT - 1] + "…"
    return f"could not be decided after {attempts} attempts; nothing was started ({error})"
