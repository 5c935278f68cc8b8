"""Budget admission on SQLite. The common case (policy known, room under every cap, no
warning due) runs straight on the driver's connection, with no Session: ``BEGIN IMMEDIATE``,
every cap's sums, the reservation, its note, ``COMMIT``. A reservation that cannot be written
leaves nothing and lets go of the write lock."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from budgettools import alerts, new_task, rows, set_budget, started_step, usd
from sqlalchemy import event, text

from stagent.governance.budgets_policy import BudgetPolicyError, CallScope
from stagent.workspace import Workspace


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    return workspace


@pytest.fixture
def traced(ws: Workspace) -> Iterator[tuple[list[str], list[str]]]:
    """(what SQLite ran, what went through SQLAlchemy's execute) while collecting: the pool's
    connections are opened again with a trace on each."""
    statements: list[str] = []
    executed: list[str] = []
    engine = ws.store.engine

    def on_connect(driver: sqlite3.Connection, _record: Any) -> None:
        driver.set_trace_callback(statements.append)

    def on_execute(*args: Any) -> None:
        executed.append(str(args[2]))

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "before_cursor_execute", on_execute)
    engine.dispose()
    try:
        yield statements, executed
    finally:
        event.remove(engine, "connect", on_connect)
        event.remove(engine, "before_cursor_execute", on_execute)
        engine.dispose()


def test_an_admission_under_caps_runs_on_the_driver_without_sqlalchemy(
    ws: Workspace, traced: tuple[list[str], list[str]]
) -> None:
    statements, executed = traced
    set_budget(ws, daily=usd("10"), per_run=usd("2"))
    task = new_task(ws)
    call = CallScope(runtime=task.runtime, project_id=task.project_id, task_id=task.id)
    ws.budgets.admit(replace(call, run_id="run_warm"))  # the policy known
    statements.clear()
    executed.clear()

    admission = ws.budgets.admit(replace(call, run_id="run_1"))

    assert admission.allowed and admission.reserved == usd("2")
    assert executed == []
    # SQLite reports a statement again for each trigger it runs: count each once
    ours = [s for n, s in enumerate(statements) if n == 0 or s != statements[n - 1]]
    assert [s.split()[0] for s in ours] == ["BEGIN", "WITH", "INSERT", "INSERT", "COMMIT"]
    assert "usage_ledger" in ours[2] and "agent_events" in ours[3]


def test_a_reservation_that_cannot_be_written_leaves_nothing_and_frees_the_write_lock(
    ws: Workspace,
) -> None:
    set_budget(ws, daily=usd("10"), per_run=usd("2"))
    task = new_task(ws)
    ok = CallScope(runtime=task.runtime, project_id=task.project_id, task_id=task.id)
    ws.budgets.admit(replace(ok, run_id="run_ok"))  # the policy is known
    ghost = CallScope(runtime=task.runtime, task_id="tsk_gone", run_id="run_ghost")

    with pytest.raises(BudgetPolicyError):  # its task does not exist: the insert fails
        ws.budgets.admit(ghost)

    assert [r.run_id for r in rows(ws, status="reserved")] == ["run_ok"]
    with ws.store.read() as session:
        found = session.execute(text("SELECT 1 FROM agent_events WHERE run_id = 'run_ghost'"))
        assert found.first() is None
    other = sqlite3.connect(ws.store.engine.url.database or "", timeout=0)
    try:  # no transaction left holding the file's write lock
        other.execute("BEGIN IMMEDIATE")
        other.rollback()
    finally:
        other.close()
    again = ws.budgets.admit(replace(ok, run_id="run_next"))
    assert again.allowed and again.reserved == usd("2")


def test_a_warning_due_goes_the_full_way_and_is_sent_once(ws: Workspace) -> None:
    set_budget(ws, daily=usd("10"), per_run=usd("2"))
    task = new_task(ws)
    call = CallScope(runtime=task.runtime, project_id=task.project_id, task_id=task.id)
    for n in range(4):  # $8 of $10 held: at the 80 % threshold from the fifth on
        assert ws.budgets.admit(replace(call, run_id=f"run_{n}")).reserved == usd("2")

    admission = ws.budgets.admit(replace(call, run_id="run_4"))

    assert admission.allowed and admission.reserved == usd("2")
    assert [a.title for a in alerts(ws, "warning")] == [
        "Budget warning: overall daily spend at 80%"
    ]
    assert not ws.budgets.admit(replace(call, run_id="run_5")).allowed  # at the cap
    assert len(alerts(ws, "warning")) == 1


def test_an_admission_with_no_caps_is_one_read_in_no_transaction(
    ws: Workspace, traced: tuple[list[str], list[str]]
) -> None:
    """Most workspaces set no cap: each run's admission checks only that the policy is still
    the one known (its fingerprint), with no Session, ``BEGIN`` or ``ROLLBACK`` around it."""
    statements, executed = traced
    call = CallScope(runtime="scripted", project_id=None, task_id=new_task(ws).id)
    ws.budgets.admit(replace(call, run_id="run_warm"))  # the policy known
    statements.clear()
    executed.clear()

    admission = ws.budgets.admit(replace(call, run_id="run_1"))

    assert admission.allowed and admission.reserved == 0
    assert executed == []
    assert [s.split()[0] for s in statements] == ["SELECT"]
    assert "FROM budgets" in statements[0]


def test_a_workflow_steps_admission_reads_nothing_its_start_read_the_policy(
    ws: Workspace, traced: tuple[list[str], list[str]]
) -> None:
    """A step's start reads the policy's fingerprint with its row, in its transaction: with
    no caps and nothing committed since, the run's admission sends no statement at all."""
    statements, executed = traced
    ws.budgets.admit(CallScope(runtime="scripted", task_id=new_task(ws).id, run_id="run_warm"))
    call = started_step(ws)
    statements.clear()
    executed.clear()

    admission = ws.budgets.admit(call)

    assert admission.allowed and admission.reserved == 0
    assert (statements, executed) == ([], [])
    assert ws.budgets.admit(replace(call, run_id="run_2")).allowed  # the next reads again
    assert [s.split()[0] for s in statements] == ["SELECT"]


def test_a_cap_set_after_a_steps_start_holds_for_its_admission(ws: Workspace) -> None:
    """What the start read stands for the admission only if nothing was committed since: a
    cap set in between (while a gated step waited for its approval, say) is honoured."""
    ws.budgets.admit(CallScope(runtime="scripted", task_id=new_task(ws).id, run_id="run_warm"))
    call = started_step(ws)
    set_budget(ws, daily=usd("10"), per_run=usd("2"))

    admission = ws.budgets.admit(call)

    assert admission.allowed and admission.reserved == usd("2")
