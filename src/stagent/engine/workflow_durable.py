"""The workflow interpreter: one DBOS workflow that runs a workflow definition (data).

Conditions from ``shared/reference/dbos-engine.md``: user workflows are data run by one generic
interpreter; every side effect is a step (`stagent.engine.workflow_steps`), so the body re-runs
deterministically on recovery and a finished step is replayed from its checkpoint, never sent to
a model again. Each workflow step runs as a child task, so budgets, approvals, events and cost
work exactly as for any task; its task run executes inside the interpreter
(`stagent.engine.workflow_inline`). Under protocol ``stagent-wf-6`` an attempt of a step with no
retry policy is no DBOS step (its rows are its record); a step with a retry policy runs each
attempt as one DBOS step, as every step did under ``stagent-wf-5``. The ``stagent-wf-5`` and
``stagent-wf-4`` (each run a child workflow) interpreters are kept under their old names for
those protocols' runs.

Patterns built: ``sequence``, ``checkpoint`` (a sequence whose gates are its steps'
``requires_approval``) and ``parallel`` here; ``loop``, ``planner-executor`` and ``swarm`` in
`workflow_loop`, `workflow_planner` and `workflow_swarm`, which run every step through
`WorkflowRun` too (so conditions, retry policies, budget pauses, checkpoints and timeouts hold
in every pattern).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from dbos import DBOS, SetWorkflowID

from stagent.domain.conditions import StepFacts, parse_condition
from stagent.domain.workflow_runs import StepStatus
from stagent.domain.workflows import WorkflowStep, definition_of
from stagent.engine import durable, workflow_inline
from stagent.engine import workflow_shared as shared
from stagent.engine import workflow_steps as steps
from stagent.engine.queue import RUN_WORKFLOW, RUN_WORKFLOW_WF4, RUN_WORKFLOW_WF5, workflow_id_for
from stagent.engine.workflow_loop import run_loop
from stagent.engine.workflow_planner import run_planner_executor
from stagent.engine.workflow_prompts import sequence_prompt, synthesis_prompt
from stagent.engine.workflow_swarm import run_swarm
from stagent.engine.workflow_waits import task_result

ONE_AT_A_TIME = frozenset({"sequence", "checkpoint", "loop", "planner-executor"})
"""Patterns whose steps run one after another in the interpreter itself (no child workflows):
under protocol ``stagent-wf-6`` their body runs on the worker's run loop, where each step's
attempt runs too, so a step costs no hop between DBOS's loop and the run loop (two thread
wake-ups and a future chained each way); the DBOS steps they call are recorded as before, in
the same order (see `_interpret`)."""

SETTLED = (StepStatus.COMPLETED.value, StepStatus.FAILED.value, StepStatus.SKIPPED.value)
"""Steps a new round does not run again (a retry puts its step back to pending first)."""


@DBOS.step(name="stagent.workflow.begin")
async def _begin(workflow_id: str, run_number: int) -> dict[str, Any]:
    return steps.begin(durable.context().store, workflow_id, run_number)


@DBOS.step(name="stagent.workflow.prepare")
async def _prepare(
    workflow_id: str, run_number: int, step: WorkflowStep, prompt: str, engine_id: str | None
) -> dict[str, Any]:
    ctx = durable.context()
    return steps.prepare(
        ctx.store,
        workflow_id,
        run_number,
        step,
        prompt,
        engine_id=engine_id,
        profiles=ctx.profiles,
    )


@DBOS.step(name="stagent.workflow.run_step")
async def _run_step(
    workflow_id: str, run_number: int, step: WorkflowStep, prompt: str, engine_id: str | None
) -> dict[str, Any]:
    """One attempt of a step, its task run executed here (`stagent.engine.workflow_inline`) as
    a DBOS step (protocol stagent-wf-5; stagent-wf-6 for a step with a retry policy):
    ``{"stop": reason}`` or the step's settled outcome."""
    return await _run_attempt(workflow_id, run_number, step, prompt, engine_id)


