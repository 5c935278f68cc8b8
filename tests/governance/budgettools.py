"""Helpers for the budget tests: scenarios that cost money, tasks, a fixed clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stagent.domain.events import UsageEvent
from stagent.domain.tasks import Task, TaskStatus
from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflows import WorkflowStep
from stagent.engine import workflow_inline
from stagent.engine.executor import RunContext
from stagent.engine.guard import OpenGuard
from stagent.engine.services import TaskDraft
from stagent.governance.budgets_config import BudgetChange
from stagent.governance.budgets_policy import CallScope
from stagent.store import inbox as inbox_repo
from stagent.store import ledger as ledger_repo
from stagent.store.inbox import InboxItem
from stagent.testing.workflows import step
from stagent.workspace import Workspace


def costing(usd: float, *, delay: float = 0.0, result: str = "done") -> dict[str, Any]:
    """A scripted scenario whose one provider call reports ``usd`` as its cost."""
    steps: list[dict[str, Any]] = []
    if delay:
        steps.append({"delay": delay})
    steps.append(
        {
            "usage": {
                "model": "scripted-1",
                "input_tokens": 100,
                "output_tokens": 10,
                "cost_usd": usd,
            }
        }
    )
    return {"steps": steps, "result": result}


def new_task(
    ws: Workspace, title: str = "t", scenario: dict[str, Any] | None = None, **kw: Any
) -> Task:
    """A planned task (the test-only metered runtime unless ``runtime`` is given)."""
    kw.setdefault("runtime", "metered")
    return ws.tasks.create(TaskDraft(title=title, scenario=scenario or costing(0.0), **kw))


def run(ws: Workspace, task: Task, timeout: float = 30.0) -> Task:
    """Run a task on the workspace's worker and wait for it to end."""
    ws.tasks.run(task.id)
    return ws.tasks.wait(task.id, timeout=timeout)


def spend(
    ws: Workspace,
    task: Task,
    usd: float,
    *,
    at: datetime | None = None,
    run_id: str | None = None,
) -> None:
    """Record a usage of ``usd`` by ``task`` (at ``at``, via the service's clock), as a call of
    run ``run_id`` when given."""
    saved = ws.budgets.clock
    if at is not None:
        ws.budgets.clock = lambda: at
    try:
        ws.budgets.record_usage(task, UsageEvent(model="scripted-1", cost_usd=usd), run_id=run_id)
    finally:
        ws.budgets.clock = saved


def set_budget(ws: Workspace, **fields: Any) -> None:
    """`BudgetService.set` with USD amounts as micro-USD already converted."""
    ws.budgets.set(BudgetChange(**fields))


def usd(amount: str) -> int:
    """USD text to micro-USD."""
    from stagent.ledger.money import parse_usd

    return parse_usd(amount, "test")


def alerts(ws: Workspace, level: str | None = None) -> list[InboxItem]:
    """Budget notices in the inbox (optionally only ``warning`` or ``blocked`` ones)."""
    with ws.store.read() as session:
        items = inbox_repo.list_items(session, kind="budget_alert")
    return [i for i in items if level is None or i.payload.get("level") == level]


def rows(ws: Workspace, **where: Any) -> list[ledger_repo.LedgerEntry]:
    """Ledger rows, newest first."""
    return ws.budgets.usage(ledger_repo.LedgerFilter(**where), limit=1000)


def wait_for_status(ws: Workspace, task_id: str, status: TaskStatus, timeout: float = 20) -> Task:
    """Follow a task's log until it reaches ``status`` (which may not be terminal)."""
    import time

    deadline = time.monotonic() + timeout
    seen = ws.store.changes.version
    while time.monotonic() < deadline:
        task = ws.tasks.get(task_id)
        if task.status is status:
            return task
        seen = ws.store.changes.wait(seen, 0.2)
    raise AssertionError(f"task {task_id} did not reach {status.value}: {ws.tasks.get(task_id)}")


def settled(ws: Workspace, timeout: float = 60.0) -> None:
    """Wait until no run holds a reservation (runs release theirs just after their final status)."""
    import time

    deadline = time.monotonic() + timeout
    while rows(ws, status="reserved"):
        assert time.monotonic() < deadline, "a reservation was never released"
        time.sleep(0.02)


def started_step(ws: Workspace) -> CallScope:
    """A one-step sequence whose step has started (`workflow_inline.start_step`, in this
    context, as the run loop does before the run's admission); the admission's call."""
    definition = parse_definition(
        {"name": "admitted", "pattern": "sequence", "steps": [step("a", "alpha")]}
    )
    wf = ws.workflows.run(ws.workflows.add(definition).id)
    ctx = RunContext(store=ws.store, runtimes=ws.runtimes, gate=ws.gate, guard=OpenGuard())
    ctx.profiles = ws.profiles
    began = workflow_inline.start_step(
        ctx, wf.id, 1, WorkflowStep.model_validate(step("a", "alpha")), "go",
        engine_id=None, executing="i-1",
    )  # fmt: skip
    assert isinstance(began, workflow_inline.StartedStep)
    run = began.claim.run
    return CallScope(runtime=run.runtime, project_id=None, task_id=run.task_id, run_id=run.id)
