"""Reads without SQLAlchemy: the commands that only look at tasks answer from plain ``sqlite3``.

Importing SQLAlchemy's ORM and our tables takes about 160 ms of CPU, more than half of a
``stagent task list``. On a SQLite file that already records the newest migration, `SqliteReads`
answers from one read-only ``sqlite3`` connection with the same domain values the repositories
(`stagent.store.tasks`, `projects`, `runs`, `events`) return; ``tests/store/test_sqlite_reads.py``
compares the two on the same database. For anything else (PostgreSQL, a file to migrate, no file
yet) `open_sqlite_reads` returns None and the caller opens the workspace as usual.

This module must not import SQLAlchemy, directly or through another ``stagent.store`` module.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import quote

from stagent.domain.approvals import Approval
from stagent.domain.errors import NotFoundError
from stagent.domain.events import LoggedEvent
from stagent.domain.ids import ensure_aware
from stagent.domain.runs import Run, Subject
from stagent.domain.tasks import Project, Task, TaskStatus
from stagent.store.migrate import script_heads
from stagent.store.row_values import Column, approval_of, project_of, run_of, task_of
from stagent.store.sqlite_files import ready_workspace, sqlite_file

TASK_LIMIT = 500
"""As `stagent.store.tasks.list_tasks`."""
EVENT_LIMIT = 5000
"""As `stagent.store.events.for_task`."""

_TASK_COLUMNS = (
    "id, title, description, status, project_id, runtime, profile, priority, result, error, "
    "options, workflow_id, session_id, run_count, created_at, updated_at, started_at, finished_at"
)
_RUN_COLUMNS = (
    "id, subject_kind, subject_id, task_id, number, runtime, options, status, attempt, "
    "waiting_on, stop_reason, result, error, cost_micros, workflow_id, created_at, started_at, "
    "ended_at"
)


def open_sqlite_reads(url: str) -> SqliteReads | None:
    """Plain-``sqlite3`` reads of the database at ``url``, if it is a SQLite file that exists, is
    at the newest migration and has its owner enrolled; otherwise None (open the workspace)."""
    path = sqlite_file(url)
    heads = script_heads()
    if path is None or heads is None:
        return None
    try:
        conn = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, check_same_thread=False)
    except sqlite3.Error:  # no file yet: the workspace creates and migrates it
        return None
    try:
        conn.execute("PRAGMA busy_timeout=30000")
    except sqlite3.Error:
        conn.close()
        return None
    if not ready_workspace(conn, heads):
        conn.close()
        return None
    return SqliteReads(conn)


class SqliteReads:
    """Read-only queries on one ``sqlite3`` connection (see the module docstring)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        conn.row_factory = sqlite3.Row
        self._conn = conn

    def close(self) -> None:
        """Release the connection."""
        self._conn.close()

    def tasks(self, *, status: TaskStatus | None = None, project: str | None = None) -> list[Task]:
        """Tasks, newest first (as `TaskService.list`: ``project`` is an id or a name)."""
        where = ["deleted_at IS NULL"]
        params: list[Any] = []
        if status is not None:
            where.append("status = ?")
            params.append(status.value)
        if project:
            where.append("project_id = ?")
            params.append(self.project(project).id)
        query = (
            f"SELECT {_TASK_COLUMNS} FROM tasks WHERE {' AND '.join(where)} "
            f"ORDER BY created_at DESC, id LIMIT {TASK_LIMIT}"
        )
        return [task_of(_columns(row)) for row in self._conn.execute(query, params)]

    def task(self, task_id: str) -> Task:
        """One task that was not deleted, or `NotFoundError`."""
        row = self._conn.execute(
            f"SELECT {_TASK_COLUMNS} FROM tasks WHERE id = ? AND deleted_at IS NULL", (task_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(
                f"no task with id {task_id!r}", hint="list tasks with `stagent task list`"
            )
        return task_of(_columns(row))

    def runs(self, task_id: str) -> list[Run]:
        """A task's runs, oldest first."""
        self.task(task_id)
        query = f"SELECT {_RUN_COLUMNS} FROM runs WHERE task_id = ? ORDER BY number"
        return [run_of(_columns(row)) for row in self._conn.execute(query, (task_id,))]

    def events(self, task_id: str) -> list[LoggedEvent]:
        """A task's events in order."""
        self.task(task_id)
        query = (
            "SELECT seq, task_id, run_id, subject_kind, subject_id, kind, payload, created_at "
            f"FROM agent_events WHERE task_id = ? ORDER BY seq LIMIT {EVENT_LIMIT}"
        )
        return [
            LoggedEvent(
                seq=row["seq"],
                task_id=row["task_id"],
                run_id=row["run_id"],
                subject=Subject(row["subject_kind"], row["subject_id"]),
                kind=row["kind"],
                payload=dict(_json(row["payload"]) or {}),
                created_at=_when(row["created_at"]),
            )
            for row in self._conn.execute(query, (task_id,))
        ]

    def pending_approvals(self) -> list[Approval]:
        """Cards waiting for a person, oldest first (as `store.approvals.list_pending`)."""
        query = "SELECT * FROM approval_requests WHERE status = 'pending' ORDER BY created_at, id"
        return [approval_of(_columns(row)) for row in self._conn.execute(query)]

    def api_address(self, key: str, lease_seconds: float, hostname: str) -> str | None:
        """The API address a live ``serve`` on ``hostname`` recorded under ``key`` (see
        `Workspace.announce_api`), or None: nothing recorded, another machine's, or its worker's
        lease older than ``lease_seconds`` (it stopped or died)."""
        row = self._conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        value: Any = _json(row["value"]) if row is not None else None
        if not isinstance(value, dict):
            return None
        recorded = cast(dict[str, Any], value)
        url, executor_id = recorded.get("url"), recorded.get("executor_id")
        if not isinstance(url, str) or not isinstance(executor_id, str):
            return None
        executor = self._conn.execute(
            "SELECT hostname, heartbeat_at FROM executors WHERE id = ?", (executor_id,)
        ).fetchone()
        if executor is None or executor["hostname"] != hostname:
            return None
        age = datetime.now(UTC) - _at(executor["heartbeat_at"])
        return url if age.total_seconds() < lease_seconds else None

    def task_counts(self) -> dict[str, dict[str, int]]:
        """Per project id, its task count by status (as `stagent.store.projects.task_counts`)."""
        query = (
            "SELECT project_id, status, count(*) FROM tasks "
            "WHERE project_id IS NOT NULL AND deleted_at IS NULL GROUP BY project_id, status"
        )
        counts: dict[str, dict[str, int]] = {}
        for project_id, status, count in self._conn.execute(query):
            counts.setdefault(project_id, {})[status] = count
        return counts

    def projects(self) -> list[Project]:
        """All projects, by name."""
        query = "SELECT * FROM projects ORDER BY name"
        return [project_of(_columns(row)) for row in self._conn.execute(query)]

    def project(self, ref: str) -> Project:
        """A project by id or name, or `NotFoundError`."""
        row = self._conn.execute("SELECT * FROM projects WHERE id = ?", (ref,)).fetchone()
        if row is None:
            row = self._conn.execute("SELECT * FROM projects WHERE name = ?", (ref,)).fetchone()
        if row is None:
            raise NotFoundError(
                f"no project with id or name {ref!r}",
                hint="list projects with `stagent project list`",
            )
        return project_of(_columns(row))


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _when(text: str | None) -> datetime | None:
    return None if text is None else ensure_aware(datetime.fromisoformat(text))


def _at(text: str) -> datetime:
    return ensure_aware(datetime.fromisoformat(text))


JSON_COLUMNS = frozenset({"options", "waiting_on", "input", "decision", "payload", "value"})
"""Columns stored as JSON text."""


def _columns(row: sqlite3.Row) -> Column:
    """``row``'s values as `stagent.store.row_values` mappers read them: JSON decoded,
    timestamps (``*_at``) as datetimes."""

    def column(name: str) -> Any:
        value = row[name]
        if name in JSON_COLUMNS:
            return _json(value)
        return _when(value) if name.endswith("_at") else value

    return column
