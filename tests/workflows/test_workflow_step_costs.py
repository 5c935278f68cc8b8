"""A workflow step's cost as the API, ``--json``, ``workflow show`` and the run view give it: real
spend only; a step that ran on a runtime that calls no model (scripted) is *simulated*, never
spend (issue 12), even when its scenario reported a cost. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from stagent.domain.run_options import RunOptions
from stagent.domain.runs import RunStatus
from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import StepCost
from stagent.schemas.workflows import WorkflowSchema
from stagent.store import ledger as ledger_repo
from stagent.store import lifecycle
from stagent.store import step_rows as step_repo
from stagent.store import tasks as task_repo
from stagent.store import workflows as workflow_repo
from stagent.web.ui.workflow_views import total_cost
from stagent.workspace import Workspace


@pytest.fixture(params=["sqlite", "postgres"])
def ws(request: pytest.FixtureRequest) -> Workspace:
    """The SQLite or the PostgreSQL workspace (no worker)."""
    return request.getfixturevalue("workspace" if request.param == "sqlite" else "pg_workspace")


def ran(ws: Workspace, workflow_id: str, key: str, runtime: str, micros: int) -> str:
    """Give step ``key`` of run 1 a task on ``runtime`` whose one run booked ``micros``."""
    with ws.store.write() as session:
        task = task_repo.create(session, task_repo.NewTask(title=key, runtime=runtime))
        step_repo.step_row(session, workflow_id, 1, key).task_id = task.id
        _, run = lifecycle.queue_run(session, task.id, RunOptions(runtime=runtime))
        assert run is not None
        lifecycle.claim(session, task.id, 1)
        entry = ledger_repo.NewLedgerEntry(
            runtime=runtime,
            task_id=task.id,
            run_id=run.id,
            cost_micros=micros,
            simulated=ws.tasks.is_simulated(runtime),
        )
        ledger_repo.insert(session, entry)
        lifecycle.finish(session, run.id, RunStatus.COMPLETED, attempt=1)
    return task.id


def test_a_simulated_step_says_so_and_counts_no_spend(ws: Workspace) -> None:
    steps = [{"id": k, "name": k, "prompt": "p"} for k in ("scripted", "real", "later")]
    data = {"name": "mixed", "pattern": "sequence", "steps": steps}
    wf = ws.workflows.add(parse_definition(data))
    with ws.store.write() as session:
        workflow_repo.begin_run(session, workflow_repo.get_row(session, wf.id, for_update=True))
    scripted = ran(ws, wf.id, "scripted", "scripted", 250_000)  # its scenario reported $0.25
    ran(ws, wf.id, "real", "anthropic", 1_234)
    assert ws.tasks.runs(scripted)[0].cost_micros == 250_000  # the run keeps what it booked

    workflow = ws.workflows.get(wf.id)
    costs = ws.workflows.step_costs(workflow)
    assert costs == {"scripted": StepCost(0, simulated=True), "real": StepCost(1_234)}
    shape = WorkflowSchema.of(workflow, costs).data()
    assert [(s["id"], s["cost_usd"], s["simulated"]) for s in shape["steps"]] == [
        ("scripted", "0.00", True),
        ("real", "0.001234", False),  # the API keeps every micro-dollar
        ("later", None, None),  # no task yet
    ]
    listed = WorkflowSchema.of(workflow).data()  # lists read no costs: both unknown
    assert {(s["cost_usd"], s["simulated"]) for s in listed["steps"]} == {(None, None)}
    # The page shows money by the one rule (`shown_usd`): two significant digits below a cent.
    assert total_cost(costs.values()) == "$0.0012 + simulated steps"
    assert total_cost([costs["scripted"]]) == "simulated"
    assert total_cost([costs["real"]]) == "$0.0012"