async def _run_attempt(
    workflow_id: str, run_number: int, step: WorkflowStep, prompt: str, engine_id: str | None
) -> dict[str, Any]:
    """One attempt of a step on the worker's run loop (`stagent.engine.workflow_inline`), in
    a DBOS step (`_run_step`) or, under stagent-wf-6 for a step with no retry policy, straight
    in the interpreter: its rows are its record (a replay finds the step concluded and gets
    its outcome back from them; a crash mid-attempt is taken over as the DBOS step's
    re-execution would)."""
    attempt = workflow_inline.run_attempt(
        durable.context(),
        workflow_id,
        run_number,
        step,
        prompt,
        engine_id=engine_id,
        executing=DBOS.workflow_id,
    )
    return await durable.on_run_loop(attempt)


@DBOS.step(name="stagent.workflow.settle")
async def _settle(workflow_id: str, run_number: int, key: str) -> dict[str, Any]:
    return steps.settle(durable.context().store, workflow_id, run_number, key)


@DBOS.step(name="stagent.workflow.skip")
async def _skip(
    workflow_id: str, run_number: int, key: str, reason: str, engine_id: str | None
) -> dict[str, Any]:
    store = durable.context().store
    return steps.skip(store, workflow_id, run_number, key, reason, engine_id)


@DBOS.step(name="stagent.workflow.note_retry")
async def _note_retry(
    workflow_id: str, run_number: int, key: str, attempt: int, wait: float
) -> None:
    steps.note_retry(durable.context().store, workflow_id, run_number, key, attempt, wait)


@DBOS.step(name="stagent.workflow.block")
async def _block(workflow_id: str, run_number: int, key: str, reason: str) -> None:
    steps.block(durable.context().store, workflow_id, run_number, key, reason)


@DBOS.step(name="stagent.workflow.finish")
async def _finish(
    workflow_id: str, run_number: int, status: str, reason: str | None, engine_id: str | None
) -> str:
    store = durable.context().store
    return steps.finish(store, workflow_id, run_number, status, reason, engine_id)


class StepStopped(Exception):  # noqa: N818 - a control-flow signal, not an error
    """The run cannot go on now: paused (by a person, or at a budget cap) or cancelled. Raised
    by the step runner in any pattern; `run_workflow` ends the round with it."""

    def __init__(self, status: str, reason: str, code: str | None = None) -> None:
        super().__init__(status, reason, code)
        self.status = status
        self.reason = reason
        self.code = code
        """Why, for machines (`stagent.domain.workflow_runs.StopCode`)."""

    @property
    def superseded(self) -> bool:
        """A newer round of the run took over (this round just ends, recording nothing)."""
        return self.reason == shared.SUPERSEDED_REASON

    def __reduce__(self) -> tuple[type[StepStopped], tuple[str, str, str | None]]:
        # Raised in a child workflow (a swarm worker), it crosses DBOS's serializer.
        return (StepStopped, (self.status, self.reason, self.code))


@dataclass
class StepHandle:
    """A step started by `_Run.start`: its engine handle, or the outcome it already has
    (replayed, or skipped by its condition)."""

    step: WorkflowStep
    prompt: str
    engine: Any = None
    """The running attempt's child workflow (protocol stagent-wf-4 only)."""
    outcome: dict[str, Any] | None = None


