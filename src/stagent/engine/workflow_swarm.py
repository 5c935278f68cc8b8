"""The swarm: a mayor briefs 2-5 workers, which run at most ``swarm.worker_concurrency`` at a
time, then a refinery merges every worker's result (the original's headers,
`stagent.engine.workflow_prompts.swarm_worker_prompt` / `refinery_prompt`).

Each worker runs in its own child workflow (`workflow_shared.side_by_side`) through
``WorkflowRun.run``, so step-level behaviour (retry policy, gates, timeouts) holds per worker; a
worker sees the mayor as its ``previous`` step (a ``condition`` can read its output). A failed
worker blocks the refinery ("blocked by failed workers: ..."); ``stagent workflow retry ID
<worker>`` runs only that worker again, then the refinery; the workers that succeeded are never
run again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stagent.engine import workflow_shared as shared
from stagent.engine.workflow_prompts import refinery_prompt, swarm_worker_prompt

if TYPE_CHECKING:
    from stagent.engine.workflow_durable import WorkflowRun


async def run_swarm(run: WorkflowRun) -> shared.Ending:
    """Mayor, then the workers (bounded), then the refinery."""
    mayor, *workers, refinery = run.definition.steps
    limit = run.definition.swarm.worker_concurrency if run.definition.swarm else 2
    limit = max(1, min(limit, len(workers)))
    if mayor.id not in run.settled:
        stop = await shared.stop_check(run.id, run.number)
        if stop:
            return await shared.person_stop(run, stop)
    briefing = await run.run(mayor, mayor.prompt)
    if not shared.ok(briefing) and not shared.skipped(briefing):
        return await shared.failed_step(run, mayor.id, briefing, code=None)
    brief = str(briefing["output"] or "")

    outcomes, stop = await shared.side_by_side(
        run, workers, limit, lambda w: swarm_worker_prompt(w, mayor, brief)
    )
    if stop is not None:
        return await shared.person_stop(run, stop)

    failed = [
        w for w in workers if not (shared.ok(outcomes[w.id]) or shared.skipped(outcomes[w.id]))
    ]
    refused: list[tuple[str, str]] = []
    for worker in failed:
        refusal = await shared.budget_stop(run.id, run.number, worker.id)
        if refusal is not None:
            refused.append((worker.id, refusal))
    if refused:
        key, refusal = refused[0]
        reason = f"budget exhausted at step {key}: {refusal}; raise the cap, then resume"
        return await shared.end(run, "paused", reason, "budget_exhausted")
    if failed:
        reason = f"blocked by failed workers: {', '.join(w.id for w in failed)}"
        await shared.mark_blocked(run.id, run.number, refinery.id, reason)
        return "failed", reason

    if refinery.id not in run.settled:
        stop = await shared.stop_check(run.id, run.number)
        if stop:
            return await shared.person_stop(run, stop)
    results = [
        (w, str(outcomes[w.id]["output"] or "")) for w in workers if shared.ok(outcomes[w.id])
    ]
    merged = await run.run(refinery, refinery_prompt(refinery, mayor, brief, results))
    if not shared.ok(merged) and not shared.skipped(merged):
        return await shared.failed_step(run, refinery.id, merged, code=None)
    return "completed", None
