"""Planner-executor: the planner step (the definition's first) answers with a plan, a JSON list
of steps (`stagent.domain.workflow_plans`); each plan step becomes an executor step at run time,
``<executor>#<n>``, run with the settings of the definition's executor step it names (the only
one, or the one the plan step's ``executor`` names). Executors run one after another; each sees
the plan and the results of the plan steps before it (`executor_prompt`).

The plan is recorded once: the validated plan is the output of a DBOS step (a replay reuses it)
and its steps are rows of the run (a resume or retry re-reads the planner's recorded output and
finds the same rows). A malformed plan fails the planner step with one message naming what is
wrong; ``stagent workflow retry ID <planner>`` asks the planner again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stagent.domain.workflow_plans import PlanStep, plan_text
from stagent.domain.workflow_runs import instance_key
from stagent.engine import workflow_shared as shared
from stagent.engine.workflow_prompts import executor_prompt, planner_prompt

if TYPE_CHECKING:
    from stagent.engine.workflow_durable import WorkflowRun


async def run_planner_executor(run: WorkflowRun) -> shared.Ending:
    """Plan, then execute the plan's steps in order."""
    planner, *executors = run.definition.steps
    templates = {step.id: step for step in executors}
    if planner.id not in run.settled:
        stop = await shared.stop_check(run.id, run.number)
        if stop:
            return await shared.person_stop(run, stop)
    outcome = await run.run(planner, planner_prompt(planner, executors))
    if shared.skipped(outcome):
        return "completed", f"the planner was {outcome['error'] or 'skipped'}; nothing to execute"
    if not shared.ok(outcome):
        return await shared.failed_step(run, planner.id, outcome, code=None)
    recorded = await shared.record_plan(run.id, run.number, planner.id, str(outcome["output"]))
    if "error" in recorded:
        return "failed", f"step {planner.id} failed: {recorded['error']}"
    plan = [PlanStep.model_validate(item) for item in recorded["plan"]]
    shown = plan_text(plan)
    earlier: list[tuple[str, str]] = []
    for index, item in enumerate(plan, start=1):
        template = templates[item.executor or executors[0].id]
        key = instance_key(template.id, index)
        if key not in run.settled:
            stop = await shared.stop_check(run.id, run.number)
            if stop:
                return await shared.person_stop(run, stop)
        prompt = executor_prompt(
            template, shown, (index, len(plan)), (item.name, item.prompt), earlier
        )
        step = shared.instance(template, key, item.name)
        result = await run.run(step, prompt)
        if shared.skipped(result):
            continue
        if not shared.ok(result):
            return await shared.failed_step(run, key, result, code=None)
        earlier.append((item.name, str(result["output"] or "")))
    return "completed", None
