"""The service layer the CLI, the web app and tests call: projects and tasks.

Every state change goes through the lifecycle in `stagent.domain.tasks`; every change is written
to the task's event log in the same transaction, so the log is a complete audit trail and the
workspace's change feed.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from stagent.domain.board import Count, Cursor
from stagent.domain.errors import ConflictError, InvalidTransitionError, ValidationError
from stagent.domain.events import LoggedEvent
from stagent.domain.limits import (
    DESCRIPTION_MAX,
    NAME_MAX,
    TITLE_MAX,
    checked_path,
    checked_text,
)
from stagent.domain.run_options import RUNTIME_OPTION_FIELDS, RunOptions, parse_run_options
from stagent.domain.runs import Run
from stagent.domain.tasks import BOARD_MOVES, Project, Task, TaskStatus
from stagent.engine.options import resolve as resolve_options
from stagent.engine.profile_hook import ProfileResolver
from stagent.engine.queue import TASK_QUEUE, TaskQueueClient, queued
from stagent.runtimes.registry import RuntimeRegistry
from stagent.runtimes.scenario import load_scenario_file, parse_scenario, scenario_to_data
from stagent.store import board as board_repo
from stagent.store import events as event_repo
from stagent.store import lifecycle
from stagent.store import projects as project_repo
from stagent.store import runs as run_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store, flushed_connection


def _expanded(text: str) -> Path | None:
    """``text`` with ``~`` expanded, resolved; None for ``~name`` of a user this machine does
    not have (`Path.expanduser` raises `RuntimeError` there)."""
    try:
        return Path(text).expanduser().resolve()
    except RuntimeError:
        return None


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a name too long for the file system, a loop of links
        return False


class ProjectService:
    """Create, list and inspect projects."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def create(self, name: str, *, description: str = "", directory: str | None = None) -> Project:
        """Create a project; ``directory`` becomes the working directory of its agents."""
        name = checked_text("name", name.strip(), NAME_MAX)
        description = checked_text("description", description, DESCRIPTION_MAX)
        if not name:
            raise ValidationError("name: a project needs a name")
        if directory:
            path = _expanded(checked_path("directory", directory))
            if path is None or not _is_dir(path):
                raise ValidationError(
                    f"directory: {path or directory} does not exist or is not a directory",
                    hint="create it first, or leave the directory out",
                )
            directory = str(path)
        with self._store.write() as session:
            return project_repo.create(
                session, name=name, description=description, working_directory=directory
            )

    def list(self) -> list[Project]:
        """All projects by name."""
        with self._store.read() as session:
            return project_repo.list_all(session)

    def get(self, ref: str) -> Project:
        """A project by id or name."""
        with self._store.read() as session:
            return project_repo.get(session, ref)

    def task_counts(self) -> dict[str, dict[str, int]]:
        """Per project id, its task count by status."""
        with self._store.read() as session:
            return project_repo.task_counts(session)

    def delete(self, ref: str) -> None:
        """Delete a project (its tasks are kept, without a project)."""
        with self._store.write() as session:
            project_repo.delete(session, ref)


@dataclass(frozen=True, slots=True)
class TaskDraft:
    """What a person provides to create a task."""

    title: str
    description: str = ""
    project: str | None = None
    runtime: str = "scripted"
    profile: str | None = None
    priority: int = 2
    scenario_file: Path | None = None
    scenario: dict[str, Any] | None = None
    options: dict[str, Any] | None = None
    """Run options as data (`RunOptions` without ``runtime``); validated, errors name the field."""


class _RuntimeUncheckedError(Exception):
    """`TaskService.run`: the task's runtime must pass `RuntimeRegistry.require_ready` before it
    is queued (raised inside the write transaction, which it rolls back)."""

    def __init__(self, runtime: str) -> None:
        super().__init__(runtime)
        self.runtime = runtime


