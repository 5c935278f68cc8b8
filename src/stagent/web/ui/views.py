"""What the pages and fragments show, gathered from the public services.

Each ``*_context`` function returns the variables one template needs; pages and the live stream
render the same fragments from the same contexts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from stagent.domain.approvals import Approval
from stagent.domain.board import Count, Cursor
from stagent.domain.errors import NotFoundError
from stagent.domain.tasks import (
    ACTIVE_STATES,
    BOARD_MOVES,
    Project,
    Task,
    TaskStatus,
)
from stagent.ledger.money import shown_usd
from stagent.workspace import Workspace

S = TaskStatus
RECENT = 8
"""Home lists this many recently changed tasks."""


@dataclass(frozen=True, slots=True)
class Column:
    """One kanban column: the statuses it shows and the statuses a card may be dragged from."""

    key: str
    label: str
    statuses: frozenset[TaskStatus]
    tasks: tuple[Task, ...] = ()
    count: int = 0
    """Every task of the column (its cards are the newest of them)."""
    own: int = 0
    """Those of them that are not workflow steps."""

    @property
    def accepts(self) -> str:
        """Space-separated statuses whose cards may be dropped here (a Board move)."""
        sources = sorted(s.value for s, targets in BOARD_MOVES.items() if S(self.key) in targets)
        return " ".join(sources)

    @property
    def pullable(self) -> bool:
        """True when cards may be dragged out of this column."""
        return bool(BOARD_MOVES.get(S(self.key)))


COLUMNS: tuple[Column, ...] = (
    Column("planned", "Planned", frozenset({S.PLANNED})),
    Column("queued", "Queued", frozenset({S.QUEUED})),
    Column("running", "Running", frozenset({S.RUNNING})),
    Column("waiting", "Waiting", frozenset({S.WAITING})),
    Column("completed", "Completed", frozenset({S.COMPLETED})),
    Column("failed", "Failed", frozenset({S.FAILED})),
    Column("cancelled", "Cancelled", frozenset({S.CANCELLED})),
)


@dataclass(frozen=True, slots=True)
class Lookup:
    """Names and labels a task card shows next to its ids."""

    projects: dict[str, Project]
    simulated: frozenset[str]
    runtime_labels: dict[str, str]

    def project_name(self, project_id: str | None) -> str:
        """The project's name, or empty when the task has none (or it was deleted)."""
        project = self.projects.get(project_id or "")
        return project.name if project else ""


def lookup(ws: Workspace) -> Lookup:
    """Projects by id and the runtimes that are simulated."""
    runtimes = ws.runtimes.all()
    return Lookup(
        projects={p.id: p for p in ws.projects.list()},
        simulated=frozenset(r.name for r in runtimes if r.capabilities.simulated),
        runtime_labels={r.name: r.label for r in runtimes},
    )


def can_run(task: Task) -> bool:
    """Whether a Run button makes sense (it is not already queued or running)."""
    return task.status not in ACTIVE_STATES


def can_cancel(task: Task) -> bool:
    """Whether a Cancel button makes sense."""
    return task.status is S.PLANNED or task.status in ACTIVE_STATES


def can_change(task: Task) -> bool:
    """Whether the task may be edited or deleted (not while a run owns it)."""
    return task.status not in ACTIVE_STATES


@dataclass(frozen=True, slots=True)
class WaitCue:
    """What a waiting task waits for, in a few words, and where the person answers it."""

    text: str
    href: str


_ASKS = {
    "checkpoint": "Checkpoint: approve to start",
    "question": "Asks you a question",
}


def wait_cues(ws: Workspace) -> dict[str, WaitCue]:
    """The waiting cue of each task a pending Inbox card holds (a task waiting on anything
    else, e.g. a budget cap, gets the Inbox's general cue from `wait_cue`)."""
    cues: dict[str, WaitCue] = {}
    for card in ws.approvals.list_pending():
        if card.task_id and card.task_id not in cues:
            cues[card.task_id] = _cue_of(card)
    return cues


def _cue_of(card: Approval) -> WaitCue:
    text = _ASKS.get(card.kind) or f"Asks to use {card.tool}"
    return WaitCue(text, f"/inbox#approval-{card.id}")


GENERAL_CUE = WaitCue("Needs you in the Inbox", "/inbox")


def hold_cue(hold: str) -> WaitCue:
    """A suspended run's hold (``approval:apr_...``, ``budget:inb_...``) in words, linked to
    the Inbox card that answers it (never the raw id)."""
    kind, _, ref = hold.partition(":")
    if kind == "approval" and ref:
        return WaitCue("your answer in the Inbox", f"/inbox#approval-{ref}")
    if kind == "budget" and ref:
        return WaitCue("a spending cap in the Inbox", f"/inbox#breach-{ref}")
    return GENERAL_CUE


ColumnKey = Literal["planned", "queued", "running", "waiting", "completed", "failed", "cancelled"]
"""A kanban column's key (`COLUMNS`; one per task status)."""


def phone_column(columns: list[Column]) -> str:
    """The column a phone shows first: what waits for the person, else what runs, else Planned."""
    for key in ("waiting", "running"):
        if any(c.key == key and c.tasks for c in columns):
            return key
    return "planned"


PER_COLUMN = 50
"""A kanban column shows its newest cards, this many, then a "Show more" button."""
TABLE_PAGE = 100
"""The table view shows the newest tasks, this many, then a "Show more" button."""


