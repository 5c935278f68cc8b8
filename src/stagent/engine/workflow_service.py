"""Workflows as the CLI, the API and tests use them: add, list, show, run, pause, resume,
cancel, retry a failed step and re-run from a step.

A run is executed by a worker's workflow queue (`stagent.engine.workflow_durable`); this service
only writes rows and enqueues, so any process can call it. Each engine execution of a run is a
*round*: a resume or a retry starts a new round, which skips the steps already settled.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from stagent.domain.errors import ConflictError, StagentError, ValidationError
from stagent.domain.workflow_changes import Edited, changes
from stagent.domain.workflow_files import (
    WorkflowDefinitionError,
    load_definition,
    parse_definition,
    step_problems,
)
from stagent.domain.workflow_outline import StepOutline, outline_of
from stagent.domain.workflow_runs import (
    StepCost,
    StepStatus,
    Workflow,
    WorkflowStatus,
    downstream,
    initial_step_keys,
    split_key,
)
from stagent.domain.workflows import DEFAULT_STEP_RUNTIME, WorkflowDefinition, definition_of
from stagent.engine.profile_hook import ProfileResolver
from stagent.engine.queue import TaskQueueClient
from stagent.engine.services import TaskService
from stagent.engine.workflow_edits import (
    check_editable,
    check_rerun,
    check_retry,
    check_tasks_unedited,
)
from stagent.engine.workflow_readiness import refuse_unready, steps_to_run
from stagent.store import projects as project_repo
from stagent.store import step_rows as step_repo
from stagent.store import step_state
from stagent.store import workflows as workflow_repo
from stagent.store.database import Store

RETRYABLE = (StepStatus.FAILED.value, StepStatus.BLOCKED.value)
SKIPPED = StepStatus.SKIPPED.value
REUSABLE = (StepStatus.COMPLETED.value, StepStatus.SKIPPED.value)
"""A re-run from a step reuses the other steps only if they ended this way."""
IN_FLIGHT = (StepStatus.RUNNING.value, StepStatus.WAITING.value)


class Keep(Enum):
    """`WorkflowService.update`'s ``project`` when the request names none: keep the stored one."""

    PROJECT = "keep"