class WorkflowRun:
    """One execution of a workflow run: the interpreter's state, rebuilt identically on replay.

    The step runner every pattern uses: `start` (stop check, condition, then the step's child
    task run), `result` (await it; retry policy with a durable backoff; a budget refusal pauses
    the run) and `run` (both). Checkpoints (``requires_approval``) and timeouts are enforced in
    the step's task run itself (`stagent.engine.workflow_checkpoints`, the executor's deadline).

    ``protocol`` 6 (`stagent.engine.queue.WORKFLOW_PROTOCOL`): an attempt of a step executes
    the step's task run here, as no DBOS step when the step has no retry policy
    (`inline_attempt`), else as one (`_run_step`); 5: every attempt is a `_run_step`; 4: the
    attempt is a ``prepare`` step and a child workflow, as ``stagent-wf-4`` recorded it (kept
    so its runs replay).

    Why only steps without a retry policy skip the DBOS step: a replay must call the same DBOS
    steps in the same order. An attempt that is no DBOS step gives a replay the step's
    outcome from its rows, which is its *last* attempt's; a retried step's first, failed
    attempt would then replay as the success that followed it, without the `_note_retry` the
    recording has next.
    """

    def __init__(
        self, workflow_id: str, run_number: int, plan: dict[str, Any], protocol: int = 6
    ) -> None:
        self.id = workflow_id
        self.number = run_number
        self.protocol = protocol
        self.engine_id: str | None = round_of(DBOS.workflow_id or "", workflow_id, run_number)
        """This round's engine id (a step's child workflow: its parent round's), so a round a
        newer one replaced stops (``superseded``) wherever it asks."""
        self.definition = definition_of(workflow_id, plan["definition"])
        self.settled: dict[str, dict[str, Any]] = {
            key: value for key, value in plan["steps"].items() if value["status"] in SETTLED
        }
        self.facts: dict[str, StepFacts] = {
            key: StepFacts(value["status"], value.get("output") or "")
            for key, value in plan["steps"].items()
        }
        self.previous: StepFacts | None = None
        self.previous_key: str | None = None
        """The step that ran last (a skipped step is not one)."""

    async def start(self, step: WorkflowStep, prompt: str) -> StepHandle:
        """Start a step (or find its outcome): raises `StepStopped` if the run must stop (the
        check is part of the step's first write: one DBOS step, one transaction)."""
        if step.id in self.settled:
            return StepHandle(step, prompt, outcome=self.settled[step.id])
        if step.condition is not None:
            condition = parse_condition(step.condition)
            if not condition.holds(self.previous, self.facts):
                reason = "skipped: " + condition.explain(self.previous, self.facts)
                outcome = _go_on(await _skip(self.id, self.number, step.id, reason, self.engine_id))
                return StepHandle(step, prompt, outcome=outcome)
        if self.protocol >= 5:
            return StepHandle(step, prompt)
        return StepHandle(step, prompt, engine=await self._launch(step, prompt))

    async def _launch(self, step: WorkflowStep, prompt: str) -> Any:
        """Protocol stagent-wf-4: prepare the step's task run and start it as a child workflow
        in this process (no queue: the step starts at once; the child keeps the task run's own
        engine id, so cancels, reconcile and recovery treat it as any task run)."""
        ready = _go_on(await _prepare(self.id, self.number, step, prompt, self.engine_id))
        task_id, number = ready["task"], ready["run"]
        ref: steps.StepRef = (self.id, self.number, step.id, step.requires_approval)
        with SetWorkflowID(workflow_id_for(task_id, number)):
            return await DBOS.start_workflow_async(durable.run_task_workflow, task_id, number, ref)

    async def result(self, handle: StepHandle) -> dict[str, Any]:
        """The step's outcome: awaited, retried as its policy says (each try a new run of its
        task, after a durable backoff sleep), unless its runtime marked the error not
        retryable (``why`` ``final``: the step fails at once, its error says so). A budget
        refusal raises `StepStopped` (paused)."""
        step = handle.step
        outcome = handle.outcome
        attempt = 1
        while outcome is None:
            outcome = await self._attempt(handle)
            if outcome.get("why") == "failed" and attempt < step.retry.attempts:
                attempt += 1
                wait = step.retry.backoff_seconds
                await _note_retry(self.id, self.number, step.id, attempt, wait)
                if wait:
                    await DBOS.sleep_async(wait)
                if self.protocol < 5:
                    handle.engine = await self._launch(step, handle.prompt)
                outcome = None
        if outcome.get("why") == "budget":
            raise StepStopped(
                "paused",
                f"budget exhausted at step {step.id}: {outcome['error']}; raise the cap, "
                "then resume",
                "budget_exhausted",
            )
        facts = StepFacts(str(outcome["status"]), str(outcome.get("output") or ""))
        self.facts[step.id] = facts
        if outcome["status"] != StepStatus.SKIPPED.value:
            self.previous, self.previous_key = facts, step.id
        return outcome

    async def _attempt(self, handle: StepHandle) -> dict[str, Any]:
        """One attempt's outcome: run here (protocol 5 and 6), or its child workflow's (4)."""
        step = handle.step
        if self.protocol >= 6 and inline_attempt(step):
            return _go_on(
                await _run_attempt(self.id, self.number, step, handle.prompt, self.engine_id)
            )
        if self.protocol >= 5:
            return _go_on(
                await _run_step(self.id, self.number, step, handle.prompt, self.engine_id)
            )
        return await self._settled(handle.step, handle.engine)

    async def _settled(self, step: WorkflowStep, engine: Any) -> dict[str, Any]:
        """Protocol stagent-wf-4: the step's outcome once its task run's child workflow ended
        (it settles the step and returns the outcome); a run started without the step (an
        older recording replayed, or a run the task queue started first) returns its status
        only, and the step is settled by a DBOS step here."""
        result = await task_result(durable.context().store, engine)
        if isinstance(result, dict):
            return cast("dict[str, Any]", result)
        return await _settle(self.id, self.number, step.id)

    async def run(self, step: WorkflowStep, prompt: str) -> dict[str, Any]:
        """Run one step to its end (or replay it if it finished before)."""
        return await self.result(await self.start(step, prompt))