def board_context(ws: Workspace, *, hide_steps: bool = False) -> dict[str, Any]:
    """The kanban columns (each its `PER_COLUMN` newest cards and its count of every task) and
    the table rows (the `TABLE_PAGE` newest tasks); ``step_of`` maps the tasks that run
    workflow steps to their workflow. With ``hide_steps`` those tasks are left out here, on the
    server (``hidden_steps`` counts them per column, so a column of steps only says so).

    ``seq`` is the change feed's head, read before the tasks: the page replays the live cards
    it received past it, so an answer rendered before a live move never undoes the move."""
    seq = ws.tasks.last_seq()
    counts = ws.tasks.board_counts()
    newest = ws.tasks.board_newest(PER_COLUMN, hide_steps=hide_steps)
    table, table_more = ws.tasks.board_page(None, None, TABLE_PAGE, hide_steps=hide_steps)
    step_of = ws.workflows.step_tasks()
    hidden_steps: dict[str, int] = {}
    columns: list[Column] = []
    for c in COLUMNS:
        tasks = sum(counts.get(s.value, Count()).tasks for s in c.statuses)
        steps = sum(counts.get(s.value, Count()).steps for s in c.statuses)
        count = Count(tasks, steps)
        if hide_steps and count.steps:
            hidden_steps[c.key] = count.steps
        total = count.own if hide_steps else count.tasks
        shown = tuple(t for t in newest if t.status in c.statuses)
        columns.append(replace(c, tasks=shown, count=total, own=count.own))
    return {
        "seq": seq,
        "columns": columns,
        "tasks": table,
        "table_more": table_more,
        "per_column": PER_COLUMN,
        "table_page": TABLE_PAGE,
        "lk": lookup(ws),
        "step_of": step_of,
        "hidden_steps": hidden_steps,
        "hide_steps": hide_steps,
        "cues": wait_cues(ws),
        "general_cue": GENERAL_CUE,
        "phone_column": phone_column(columns),
    }


def board_more_context(
    ws: Workspace, column: ColumnKey | None, after: Cursor, *, hide_steps: bool = False
) -> dict[str, Any]:
    """The next cards of a column past ``after`` (``column`` None: the table's next rows), and
    how many are left after them."""
    statuses = None
    if column is not None:
        statuses = [s.value for s in next(c for c in COLUMNS if c.key == column).statuses]
    limit = PER_COLUMN if column is not None else TABLE_PAGE
    tasks, left = ws.tasks.board_page(statuses, after, limit, hide_steps=hide_steps)
    return {
        "tasks": tasks,
        "column": column,
        "more": left,
        "per_column": limit,
        "lk": lookup(ws),
        "step_of": ws.workflows.step_tasks(),
        "hide_steps": hide_steps,
        "cues": wait_cues(ws),
        "general_cue": GENERAL_CUE,
    }


@dataclass(frozen=True, slots=True)
class ChangedCard:
    """A task whose Board card changed: the task and its column, or None once it is gone."""

    id: str
    task: Task | None
    column: str | None


def column_of(status: TaskStatus) -> str:
    """The kanban column a task of this status is in."""
    return next(c.key for c in COLUMNS if status in c.statuses)


def board_cards_context(ws: Workspace, task_ids: list[str]) -> dict[str, Any]:
    """The changed cards the live Board receives (a deleted task comes as gone)."""
    items: list[ChangedCard] = []
    for task_id in task_ids:
        try:
            task = ws.tasks.get(task_id)
        except NotFoundError:
            items.append(ChangedCard(task_id, None, None))
            continue
        items.append(ChangedCard(task_id, task, column_of(task.status)))
    return {
        "items": items,
        "lk": lookup(ws),
        "step_of": ws.workflows.step_tasks(),
        "cues": wait_cues(ws) if any(i.column == "waiting" for i in items) else {},
        "general_cue": GENERAL_CUE,
    }


def task_head_context(ws: Workspace, task: Task) -> dict[str, Any]:
    """A task's header: its fields, result, error and actions."""
    return {"task": task, "lk": lookup(ws)}


def task_runs_context(ws: Workspace, task_id: str, *, upto: int) -> dict[str, Any]:
    """A task's runs, newest first, each with its events up to feed position ``upto``."""
    runs = ws.tasks.runs(task_id)
    return {
        "runs": [
            {
                "run": run,
                "events": [e for e in ws.tasks.run_events(run.id) if e.seq <= upto],
                "cost": shown_usd(
                    run.cost_micros if run.status.is_terminal else ws.tasks.spent_so_far(run.id)
                ),
                "so_far": not run.status.is_terminal,
            }
            for run in reversed(runs)
        ]
    }


def home_context(ws: Workspace) -> dict[str, Any]:
    """Counts by status (of every task) and the most recently changed tasks."""
    found = ws.tasks.count_by_status()
    counts = {s.value: found.get(s.value, 0) for s in TaskStatus}
    return {
        "counts": counts,
        "total": sum(counts.values()),
        "recent": ws.tasks.recently_changed(RECENT),
        "project_count": len(ws.projects.list()),
        "lk": lookup(ws),
    }


def projects_context(ws: Workspace) -> dict[str, Any]:
    """Every project with its task counts."""
    counts = ws.projects.task_counts()
    rows = [(p, counts.get(p.id, {})) for p in ws.projects.list()]
    return {"rows": rows}


def project_tasks_context(ws: Workspace, project_id: str) -> dict[str, Any]:
    """One project's tasks, as table rows."""
    return {"tasks": ws.tasks.list(project=project_id), "lk": lookup(ws), "project_id": project_id}
