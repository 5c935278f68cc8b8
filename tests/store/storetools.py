"""Helpers the store's tests share: tasks and runs in a given state, made through the store's
public functions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from stagent.domain.approvals import Approval, ApprovalKind
from stagent.domain.run_options import RunOptions
from stagent.domain.runs import Run
from stagent.store import approvals as approval_repo
from stagent.store import lifecycle
from stagent.store import tasks as task_repo
from stagent.store.database import Store
from stagent.store.ledger import NewLedgerEntry
from stagent.store.ledger_imports import IMPORT_COLUMNS, ImportedRow
from stagent.store.lifecycle import Claim


def new_task(store: Store, title: str = "t", *, project_id: str | None = None) -> str:
    """A planned task's id."""
    with store.write() as session:
        return task_repo.create(session, task_repo.NewTask(title=title, project_id=project_id)).id


def queued_run(store: Store, title: str = "t") -> tuple[str, Run]:
    """A task with a queued run: (task id, run)."""
    task_id = new_task(store, title)
    with store.write() as session:
        _, run = lifecycle.queue_run(session, task_id, RunOptions(runtime="scripted"))
    assert run is not None
    return task_id, run


def claimed_run(store: Store, title: str = "t") -> Claim:
    """A task whose run an executor claimed (attempt 1, running)."""
    task_id, _ = queued_run(store, title)
    with store.write() as session:
        claim = lifecycle.claim(session, task_id, 1)
    assert claim is not None
    return claim


def import_row(entry: NewLedgerEntry) -> ImportedRow:
    """The row an import books for a call with ``entry``'s fields (`IMPORT_COLUMNS` order)."""
    values = {name: getattr(entry, name, None) for name in IMPORT_COLUMNS}
    values.update(raw=entry.raw or {}, finished_at=entry.at)
    return tuple(values[name] for name in IMPORT_COLUMNS)


def bash_card(
    session: Session,
    task_id: str | None,
    *,
    expires_at: datetime,
    run_id: str | None = None,
    tool: str = "Bash",
    tool_input: dict[str, Any] | None = None,
    kind: ApprovalKind = "permission",
    suggested_rule: str | None = None,
) -> Approval:
    """A pending high-risk card: by default the task asks to run ``rm -rf build`` and no rule
    covers it."""
    return approval_repo.create(
        session,
        task_id=task_id,
        run_id=run_id,
        project_id=None,
        runtime="scripted",
        profile=None,
        tool=tool,
        tool_input=tool_input if tool_input is not None else {"command": "rm -rf build"},
        kind=kind,
        risk="high",
        suggested_rule=suggested_rule,
        why_asked="no rule covers it",
        expires_at=expires_at,
    )