def round_of(this: str, workflow_id: str, run_number: int) -> str | None:
    """The engine id of the round the DBOS workflow ``this`` belongs to: its own for a round's
    interpreter (``<wf>-run-<n>-<round>``), its parent's for a step's child workflow (DBOS names
    it ``<parent>-<call number>``), else None."""
    prefix = f"{workflow_id}-run-{run_number}-"
    if not this.startswith(prefix):
        return None
    round_, dash, call = this.removeprefix(prefix).partition("-")
    if not round_.isdigit() or (dash and not call.isdigit()):
        return None
    return prefix + round_


def inline_attempt(step: WorkflowStep) -> bool:
    """Whether an attempt of ``step`` runs as no DBOS step (protocol stagent-wf-6): a step
    with no retry policy (see `WorkflowRun`). Decided by the definition alone, so a replay
    decides the same."""
    return step.retry.attempts <= 1


@DBOS.workflow(name=RUN_WORKFLOW)
async def run_workflow(workflow_id: str, run_number: int) -> str:
    """Durably run run ``run_number`` of a workflow; returns its final status."""
    return await _interpret(workflow_id, run_number, protocol=6)


@DBOS.workflow(name=RUN_WORKFLOW_WF5)
async def run_workflow_wf5(workflow_id: str, run_number: int) -> str:
    """The ``stagent-wf-5`` interpreter (every attempt a DBOS step): runs recorded (or
    queued) by that protocol finish here."""
    return await _interpret(workflow_id, run_number, protocol=5)


@DBOS.workflow(name=RUN_WORKFLOW_WF4)
async def run_workflow_wf4(workflow_id: str, run_number: int) -> str:
    """The ``stagent-wf-4`` interpreter: runs recorded (or queued) by that protocol finish
    here, each step's run a child workflow as they recorded it."""
    return await _interpret(workflow_id, run_number, protocol=4)