class TaskService:
    """Create, edit, run and cancel tasks, and read their logs."""

    def __init__(
        self,
        store: Store,
        runtimes: RuntimeRegistry,
        queue: TaskQueueClient,
        profiles: ProfileResolver | None = None,
    ) -> None:
        self._store = store
        self._runtimes = runtimes
        self._queue = queue
        self._profiles = profiles

    def is_simulated(self, runtime: str) -> bool:
        """True if ``runtime`` calls no model (the scripted one): its runs spend nothing."""
        return self._runtimes.is_simulated(runtime)

    def require_runtime(self, name: str) -> None:
        """Raise the error listing the runtimes this workspace has if ``name`` is not one."""
        self._runtimes.require(name)

    def require_ready(self, name: str) -> None:
        """Raise `RuntimeUnavailableError` (reason, and the fix as its hint) if ``name`` cannot
        run here now: the check `run` makes before it queues (`RuntimeRegistry.require_ready`)."""
        self._runtimes.require_ready(name)

    def create(self, draft: TaskDraft) -> Task:
        """Create a planned task after validating its runtime, project and run options."""
        title = checked_text("title", draft.title.strip(), TITLE_MAX)
        checked_text("description", draft.description, DESCRIPTION_MAX)
        if not title:
            raise ValidationError("title: a task needs a title")
        self._runtimes.require(draft.runtime)
        if draft.profile and self._profiles is not None:
            self._profiles.check(draft.profile, draft.runtime)
        plays = self._runtimes.plays_scenarios(draft.runtime)
        if (draft.scenario_file or draft.scenario) and not (
            plays or self._runtimes.is_simulated(draft.runtime)
        ):
            raise ValidationError(
                f"scenario: only the scripted runtime plays a scenario; {draft.runtime} would "
                "ignore it",
                hint="leave the scenario out, or choose the scripted runtime",
            )
        options = task_options(draft.runtime, draft.options, draft.scenario, draft.scenario_file)
        with self._store.write() as session:
            project_id = project_repo.get(session, draft.project).id if draft.project else None
            return task_repo.create(
                session,
                task_repo.NewTask(
                    title=title,
                    description=draft.description,
                    project_id=project_id,
                    runtime=draft.runtime,
                    profile=draft.profile,
                    priority=_check_priority(draft.priority),
                    options=options,
                ),
            )

    def get(self, task_id: str) -> Task:
        """One task."""
        with self._store.read() as session:
            return task_repo.get(session, task_id)

    def statuses(self, task_ids: list[str]) -> dict[str, TaskStatus]:
        """The status of each of these tasks (one narrow read; unknown ids are left out)."""
        with self._store.read() as session:
            return task_repo.statuses(session, task_ids)

    def count_by_status(self) -> dict[str, int]:
        """How many tasks are in each status, every task counted (absent statuses left out)."""
        with self._store.read() as session:
            return task_repo.count_by_status(session)

    def board_counts(self) -> dict[str, Count]:
        """Every status's task count, with and without workflow steps (every task counted)."""
        with self._store.read() as session:
            return board_repo.counts(session)

    def board_newest(self, per_status: int, *, hide_steps: bool = False) -> list[Task]:
        """The ``per_status`` newest tasks of each status, newest first."""
        with self._store.read() as session:
            return board_repo.newest_by_status(session, per_status, hide_steps=hide_steps)

    def board_page(
        self,
        statuses: list[str] | None,
        after: Cursor | None,
        limit: int,
        *,
        hide_steps: bool = False,
    ) -> tuple[list[Task], int]:
        """Up to ``limit`` tasks of ``statuses`` (None: all) past ``after`` in the Board's order
        (newest first), and how many are left past them."""
        with self._store.read() as session:
            return board_repo.page(session, statuses, after, limit, hide_steps=hide_steps)

    def recently_changed(self, limit: int = 8) -> list[Task]:
        """The ``limit`` tasks changed last, latest first."""
        with self._store.read() as session:
            return task_repo.recently_changed(session, limit)

    def list(self, *, status: TaskStatus | None = None, project: str | None = None) -> list[Task]:
        """Tasks, newest first."""
        with self._store.read() as session:
            project_id = project_repo.get(session, project).id if project else None
            return task_repo.list_tasks(session, status=status, project_id=project_id)

    def events(self, task_id: str, *, after: int = 0) -> list[LoggedEvent]:
        """A task's log (after ``seq``)."""
        with self._store.read() as session:
            task_repo.get_row(session, task_id)
            return event_repo.for_task(session, task_id, after=after)

    def runs(self, task_id: str) -> list[Run]:
        """A task's runs, oldest first: its history, one record per run."""
        with self._store.read() as session:
            task_repo.get_row(session, task_id)
            return run_repo.for_task(session, task_id)

    def run_record(self, run_id: str) -> Run:
        """One run by id."""
        with self._store.read() as session:
            return run_repo.get(session, run_id)

    def spent_so_far(self, run_id: str) -> int:
        """What a run's calls booked in the ledger so far (micro-USD): a live run's cost (its
        ``cost_micros`` is settled only when it ends)."""
        with self._store.read() as session:
            return run_repo.spent(session, run_id)

    def run_events(self, run_id: str) -> list[LoggedEvent]:
        """One run's events, in order."""
        with self._store.read() as session:
            run_repo.get_row(session, run_id)
            return event_repo.for_run(session, run_id)

    def update(self, task_id: str, changes: dict[str, Any]) -> Task:
        """Edit title, description, project, runtime, profile, priority or run options (not
        while it runs). Options are validated against the (new) runtime; errors name the field."""
        unknown = set(changes) - task_repo.EDITABLE_FIELDS
        if unknown:
            raise ValidationError(f"{', '.join(sorted(unknown))}: not an editable task field")
        if "runtime" in changes:
            self._runtimes.require(changes["runtime"])
        changes = dict(changes)
        if "priority" in changes:
            _check_priority(changes["priority"])
        if "title" in changes:  # stored as `create` stores it: trimmed text
            changes["title"] = checked_text("title", str(changes["title"] or "").strip(), TITLE_MAX)
            if not changes["title"]:
                raise ValidationError("title: a task needs a title")
        if "description" in changes:  # no description is an empty one (the column is NOT NULL)
            description = str(changes["description"] or "")
            changes["description"] = checked_text("description", description, DESCRIPTION_MAX)
        with self._store.write() as session:
            if changes.get("project_id"):
                changes["project_id"] = project_repo.get(session, changes["project_id"]).id
            row = task_repo.get_row(session, task_id, for_update=True)
            if TaskStatus(row.status).is_active:
                raise ConflictError(
                    f"task {task_id} is {row.status}; it cannot be edited until it ends",
                    hint="cancel it first",
                )
            profile = changes.get("profile", row.profile)
            if profile and self._profiles is not None and {"profile", "runtime"} & set(changes):
                self._profiles.check(profile, changes.get("runtime", row.runtime))
            if "options" in changes or "runtime" in changes:
                runtime = str(changes.get("runtime", row.runtime))
                data = changes.get("options", row.options if "runtime" not in changes else None)
                if "runtime" in changes and "options" not in changes:
                    data = _portable(row.options)
                changes["options"] = task_options(runtime, data)
            return task_repo.update_fields(session, task_id, changes)

    def move(self, task_id: str, target: TaskStatus) -> Task:
        """A Board drag: planned <-> queued, or a finished task back to planned."""
        if target is TaskStatus.QUEUED:
            return self.run(task_id)
        with self._store.write() as session:
            row = task_repo.get_row(session, task_id, for_update=True)
            current = TaskStatus(row.status)
            if target not in BOARD_MOVES.get(current, frozenset()):
                raise InvalidTransitionError(
                    f"a card cannot be dragged from {current.value} to {target.value}",
                    hint="drag between planned and queued, or a finished task back to planned",
                )
            task, queued_workflow = lifecycle.plan_task(
                session, task_id, reason="moved on the board"
            )
        # After commit: DBOS writes to the same database, and on SQLite our open write
        # transaction would make it wait for us.
        if queued_workflow:
            self._queue.cancel(queued_workflow)
        return task

    def run(self, task_id: str) -> Task:
        """Queue a new run of the task (a run record with its resolved options: the task's own
        over its profile's over the project's); a worker picks it up.

        Refused (with the fix) if the task's runtime is not ready here: no binary, no key.
        """
        self._queue.prepare_schema()  # before the write lock: opening it may migrate DBOS's tables
        checked: str | None = None
        while True:
            try:
                return self._queue_run(task_id, checked)
            except _RuntimeUncheckedError as unchecked:
                # Checked outside the write lock (it may import an SDK or run a binary), then
                # the task is read again: its runtime may have changed meanwhile.
                self._runtimes.require_ready(unchecked.runtime)
                checked = unchecked.runtime

    def _queue_run(self, task_id: str, checked: str | None) -> Task:
        """`run`'s transaction; `_RuntimeUncheckedError` (nothing written) if the task's runtime
        is neither ``checked`` nor known to be ready."""
        with self._store.write() as session:
            task = lifecycle.locked_task(session, task_id)
            if task.runtime != checked and not self._runtimes.is_ready_now(task.runtime):
                raise _RuntimeUncheckedError(task.runtime)
            project = project_repo.get(session, task.project_id) if task.project_id else None
            profile_options: dict[str, Any] | None = None
            note = None
            routed = task
            if task.profile and self._profiles is not None:
                chosen, profile_options, note = self._profiles.resolve(
                    task.profile, task.runtime, task.title, task.description, {}
                )
                if chosen != task.profile:  # ``auto``: the routed profile stays the task's
                    task_repo.set_routed_profile(session, task_id, chosen)
                    routed = dataclasses.replace(task, profile=chosen)
            options = resolve_options(task, project, profile_options)
            task, run = lifecycle.queue_run(session, task_id, options, task=routed)
            if run is not None:
                if note is not None:
                    event_repo.append(
                        session, task_id, "note", run_id=run.id, payload={"message": note}
                    )
                # In the same transaction: the run and its queue entry commit together.
                self._queue.enqueue_in(flushed_connection(session), task_id, run.number)
        if run is not None:
            queued(TASK_QUEUE)  # committed: an idle worker here claims it now
        return task

    def cancel(self, task_id: str) -> Task:
        """Cancel a task; a running agent is stopped within a fraction of a second."""
        with self._store.write() as session:
            task, workflow_id = lifecycle.cancel_task(
                session, task_id, reason="cancelled by a person"
            )
        if workflow_id:
            self._queue.cancel(workflow_id)
        return task

    def delete(self, task_id: str) -> None:
        """Delete a task that is not running, with its log."""
        with self._store.write() as session:
            row = task_repo.get_row(session, task_id, for_update=True)
            if TaskStatus(row.status).is_active:
                raise ConflictError(f"task {task_id} is {row.status}", hint="cancel it first")
            task_repo.delete(session, task_id)

    def follow(
        self, task_id: str, *, after: int = 0, poll_seconds: float = 1.0
    ) -> Iterator[LoggedEvent]:
        """Yield a task's events as they are written, until its run ends."""
        seen = self._store.changes.version
        while True:
            with self._store.read() as session:
                new_events = event_repo.for_task(session, task_id, after=after)
                status = TaskStatus(task_repo.get_row(session, task_id).status)
            for event in new_events:
                after = event.seq
                yield event
            if status.is_terminal or status is TaskStatus.PLANNED:
                return
            seen = self._store.changes.wait(seen, poll_seconds)

    def wait(self, task_id: str, *, timeout: float = 60.0) -> Task:
        """Block until the task's run ends (or ``timeout`` passes); returns the task."""
        deadline = time.monotonic() + timeout
        seen = self._store.changes.version
        while True:
            with self._store.read() as session:  # one column per wake-up, not the whole task
                status = task_repo.status_of(session, task_id)
            remaining = deadline - time.monotonic()
            if status is None or status.is_terminal or status is TaskStatus.PLANNED:
                return self.get(task_id)
            if remaining <= 0:
                return self.get(task_id)
            seen = self._store.changes.wait(seen, min(remaining, 1.0))

    def feed(self, *, after: int = 0, limit: int = 500) -> list[LoggedEvent]:
        """Every task's events after ``seq``, workspace-wide: the change feed for live views."""
        with self._store.read() as session:
            return event_repo.since(session, after, limit=limit)

    def last_seq(self) -> int:
        """The newest ``seq`` in the change feed (0 when empty)."""
        with self._store.read() as session:
            return event_repo.last_seq(session)

    @property
    def change_version(self) -> int:
        """A counter that moves whenever this process commits a change."""
        return self._store.changes.version

    async def wait_for_change(self, seen_version: int, timeout: float) -> int:
        """Wait until this process commits something new, or ``timeout`` passes.

        Other processes' commits ring it too, through the store's watcher; ``timeout`` is a
        safety net.
        """
        return await self._store.changes.wait_async(seen_version, timeout)