def read_definition(path: Path) -> str:
    """A definition file's text, or a `ValidationError` naming the file and what to check."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError(f"{path}: no such workflow file", hint="check the path") from None
    except IsADirectoryError:
        raise ValidationError(
            f"{path}: is a directory", hint="give the YAML or JSON file itself"
        ) from None
    except UnicodeDecodeError:
        raise ValidationError(
            f"{path}: is not UTF-8 text", hint="save the definition as UTF-8 YAML or JSON"
        ) from None
    except OSError as exc:
        raise ValidationError(f"{path}: cannot read it ({exc.strerror})") from None


class WorkflowService:
    """Store, start and steer workflows."""

    def __init__(
        self,
        store: Store,
        queue: TaskQueueClient,
        tasks: TaskService,
        profiles: ProfileResolver | None = None,
    ) -> None:
        self._store = store
        self._queue = queue
        self._tasks = tasks
        self._profiles = profiles

    def add_file(self, path: Path, *, project: str | None = None) -> Workflow:
        """Validate a YAML or JSON file and store it; errors name file, line, step and field."""
        return self.add_text(read_definition(path), source=str(path), project=project)

    def add_text(
        self, text: str, *, source: str = "<request>", project: str | None = None
    ) -> Workflow:
        """Validate YAML or JSON text and store it."""
        return self.add(self.load(text, source), project=project, source=source, text=text)

    def load(self, text: str, source: str = "<request>") -> WorkflowDefinition:
        """Validate YAML or JSON text: every problem at once, each step's runtime and profile
        among them (`parse_definition` with `step_refusals`)."""
        return load_definition(text, source, check_step=self.step_refusals)

    def parse(
        self, data: object, *, source: str = "definition", text: str | None = None
    ) -> WorkflowDefinition:
        """Validate definition data as `load` validates text."""
        return parse_definition(data, source=source, text=text, check_step=self.step_refusals)

    def add(
        self,
        definition: WorkflowDefinition,
        *,
        project: str | None = None,
        source: str = "definition",
        text: str | None = None,
    ) -> Workflow:
        """Store a validated definition as a draft (each step's runtime must exist, and its
        profile too, supporting the step's runtime: `check_steps`, whose errors name
        ``source``, the line in ``text``, the step and the field)."""
        self.check_steps(definition, source=source, text=text)
        with self._store.write() as session:
            project_id = project_repo.get(session, project).id if project else None
            return workflow_repo.create(session, definition, project_id=project_id)

    def update_file(
        self, ref: str, path: Path, *, project: str | None | Keep = Keep.PROJECT
    ) -> Edited:
        """Replace a workflow's definition with a YAML or JSON file's (`update`)."""
        self.get_id(ref)  # an unknown workflow is said before the file's problems
        text, source = read_definition(path), str(path)
        return self.update(ref, self.load(text, source), project=project, source=source, text=text)

    def update_text(
        self,
        ref: str,
        text: str,
        *,
        source: str = "<request>",
        project: str | None | Keep = Keep.PROJECT,
    ) -> Edited:
        """Replace a workflow's definition with YAML or JSON text (`update`)."""
        self.get_id(ref)
        definition = self.load(text, source)
        return self.update(ref, definition, project=project, source=source, text=text)

    def update(
        self,
        ref: str,
        definition: WorkflowDefinition,
        *,
        project: str | None | Keep = Keep.PROJECT,
        source: str = "definition",
        text: str | None = None,
    ) -> Edited:
        """Replace a workflow's definition: the editor's save, ``PUT /api/v1/workflows/{id}``
        and ``stagent workflow edit`` all come here. Validated as `add` validates; ``project``
        (id or name; None: none) is kept unless given. Refused (`ConflictError`) while a run is
        running or paused: see `check_editable`. Returns the workflow and what changed."""
        self.check_steps(definition, source=source, text=text)
        with self._store.write() as session:
            row = workflow_repo.get_row(session, ref, for_update=True)
            check_editable(row.id, WorkflowStatus(row.status), row.run_count)
            before = WorkflowDefinition.model_validate(row.definition)
            found = changes(before, definition)
            if isinstance(project, Keep):
                project_id = row.project_id
            else:
                project_id = project_repo.get(session, project).id if project else None
            moved = project_id != row.project_id
            if found.empty and not moved:
                workflow = workflow_repo.get(session, row.id)
            else:
                workflow = workflow_repo.replace_definition(session, row, definition, project_id)
            return Edited(workflow, found, project_changed=moved)

    def get_id(self, ref: str) -> str:
        """The id of the workflow ``ref`` names (id, or unique name); `NotFoundError` if none."""
        with self._store.read() as session:
            return workflow_repo.get_row(session, ref).id

    def step_costs(self, workflow: Workflow) -> dict[str, StepCost]:
        """What each step of the latest run that has a task has cost so far: real spend in
        micro-USD, and whether it ran simulated (every run of its task on a runtime that calls
        no model: issue 12's simulated runs, which never count as spend)."""
        with self._store.read() as session:
            found = step_repo.step_costs(session, workflow.id, workflow.run_count)
        spent: dict[str, int] = {}
        real: set[str] = set()
        for key, runtime, micros in found:
            spent.setdefault(key, 0)
            if not self._tasks.is_simulated(runtime):
                spent[key] += micros
                real.add(key)
        return {key: StepCost(micros, simulated=key not in real) for key, micros in spent.items()}

    def step_tasks(self) -> dict[str, str]:
        """Every task that runs a workflow step, with its workflow's id."""
        with self._store.read() as session:
            return step_repo.step_task_ids(session)

    def start(self, definition: WorkflowDefinition, *, project: str | None = None) -> Workflow:
        """Store a definition and start its first run (a definition that cannot run, or whose
        steps' runtimes are not ready here, is refused before anything is stored)."""
        self.check_runnable(definition)
        self.require_ready(definition)
        return self.run(self.add(definition, project=project).id)

    def start_file(self, path: Path, *, project: str | None = None) -> Workflow:
        """`start` a YAML or JSON file's definition (errors name file, line, step and field)."""
        text, source = read_definition(path), str(path)
        definition = self.load(text, source)
        self.require_ready(definition)
        workflow = self.add(definition, project=project, source=source, text=text)
        return self.run(workflow.id)

    def require_ready(self, definition: WorkflowDefinition) -> None:
        """Raise `RuntimeUnavailableError` naming every step whose runtime cannot run here now
        (step, runtime, reason, fix), as ``task run`` refuses its task's (`refuse_unready`)."""
        refuse_unready(definition, self._tasks.require_ready)

    def require_ready_to(self, ref: str, step: str | None = None, *, rerun: bool = False) -> None:
        """Refuse a resume (``step`` None), a retry of ``step`` or a re-run from it up front,
        as `run` refuses a run, when a step it would run (`steps_to_run`) has a runtime that
        is not ready here: `RuntimeUnavailableError` naming each such step, its runtime and
        the fix, before anything is written. A retry and a resume run the run's own
        definition, a re-run the stored one. Checked on what a read shows, outside the write
        lock (a check may run a binary); anything else wrong is the action's own to say."""
        try:
            with self._store.read() as session:
                row = workflow_repo.get_row(session, ref)
                data = row.definition
                if not rerun:
                    data = workflow_repo.run_definition(session, row, row.run_count)
                rows = step_repo.step_rows(session, row.id, row.run_count)
                found = [(r.step_key, r.status) for r in rows]
            definition = WorkflowDefinition.model_validate(data)
        except StagentError:
            return
        only = steps_to_run(definition, found, step, rerun=rerun)
        refuse_unready(definition, self._tasks.require_ready, only)

    def check_runnable(self, definition: WorkflowDefinition) -> None:
        """Raise the reason ``definition`` cannot run here (a step's runtime or profile)."""
        self.check_steps(definition)

    def check_steps(
        self, definition: WorkflowDefinition, *, source: str = "definition", text: str | None = None
    ) -> None:
        """Raise a `WorkflowDefinitionError` naming every step whose runtime is unknown, or whose
        profile is unknown or does not support the step's runtime (with the line in ``text``)."""
        problems = step_problems(
            outline_of(definition), self.step_refusals, source=source, text=text
        )
        if problems:
            raise WorkflowDefinitionError.of(problems)

    def step_refusals(self, step: StepOutline) -> list[tuple[str, str, str | None]]:
        """Why ``step`` cannot run here, as (field, problem, hint): its runtime is unknown, or
        its profile is unknown or does not support that runtime."""
        runtime = step.runtime or DEFAULT_STEP_RUNTIME
        field = "runtime"
        try:
            self._tasks.require_runtime(runtime)
            field = "profile"
            if step.profile and self._profiles is not None:
                self._profiles.check(step.profile, runtime)
        except StagentError as exc:
            return [(field, exc.message.removeprefix(f"{field}: "), exc.hint)]
        return []

    def list(self, *, status: WorkflowStatus | None = None) -> list[Workflow]:
        """Workflows, newest first."""
        with self._store.read() as session:
            return workflow_repo.list_all(session, status=status)

    def get(self, ref: str) -> Workflow:
        """A workflow (by id or unique name) with the steps of its latest run."""
        with self._store.read() as session:
            return workflow_repo.get(session, ref)

    def run(self, ref: str) -> Workflow:
        """Start a new run; a worker's workflow queue executes it. Refused, with nothing
        written, if a step's runtime is not ready here (`require_ready`: checked outside the
        write lock, as it may run a binary)."""
        with self._store.read() as session:
            found = workflow_repo.get_row(session, ref)
            checked = found.definition
        self.require_ready(definition_of(found.id, checked))
        with self._store.write() as session:
            row = workflow_repo.get_row(session, ref, for_update=True)
            if row.definition != checked:
                raise ConflictError(
                    f"workflow {row.id} was edited while its run was starting",
                    hint="run it again to run the edit",
                )
            engine_id, number = workflow_repo.begin_run(session, row)
            begun = workflow_repo.started(session, row)
        self._queue.enqueue_workflow(engine_id, begun.id, number)
        return begun

    def pause(self, ref: str) -> Workflow:
        """Stop before the next step (the step now running finishes)."""
        return self._move(
            ref, WorkflowStatus.RUNNING, WorkflowStatus.PAUSED, "paused by a person", "human_pause"
        )

    def resume(self, ref: str) -> Workflow:
        """Continue a paused run at its first unfinished step (refused up front if a step it
        would run has a runtime not ready here: `require_ready_to`)."""
        self.require_ready_to(ref)
        with self._store.write() as session:
            row = workflow_repo.get_row(session, ref, for_update=True)
            if row.status != WorkflowStatus.PAUSED.value:
                raise ConflictError(
                    f"workflow {row.id} is {row.status}, not paused",
                    hint="only a paused run resumes",
                )
            row.status = WorkflowStatus.RUNNING.value
            row.stop_reason = None
            engine_id = workflow_repo.next_round(row)
            workflow_id, number = row.id, row.run_count
        self._queue.enqueue_workflow(engine_id, workflow_id, number)
        return self.get(workflow_id)

    def cancel(self, ref: str) -> Workflow:
        """Cancel a running or paused run and the step tasks it has in flight."""
        with self._store.write() as session:
            row = workflow_repo.get_row(session, ref, for_update=True)
            if row.status not in (WorkflowStatus.RUNNING.value, WorkflowStatus.PAUSED.value):
                raise ConflictError(f"workflow {row.id} is {row.status}; nothing to cancel")
            workflow_repo.end(
                session, row, WorkflowStatus.CANCELLED, "cancelled by a person", "human_cancel"
            )
            engine_id, workflow_id = row.engine_id, row.id
            tasks = [
                s.task_id
                for s in step_repo.step_rows(session, row.id, row.run_count)
                if s.task_id and s.status in IN_FLIGHT
            ]
        if engine_id:
            self._queue.cancel(engine_id)
        for task_id in tasks:
            if self._tasks.get(task_id).status.is_active:
                self._tasks.cancel(task_id)
        return self.get(workflow_id)

    def retry(self, ref: str, step: str) -> Workflow:
        """Run a failed (or blocked) step again, then what depends on it (`downstream`); the
        other steps that completed are not run again (nor sent to a model). Refused up front
        if a step it would run has a runtime not ready here (`require_ready_to`)."""
        self.require_ready_to(ref, step)
        with self._store.write() as session:
            row = workflow_repo.get_row(session, ref, for_update=True)
            if row.status not in (WorkflowStatus.FAILED.value, WorkflowStatus.CANCELLED.value):
                raise ConflictError(
                    f"workflow {row.id} is {row.status}; a step is retried after the run failed",
                    hint="wait for the run to end",
                )
            step_row = step_repo.step_row(session, row.id, row.run_count, step, for_update=True)
            rows = step_repo.step_rows(session, row.id, row.run_count)
            keys = [r.step_key for r in rows]
            ran = WorkflowDefinition.model_validate(
                workflow_repo.run_definition(session, row, row.run_count)
            )
            templates = {s.id for s in ran.steps}
            if not set(initial_step_keys(ran)) <= set(keys) or split_key(step)[0] not in templates:
                raise ConflictError(
                    f"workflow {row.id} was edited since this run: its steps are not the run's",
                    hint="start a new run of the edited workflow",
                )
            if step_row.status not in RETRYABLE:
                raise ConflictError(
                    f"step {step} is {step_row.status}; only a failed or blocked step is retried",
                    hint=f"to run it again and what depends on it: stagent workflow rerun "
                    f"{row.id} {step} (API: POST .../steps/{step}/rerun)",
                )
            after = set(downstream(ran, keys, step))
            again = [step_row] + [
                other
                for other in rows
                if other.status == StepStatus.BLOCKED.value
                or (other.step_key in after and other.status in RETRYABLE + (SKIPPED,))
            ]
            stored = WorkflowDefinition.model_validate(row.definition)
            check_tasks_unedited(session, row.id, row.run_count, stored, again)
            unrun = {r.step_key for r in again}
            have_rows = {split_key(k)[0] for k in keys}
            to_run = [
                r.step_key for r in rows if r.step_key in unrun or r.status == StepStatus.PENDING
            ] + [t.id for t in ran.steps if t.id not in have_rows]
            check_retry(row.id, row.run_count, ran, stored, to_run, keys)
            for other in again:
                other.status = StepStatus.PENDING.value
                other.error = None
            row.status = WorkflowStatus.RUNNING.value
            row.stop_reason = None
            row.finished_at = None
            engine_id = workflow_repo.next_round(row)
            workflow_id, number = row.id, row.run_count
        self._queue.enqueue_workflow(engine_id, workflow_id, number)
        return self.get(workflow_id)

    def rerun(self, ref: str, step: str) -> Workflow:
        """Start a new run from ``step``: it and what depends on it (`downstream`) run again;
        every other step reuses its output from the latest run (nothing is sent to a model
        again). Refused while a run is running or paused, and up front if a step it would run
        has a runtime not ready here (`require_ready_to`)."""
        self.require_ready_to(ref, step, rerun=True)
        with self._store.write() as session:
            row = workflow_repo.get_row(session, ref, for_update=True)
            if WorkflowStatus(row.status) in (WorkflowStatus.RUNNING, WorkflowStatus.PAUSED):
                raise ConflictError(
                    f"workflow {row.id} is {row.status}",
                    hint="cancel it (or let it end) before re-running from a step",
                )
            if row.run_count == 0:
                raise ConflictError(
                    f"workflow {row.id} has not run yet; there is nothing to reuse",
                    hint="run it first",
                )
            previous = step_repo.step_rows(session, row.id, row.run_count)
            keys = [r.step_key for r in previous]
            if step not in keys:
                raise ValidationError(
                    f"step: workflow {row.id} has no step {step!r} in run {row.run_count}",
                    hint=f"choose one of: {', '.join(keys)}",
                )
            ran = WorkflowDefinition.model_validate(
                workflow_repo.run_definition(session, row, row.run_count)
            )
            stored = WorkflowDefinition.model_validate(row.definition)
            again = {step, *downstream(stored, keys, step)}
            reused = [r for r in previous if r.step_key not in again]
            unfinished = next((r for r in reused if r.status not in REUSABLE), None)
            if unfinished is not None:
                raise ConflictError(
                    f"step {unfinished.step_key} is {unfinished.status} in run {row.run_count}, "
                    f"so its output cannot be reused",
                    hint=f"re-run from {unfinished.step_key} instead",
                )
            check_rerun(row.id, row.run_count, ran, stored, [r.step_key for r in reused])
            number = workflow_repo.start_run(session, row)
            step_repo.reuse_steps(session, row.id, number, reused)
            engine_id = workflow_repo.next_round(row, first=True)
            workflow_id = row.id
        self._queue.enqueue_workflow(engine_id, workflow_id, number)
        return self.get(workflow_id)

    def wait(
        self, ref: str, *, timeout: float = 60.0, until: frozenset[str] | None = None
    ) -> Workflow:
        """Block until the run leaves ``running`` (or reaches a status in ``until``). Each wake
        reads the workflow's status alone; the steps are loaded once, at the end."""
        import time

        deadline = time.monotonic() + timeout
        seen = self._store.changes.version
        workflow_id = self.get(ref).id
        while True:
            with self._store.read() as session:
                status = WorkflowStatus(step_state.run_state(session, workflow_id).status)
            done = status.value in until if until else not status.is_active
            remaining = deadline - time.monotonic()
            if done or remaining <= 0:
                return self.get(workflow_id)
            seen = self._store.changes.wait(seen, min(remaining, 0.5))

    def _move(
        self, ref: str, source: WorkflowStatus, target: WorkflowStatus, reason: str, code: str
    ) -> Workflow:
        with self._store.write() as session:
            row = workflow_repo.get_row(session, ref, for_update=True)
            if row.status != source.value:
                raise ConflictError(f"workflow {row.id} is {row.status}, not {source.value}")
            row.status = target.value
            row.stop_reason = reason
            row.stop_code = code
            return workflow_repo.to_workflow(row)