async def _interpret(workflow_id: str, run_number: int, *, protocol: int) -> str:
    """The interpreter's body (see `run_workflow`)."""
    plan = await _begin(workflow_id, run_number)
    run = WorkflowRun(workflow_id, run_number, plan, protocol)
    try:
        if protocol >= 6 and run.definition.pattern in ONE_AT_A_TIME:
            status, reason = await durable.on_run_loop(_pattern(run))
        else:
            status, reason = await _pattern(run)
    except StepStopped as stopped:
        if stopped.superseded:
            # No DBOS step after this: a newer round owns the run (`finish` would change
            # nothing), and this answer may come from rows the newer round changed since this
            # round recorded its steps, so its replay must end here whatever it recorded next.
            return stopped.status
        status, reason = await shared.end(run, stopped.status, stopped.reason, stopped.code)
    return await _finish(workflow_id, run_number, status, reason, run.engine_id)


async def _pattern(run: WorkflowRun) -> tuple[str, str | None]:
    """Run the definition's pattern; returns the workflow's status and the reason."""
    pattern = run.definition.pattern
    if pattern == "parallel":
        return await _parallel(run)
    if pattern in ("sequence", "checkpoint"):
        return await _sequence(run)
    if pattern == "loop":
        return await run_loop(run)
    if pattern == "planner-executor":
        return await run_planner_executor(run)
    if pattern == "swarm":
        return await run_swarm(run)
    return "failed", f"the {pattern} pattern is not built yet"


async def _sequence(run: WorkflowRun) -> tuple[str, str | None]:
    """Each step sees the output of the last step that ran (a skipped step passes it on)."""
    previous: str | None = None
    for step in run.definition.steps:
        outcome = await run.run(step, sequence_prompt(step, previous))
        if outcome["status"] == StepStatus.SKIPPED.value:
            continue
        if outcome["status"] != StepStatus.COMPLETED.value:
            return "failed", f"step {step.id} failed: {outcome['error']}"
        previous = outcome["output"]
    return "completed", None


async def _parallel(run: WorkflowRun) -> tuple[str, str | None]:
    """Branches side by side (at most ``max_concurrency`` at once, each settled as it ends),
    then the join, which sees every branch's output."""
    branches = [s for s in run.definition.steps if not s.depends_on]
    join = next(s for s in run.definition.steps if s.depends_on)
    settings = run.definition.parallel
    limit = max(1, settings.max_concurrency if settings else 3)
    outcomes, stop = await shared.side_by_side(
        run, branches, limit, lambda b: sequence_prompt(b, None)
    )
    if stop is not None:
        return await shared.person_stop(run, stop)
    done = [(b, str(outcomes[b.id]["output"])) for b in branches if _ok(outcomes[b.id])]
    failed = [b.id for b in branches if _failed(outcomes[b.id])]
    policy = settings.on_branch_failure if settings else "fail"
    if failed and (policy == "fail" or not done):
        reason = f"blocked by failed branches: {', '.join(failed)}"
        await _block(run.id, run.number, join.id, reason)
        return "failed", reason
    outcome = await run.run(join, synthesis_prompt(join, done))
    if _failed(outcome):
        return "failed", f"step {join.id} failed: {outcome['error']}"
    return "completed", None


def _ok(outcome: dict[str, Any]) -> bool:
    return outcome.get("status") == StepStatus.COMPLETED.value


def _failed(outcome: dict[str, Any]) -> bool:
    """Neither completed nor skipped by its condition."""
    return outcome.get("status") not in (StepStatus.COMPLETED.value, StepStatus.SKIPPED.value)


def _go_on(answer: dict[str, Any]) -> dict[str, Any]:
    """A step's first write's answer, or `StepStopped` if it said the run must stop."""
    stop = answer.get("stop")
    if stop:
        raise StepStopped(*_stopped(stop))
    return answer


def _stopped(reason: str) -> tuple[str, str, str | None]:
    if reason == "human_pause":
        return "paused", "paused by a person", "human_pause"
    if reason == "superseded":
        return "cancelled", shared.SUPERSEDED_REASON, None
    return "cancelled", "cancelled by a person", "human_cancel"