def task_options(
    runtime: str,
    data: Any = None,
    scenario: dict[str, Any] | None = None,
    scenario_file: Path | None = None,
) -> RunOptions:
    """Validate a task's run options for ``runtime`` (a scenario is the scripted runtime's own
    option); a `ValidationError` names the field (``options.limits.max_turns: ...``)."""
    if isinstance(data, RunOptions):
        data = data.stored()
    if data is not None and not isinstance(data, dict):
        raise ValidationError("options: run options must be a mapping")
    merged: dict[str, Any] = {**cast(dict[str, Any], data or {}), "runtime": runtime}
    loaded = None
    if scenario_file is not None:
        loaded = scenario_to_data(load_scenario_file(scenario_file))
    elif scenario is not None:
        loaded = scenario_to_data(parse_scenario(scenario))
    if loaded is not None:
        merged["scripted"] = {
            **cast(dict[str, Any], merged.get("scripted") or {}),
            "scenario": loaded,
        }
    options = parse_run_options(merged, prefix="options.")
    own = options.scripted.scenario if options.scripted is not None else None
    if own is not None and loaded is None:
        parse_scenario(own)  # a scenario given as an option is checked like a file
    return options


def _portable(stored: dict[str, Any]) -> dict[str, Any]:
    """The options that carry over when a task moves to another runtime (not the old
    runtime's own)."""
    return {k: v for k, v in stored.items() if k not in RUNTIME_OPTION_FIELDS}


def _check_priority(priority: object) -> int:
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise ValidationError(f"priority: {priority!r} is not a whole number; use 0 (highest) to 4")
    if not 0 <= priority <= 4:
        raise ValidationError(f"priority: {priority} is out of range; use 0 (highest) to 4")
    return priority
