"""The autonomous loop: one template step run again and again, each iteration a child task that
sees the outputs before it (`stagent.engine.workflow_prompts.loop_prompt`).

Iteration ``n`` is the run-time step ``<template>#<n>`` (its own row, task and timeline entry).
Before each iteration the loop reads whether a person paused or cancelled it and whether its
time budget is spent. It stops, and records which (`Workflow.stop_code`), on:

- ``agent_signaled``: an output contains the completion signal (case-insensitive);
- ``max_iterations``: the last iteration ran;
- ``time_budget``: its iterations ran for ``time_budget_seconds`` in all;
- ``budget_exhausted``: an iteration was refused at a budget cap; the loop is paused, and
  resuming (after the cap is raised) runs that iteration again;
- ``human_pause`` / ``human_cancel``: a person paused (resume continues with the next
  iteration; the ones that ran are not run again) or cancelled it;
- ``error``: an iteration failed (``stagent workflow retry`` runs it again and goes on).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stagent.domain.workflow_runs import instance_key
from stagent.engine import workflow_shared as shared
from stagent.engine.workflow_prompts import loop_prompt

if TYPE_CHECKING:
    from stagent.engine.workflow_durable import WorkflowRun


async def run_loop(run: WorkflowRun) -> shared.Ending:
    """Run the loop from its first iteration that has not completed."""
    template = run.definition.steps[0]
    settings = run.definition.loop
    assert settings is not None  # the definition's validation requires it
    limit = settings.max_iterations
    signal = settings.completion_signal
    outputs: list[str] = []
    for number in range(1, limit + 1):
        key = instance_key(template.id, number)
        name = f"{template.name} (iteration {number})"
        if key not in run.settled:
            budget = settings.time_budget_seconds
            stop = await shared.next_iteration(run.id, run.number, key, name, number - 1, budget)
            if stop == "time_budget":
                reason = f"time budget of {settings.time_budget_seconds:g} s spent after "
                reason += f"{number - 1} iteration{'s' if number != 2 else ''}"
                return await shared.end(run, "completed", reason, "time_budget")
            if stop:
                return await shared.person_stop(run, stop)
        step = shared.instance(template, key, name)
        outcome = await run.run(step, loop_prompt(template, number, limit, outputs, signal))
        if shared.skipped(outcome):
            continue
        if not shared.ok(outcome):
            return await shared.failed_step(run, key, outcome, code="error")
        output = str(outcome["output"] or "")
        outputs.append(output)
        if signal.lower() in output.lower():
            reason = f"iteration {number} signalled completion ({signal})"
            return await shared.end(run, "completed", reason, "agent_signaled")
    reason = f"ran all {limit} iteration{'s' if limit != 1 else ''}"
    return await shared.end(run, "completed", reason, "max_iterations")
