"""What each durable step of a workflow does to our tables (no DBOS here).

`stagent.engine.workflow_durable` calls these inside DBOS steps, so each is checkpointed once it
returns. Each is also safe to run twice (a crash after its write but before the checkpoint):
`prepare` finds the child task it made before, `settle` re-reads the task's outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stagent.domain.errors import StagentError
from stagent.domain.events import ErrorEvent, LogKind, RuntimeEvent
from stagent.domain.ids import utcnow
from stagent.domain.run_options import RunOptions, parse_run_options
from stagent.domain.runs import Run, RunStatus
from stagent.domain.tasks import Task, TaskStatus
from stagent.domain.workflow_runs import StepStatus, WorkflowStatus
from stagent.domain.workflows import DEFAULT_STEP_RUNTIME, WorkflowStep
from stagent.engine.options import resolve as resolve_options
from stagent.engine.profile_hook import ProfileResolver
from stagent.store import events as event_repo
from stagent.store import lifecycle, step_outcomes, step_start, step_state
from stagent.store import projects as project_repo
from stagent.store import step_rows as step_repo
from stagent.store import tasks as task_repo
from stagent.store import workflows as workflow_repo
from stagent.store.database import Session, Store
from stagent.store.hot import SqliteHotConnection

NOT_RETRIED = " (not retried: the runtime says a retry would fail the same way)"
"""Ends the error of a step whose run failed with an error its runtime marked not retryable
(a bad API key, an unknown model): its retry policy does not try it again (``why`` is
``final``). The step row keeps it, so a replay settling the row again reads ``final`` too."""

STEP_PRIORITY = 1
"""Workflow steps go ahead of ordinary tasks of the default priority."""


def begin(store: Store, workflow_id: str, run_number: int) -> dict[str, Any]:
    """The definition this run started from (its copy: an edit since does not reach a resume
    or a retry of it) and the state of every step of the run (a resume or a retry skips the
    settled ones: completed, failed, skipped)."""
    with store.read() as session:
        row = workflow_repo.get_row(session, workflow_id)
        steps = step_repo.step_facts(session, workflow_id, run_number)
        definition = workflow_repo.run_definition(session, row, run_number)
        return {"definition": definition, "steps": steps}


def stop_reason(
    store: Store, workflow_id: str, run_number: int, engine_id: str | None = None
) -> str | None:
    """Why the run must not start another step (paused or cancelled by a person, or a newer
    round -- ``engine_id`` names the asking one -- took over), else None."""
    with store.read() as session:
        return _stop(step_state.run_state(session, workflow_id), run_number, engine_id)


def superseded_round(state: step_state.RunState, run_number: int, engine_id: str | None) -> bool:
    """Whether a newer run, or a newer round of this run, replaced the round ``engine_id``."""
    return state.run_count != run_number or superseded(state.engine_id, engine_id)


def _stop(state: step_state.RunState, run_number: int, engine_id: str | None) -> str | None:
    if superseded_round(state, run_number, engine_id):
        return "superseded"
    if state.status == WorkflowStatus.PAUSED.value:
        return "human_pause"
    if state.status != WorkflowStatus.RUNNING.value:
        return "human_cancel"
    return None


def prepare(
    store: Store,
    workflow_id: str,
    run_number: int,
    step: WorkflowStep,
    prompt: str,
    *,
    engine_id: str | None = None,
    profiles: ProfileResolver | None = None,
) -> dict[str, Any]:
    """Unless the run must stop (`stop_reason`: then ``{"stop": reason}``), make (or find) the
    step's child task and queue a run of it: ``{"task": id, "run": number}``. A step whose task
    failed before (a retry) gets a new run of the same task. The step's profile is resolved
    into the run's options as for any task (`TaskService.run`). ``step.id`` is the step row's
    key (an instance's, ``<template>#<n>``, for a step made at run time). One transaction."""
    with store.write() as session:
        return prepare_in(session, workflow_id, run_number, step, prompt, engine_id, profiles)


def prepare_in(
    session: Session,
    workflow_id: str,
    run_number: int,
    step: WorkflowStep,
    prompt: str,
    engine_id: str | None,
    profiles: ProfileResolver | None,
    *,
    executing: str | None = None,
    step_row: step_state.StepValues | None = None,
    state: step_state.RunState | None = None,
) -> dict[str, Any]:
    """`prepare` inside the caller's transaction. ``executing``: the engine workflow that will
    execute the run (protocol stagent-wf-5: the interpreter), recorded as the run's engine id;
    then the run is queued and claimed at once (`stagent.store.lifecycle.start_run`) and the
    answer carries it as ``"claimed"`` (None if the task's run was in flight already: the
    caller claims, takes over, that one). ``step_row``: the step's row if the caller locked it
    already (`stagent.store.step_state.step_values`); ``state``: the workflow's state if the
    caller read it in this transaction (`stagent.store.step_state.step_start`). Rows are read
    and written as values."""
    if state is None:
        state = step_state.run_state(session, workflow_id)
    stop = _stop(state, run_number, engine_id)
    if stop is not None:
        return {"stop": stop}
    key = step.id
    if step_row is None:
        step_row = step_state.step_values(session, workflow_id, run_number, key)
    created: list[tuple[LogKind, dict[str, Any]]] = []
    if step_row.task_id is None:
        # A task made in this transaction is no one else's yet: its value needs no re-read.
        # Run here, its ``created`` is logged with its run's status events (one statement).
        new = _step_task(step, step_row, prompt, state.project_id, state.name)
        task = task_repo.create(session, new, log=executing is None)
        if executing is not None:
            created.append(task_repo.created_event(task))
    else:
        task = lifecycle.locked_task(session, step_row.task_id)
    held = step_row.status == StepStatus.WAITING.value and task.status is TaskStatus.WAITING
    step_state.write_step(
        session,
        workflow_id,
        run_number,
        key,
        {
            "task_id": task.id,
            # a run held at its checkpoint stays waiting
            "status": StepStatus.WAITING.value if held else StepStatus.RUNNING.value,
            "started_at": step_row.started_at or utcnow(),
            "error": None,
        },
    )
    if task.status in (TaskStatus.RUNNING, TaskStatus.WAITING) or (
        task.status is TaskStatus.QUEUED and task.workflow_id
    ):
        for kind, payload in created:  # (a task made here is planned: never in flight)
            event_repo.append(session, task.id, kind, payload)
        in_flight: dict[str, Any] = {"task": task.id, "run": task.run_count}
        return in_flight if executing is None else {**in_flight, "claimed": None}
    project = project_repo.get(session, task.project_id) if task.project_id else None
    profile_options, note = _profile_options(profiles, task)
    options = resolve_options(task, project, profile_options)
    reason = f"workflow {state.name}"
    if executing is not None:  # executed here: queued and claimed at once
        claim = lifecycle.start_run(
            session, task, options, reason=reason, engine_id=executing, logged_first=created
        )
        run = claim.run if claim is not None else None
    else:
        claim = None
        task, run = lifecycle.queue_run(session, task.id, options, reason=reason, task=task)
    if note is not None and run is not None:
        event_repo.append(session, task.id, "note", run_id=run.id, payload={"message": note})
    answer: dict[str, Any] = {
        "task": task.id,
        "run": run.number if run is not None else task.run_count,
    }
    if executing is not None:
        answer["claimed"] = claim
    return answer


def prepare_on_driver(
    hot: SqliteHotConnection,
    found: step_start.StepStart,
    run_number: int,
    step: WorkflowStep,
    prompt: str,
    engine_id: str | None,
    profiles: ProfileResolver | None,
    *,
    workflow_id: str,
    executing: str,
) -> dict[str, Any] | lifecycle.Claim | None:
    """`prepare_in` (with ``executing``) for the common start on SQLite's bare driver
    connection, in the transaction `stagent.store.step_start.begin` began and read ``found``
    in: a step with no task yet, whose run goes on. Returns ``{"stop": reason}`` (nothing
    written), or the claim of the new task's first run (task, run, events and the step row
    written), or None for any other start (nothing written: prepare it the full way)."""
    plan = plan_new_start(found, run_number, step, prompt, engine_id, profiles)
    if not isinstance(plan, NewStart):
        return plan
    claim = lifecycle.start_new_on_driver(
        hot,
        plan.planned,
        plan.options,
        reason=plan.reason,
        engine_id=executing,
        noted=plan.noted,
    )
    values = started_row_values(claim.task.id, found)
    step_start.write_step(hot, workflow_id, run_number, step.id, values)
    return claim


def started_row_values(task_id: str, found: step_start.StepStart) -> dict[str, Any]:
    """The step row's values once its task's first run started (both hot starts write them)."""
    return {
        "task_id": task_id,
        "status": StepStatus.RUNNING.value,
        "started_at": found.row.started_at or utcnow(),
        "error": None,
    }


@dataclass(frozen=True, slots=True)
class NewStart:
    """What the common start of a step writes (`plan_new_start`): the new task and its row's
    values, its run's options, the reason its ``status`` event gives and the run's notes."""

    planned: tuple[Task, dict[str, Any]]
    options: RunOptions
    reason: str
    noted: list[tuple[LogKind, dict[str, Any]]]


def plan_new_start(
    found: step_start.StepStart,
    run_number: int,
    step: WorkflowStep,
    prompt: str,
    engine_id: str | None,
    profiles: ProfileResolver | None,
) -> NewStart | dict[str, Any] | None:
    """`prepare_on_driver`'s decisions for a start read as ``found``, nothing written (for a
    writer outside a Session: PostgreSQL's hot start, `stagent.store.pg_step_start`): None if
    it is not the common start (a step with no task yet, its workflow there), ``{"stop":
    reason}`` if the run must stop, else what to write."""
    row, state = found.row, found.state
    if state is None or row.task_id is not None:
        return None
    stop = _stop(state, run_number, engine_id)
    if stop is not None:
        return {"stop": stop}
    planned = task_repo.planned(_step_task(step, row, prompt, state.project_id, state.name))
    task = planned[0]
    profile_options, note = _profile_options(profiles, task)
    directory = found.project_directory if task.project_id else None
    options = resolve_options(task, None, profile_options, project_directory=directory)
    noted: list[tuple[LogKind, dict[str, Any]]] = []
    if note is not None:
        noted.append(("note", {"message": note}))
    return NewStart(planned, options, f"workflow {state.name}", noted)


def step_options(step: WorkflowStep) -> RunOptions:
    """The run options of the child task ``step`` runs as: its own, its runtime and model, its
    ``timeout_seconds`` as the run's deadline."""
    options: RunOptions = parse_run_options(
        {**(step.options or {}), "runtime": step.runtime or DEFAULT_STEP_RUNTIME}, prefix="options."
    )
    if step.model:
        options = options.with_changes(model=step.model)
    if step.timeout_seconds is not None:
        limits = options.limits.model_copy(update={"deadline_seconds": step.timeout_seconds})
        options = options.with_changes(limits=limits.model_dump())
    return options


def made_from(task: Task, step: WorkflowStep) -> bool:
    """Whether ``task`` is the child task ``step`` makes (its prompt, runtime, options and
    profile): false once an edit changed the step. A retry runs a step's task again as it was
    made, so `WorkflowService.retry` refuses a step its task no longer matches."""
    options = step_options(step)
    return (
        task.runtime == options.runtime
        and task.options.stored() == options.stored()
        and (step.profile is None or task.profile == step.profile)
        and step.prompt in task.description
    )


def _step_task(
    step: WorkflowStep,
    row: step_state.StepValues,
    prompt: str,
    project_id: str | None,
    workflow_name: str,
) -> task_repo.NewTask:
    """The child task a step runs as: its options (runtime, model, ``timeout_seconds`` as the
    run's deadline), priority and title (``<workflow>: <step>``: the Board, Home and Monitor
    say which workflow a step belongs to)."""
    options = step_options(step)
    return task_repo.NewTask(
        title=f"{workflow_name}: {row.name or step.name}",
        description=prompt,
        project_id=project_id,
        runtime=options.runtime,
        profile=step.profile,
        priority=STEP_PRIORITY,
        options=options,
    )


def _profile_options(
    profiles: ProfileResolver | None, task: Task
) -> tuple[dict[str, Any] | None, str | None]:
    """The step task's profile options and the note for its log (a profile that no longer
    loads is noted, and the step runs on its own options)."""
    if not task.profile or profiles is None:
        return None, None
    try:
        _, options, note = profiles.resolve(
            task.profile, task.runtime, task.title, task.description, {}
        )
    except StagentError as exc:
        return None, f"profile {task.profile} was not applied: {exc.message}"
    return options, note


def settle(store: Store, workflow_id: str, run_number: int, key: str) -> dict[str, Any]:
    """Record the step's outcome from its task's final state; returns status, output, error and
    ``why`` (completed, failed, final -- failed, not to be retried --, cancelled, rejected or
    budget): a step a budget refused is put
    back (``blocked``: resuming runs it again)."""
    with store.write() as session:
        return settle_in(session, workflow_id, run_number, key)


def settle_in(session: Session, workflow_id: str, run_number: int, key: str) -> dict[str, Any]:
    """`settle` inside the caller's transaction (the one that ended the step's run)."""
    step_row = step_repo.step_row(session, workflow_id, run_number, key, for_update=True)
    task = task_repo.get_row(session, step_row.task_id or "", deleted=True)
    ok = task.status == TaskStatus.COMPLETED.value
    why = (
        "completed"
        if ok
        else step_outcomes.why_failed(session, task.id, task.run_count, task.status)
    )
    if why == "failed" and _ended_final(step_row.status, step_row.error):
        why = "final"
    values, outcome = _settled(why, task.status, task.result, task.error)
    if step_row.status in (StepStatus.COMPLETED.value, StepStatus.FAILED.value):
        # settled before (a replay asking again, protocol stagent-wf-6): it ended back then
        values["ended_at"] = step_row.ended_at or values["ended_at"]
    for name, value in values.items():
        setattr(step_row, name, value)
    return outcome


def _ended_final(status: str, error: str | None) -> bool:
    """Whether a step row settled before says its run's error was not to be retried."""
    return status == StepStatus.FAILED.value and (error or "").endswith(NOT_RETRIED)


def settle_ended(
    session: Session,
    workflow_id: str,
    run_number: int,
    key: str,
    run: Run,
    final: bool = False,
) -> dict[str, Any] | None:
    """`settle_in` for the step's run that this transaction just ended (``run``: the values
    `stagent.store.lifecycle.finish` wrote; the task ended with the same status, result and
    error): no re-read of the step row or the task. None if the step row is gone. ``final``:
    the runtime marked the run's error not retryable."""
    status = run.status.value
    ok = run.status is RunStatus.COMPLETED
    why = (
        "completed"
        if ok
        else step_outcomes.why_failed(session, run.task_id or "", run.number, status)
    )
    if why == "failed" and final:
        why = "final"
    values, outcome = _settled(why, status, run.result, run.error)
    if not step_state.write_step(session, workflow_id, run_number, key, values):
        return None
    return outcome


def _settled(
    why: str, status: str, result: str | None, error: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The step row's values and the step's outcome, from how its task ended (``why``, its
    status, result and error)."""
    ok = why == "completed"
    values: dict[str, Any] = {
        "status": (StepStatus.COMPLETED if ok else StepStatus.FAILED).value,
        "output": result if ok else None,
        "error": None if ok else (error or f"its task ended {status}"),
        "ended_at": utcnow(),
    }
    if why == "final":
        values["error"] = f"{values['error']}{NOT_RETRIED}"
    refusal = values["error"] if why == "budget" else None
    if why == "budget":  # put back: the next round (a resume) runs it again
        values["status"] = StepStatus.BLOCKED.value
        values["error"] = f"budget exhausted: {refusal}"
    outcome = {
        "status": values["status"],
        "output": values["output"],
        "error": refusal or values["error"],
        "why": why,
    }
    return values, outcome


StepRef = tuple[str, int, str, bool]
"""A step of a workflow run, as its task run's child workflow carries it: (workflow id, run
number, step key, whether the step ``requires_approval``). The interpreter's own step says
whether it is gated, so the run need not read the definition to know (see
`stagent.engine.workflow_checkpoints.step_known`)."""


def settle_after_run(store: Store, step: StepRef) -> dict[str, Any]:
    """`settle`, called by the step's own task run workflow once the run ended (its return
    value is then the outcome the interpreter reads: one DBOS result instead of a DBOS step of
    the interpreter's). Safe to run twice, as `settle`."""
    return settle(store, step[0], step[1], step[2])


class SettleOnEnd:
    """The executor's end hook for a step's run: settles the step row in the transaction that
    ends the run (one commit fewer than `settle_after_run` after it), from the values the end
    wrote (`settle_ended`). ``outcome`` stays None when this execution did not end the run (it
    had ended before, or was taken over): then `settle_after_run` settles it as before."""

    def __init__(self, step: StepRef) -> None:
        self.step = step
        self.outcome: dict[str, Any] | None = None
        self.final = False
        """The run's error is one its runtime marked not retryable."""

    def ended_with(self, final: RuntimeEvent | None) -> None:
        """Note whether the runtime's final event is an error it marked not retryable."""
        self.final = isinstance(final, ErrorEvent) and final.retryable is False

    def __call__(self, session: Session, run: Run) -> None:
        """Settle the step in ``session`` (``run``: its end, written there already). A step row
        that cannot be found leaves the run's end alone (`result` then says why)."""
        step = self.step
        self.outcome = settle_ended(session, step[0], step[1], step[2], run, self.final)

    def fits_driver(self, status: RunStatus) -> bool:
        """Every end settles on SQLite's driver."""
        del status
        return True

    def on_driver(self, hot: SqliteHotConnection, run: Run) -> None:
        """`__call__` on SQLite's bare driver connection, in the end's open transaction:
        the step row's one ``UPDATE`` (after one read for a run that failed: why,
        `step_outcomes.why_failed_on_driver`)."""
        why = (
            "completed"
            if run.status is RunStatus.COMPLETED
            else step_outcomes.why_failed_on_driver(hot, run.id, run.status.value)
        )
        if why == "failed" and self.final:
            why = "final"
        values, outcome = _settled(why, run.status.value, run.result, run.error)
        written = step_start.write_step(hot, self.step[0], self.step[1], self.step[2], values)
        self.outcome = outcome if written else None

    def result(self, store: Store) -> dict[str, Any]:
        """The step's settled outcome: the one written with the run's end, else `settle`."""
        return self.outcome if self.outcome is not None else settle_after_run(store, self.step)


def skip(
    store: Store,
    workflow_id: str,
    run_number: int,
    key: str,
    reason: str,
    engine_id: str | None = None,
) -> dict[str, Any]:
    """Unless the run must stop (``{"stop": reason}``, as `prepare`), record that a step's
    condition was false: it is ``skipped``, with the reason."""
    with store.write() as session:
        stop = _stop(step_state.run_state(session, workflow_id), run_number, engine_id)
        if stop is not None:
            return {"stop": stop}
        step_row = step_repo.step_row(session, workflow_id, run_number, key, for_update=True)
        step_row.status = StepStatus.SKIPPED.value
        step_row.output = None
        step_row.error = reason
        step_row.started_at = step_row.started_at or utcnow()
        step_row.ended_at = utcnow()
        return {"status": step_row.status, "output": None, "error": reason, "why": "skipped"}


def note_retry(
    store: Store, workflow_id: str, run_number: int, key: str, attempt: int, wait: float
) -> None:
    """Log on the step's task that its failed run will be tried again (attempt n of m)."""
    with store.write() as session:
        step_row = step_repo.step_row(session, workflow_id, run_number, key, for_update=True)
        step_row.status = StepStatus.RUNNING.value
        step_row.ended_at = None
        if step_row.task_id is not None:
            after = f" in {wait:g} s" if wait else ""
            event_repo.append(
                session,
                step_row.task_id,
                "note",
                {
                    "message": f"workflow retry policy: trying the step again{after} "
                    f"(attempt {attempt})"
                },
            )


def block(store: Store, workflow_id: str, run_number: int, key: str, reason: str) -> None:
    """Mark a step that will not run because something it needs failed."""
    with store.write() as session:
        step_row = step_repo.step_row(session, workflow_id, run_number, key, for_update=True)
        step_row.status = StepStatus.BLOCKED.value
        step_row.error = reason
        step_row.ended_at = utcnow()


def superseded(current: str | None, asking: str | None) -> bool:
    """True if a newer round of the run (``current``) replaced the one asking."""
    return current is not None and asking is not None and current != asking


def finish(
    store: Store,
    workflow_id: str,
    run_number: int,
    status: str,
    reason: str | None,
    engine_id: str | None = None,
) -> str:
    """End the run (or mark it paused) unless a person already ended it or a newer round took
    over; returns the status."""
    with store.write() as session:
        row = workflow_repo.get_row(session, workflow_id, for_update=True)
        if superseded(row.engine_id, engine_id):
            return row.status
        if row.run_count != run_number or row.status in (
            WorkflowStatus.CANCELLED.value,
            WorkflowStatus.COMPLETED.value,
        ):
            return row.status
        workflow_repo.end(session, row, WorkflowStatus(status), reason)
        return status
