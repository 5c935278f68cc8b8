"""Rows to domain values, once for both ways of reading: the ORM and plain ``sqlite3``.

Each mapper takes ``column``: a function from a column's name to its value, with JSON columns
decoded and timestamps as datetimes (naive ones are UTC). An ORM row gives that with
``functools.partial(getattr, row)``; `stagent.store.sqlite_reads` decodes a ``sqlite3.Row``'s
text. So a task, run, approval or project read either way is the same value by construction.

This module must not import SQLAlchemy (the plain-sqlite path uses it).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from stagent.domain.approvals import Approval
from stagent.domain.ids import ensure_aware
from stagent.domain.run_options import STORED, RunOptions
from stagent.domain.runs import Run, RunStatus, Subject
from stagent.domain.tasks import Project, Task, TaskStatus

Column = Callable[[str], Any]
"""A row's value by column name (JSON decoded, timestamps as datetimes)."""


@functools.lru_cache(maxsize=1024)
def _options(runtime: str, stored: str) -> RunOptions:
    return RunOptions.model_validate({**json.loads(stored), "runtime": runtime}, context=STORED)


def stored_options(runtime: str, stored: dict[str, Any] | None) -> RunOptions:
    """The `RunOptions` of a stored row (validated once per distinct value: a frozen model,
    shared by every task and run that stores the same options)."""
    return _options(runtime, json.dumps(stored or {}, sort_keys=True, separators=(",", ":")))


def _when(value: datetime | None) -> datetime | None:
    return ensure_aware(value) if value is not None else None


def task_of(column: Column) -> Task:
    """The task a row holds."""
    return Task(
        id=column("id"),
        title=column("title"),
        description=column("description"),
        status=TaskStatus(column("status")),
        project_id=column("project_id"),
        runtime=column("runtime"),
        profile=column("profile"),
        priority=column("priority"),
        result=column("result"),
        error=column("error"),
        options=stored_options(column("runtime"), column("options")),
        workflow_id=column("workflow_id"),
        session_id=column("session_id"),
        run_count=column("run_count"),
        created_at=ensure_aware(column("created_at")),
        updated_at=ensure_aware(column("updated_at")),
        started_at=_when(column("started_at")),
        finished_at=_when(column("finished_at")),
    )


def run_of(column: Column) -> Run:
    """The run a row holds."""
    return Run(
        id=column("id"),
        subject=Subject(column("subject_kind"), column("subject_id")),
        task_id=column("task_id"),
        number=column("number"),
        runtime=column("runtime"),
        options=stored_options(column("runtime"), column("options")),
        status=RunStatus(column("status")),
        attempt=column("attempt"),
        waiting_on=tuple(column("waiting_on") or ()),
        stop_reason=column("stop_reason"),
        result=column("result"),
        error=column("error"),
        cost_micros=column("cost_micros"),
        workflow_id=column("workflow_id"),
        created_at=ensure_aware(column("created_at")),
        started_at=_when(column("started_at")),
        ended_at=_when(column("ended_at")),
    )


def approval_of(column: Column) -> Approval:
    """The approval card a row holds."""
    return Approval(
        id=column("id"),
        task_id=column("task_id"),
        run_id=column("run_id"),
        project_id=column("project_id"),
        runtime=column("runtime"),
        profile=column("profile"),
        tool=column("tool"),
        input=dict(column("input") or {}),
        fingerprint=column("fingerprint"),
        kind=column("kind"),
        risk=column("risk"),
        suggested_rule=column("suggested_rule"),
        status=column("status"),
        decision=dict(column("decision") or {}),
        decided_by=column("decided_by"),
        created_at=_when(column("created_at")),
        expires_at=_when(column("expires_at")),
        decided_at=_when(column("decided_at")),
    )


def project_of(column: Column) -> Project:
    """The project a row holds."""
    return Project(
        id=column("id"),
        name=column("name"),
        description=column("description"),
        working_directory=column("working_directory"),
        created_at=ensure_aware(column("created_at")),
        updated_at=ensure_aware(column("updated_at")),
    )
