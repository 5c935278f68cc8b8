"""Budget admission on PostgreSQL. The common case (policy known, room under every cap, no
warning due) is two round trips on a hot connection, without a Session: ``BEGIN`` with the
admission lock and every cap's sums, then the reservation, its note and the commit together.
Anything else (a warning, a breach, a changed policy, a run that still holds a reservation)
goes through `Store.write`: ``BEGIN`` with the lock, the sums, then the writes and the commit.
The lock is never left held by a transaction that failed, and a reservation that cannot be
written leaves nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from budgettools import alerts, new_task, rows, set_budget, started_step, usd
from sqlalchemy import text

from stagent.governance.budgets_policy import BudgetPolicyError, CallScope
from stagent.store import budgets as budget_repo
from stagent.workspace import Workspace

pytestmark = pytest.mark.postgres


@pytest.fixture
def ws(pg_workspace: Workspace) -> Workspace:
    return pg_workspace


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every query this process sends through psycopg (each is one round trip: none of ours
    is pipelined), while collecting."""
    queries: list[str] = []
    real = psycopg.Cursor.execute

    def execute(self: Any, query: Any, params: Any = None, **kw: Any) -> Any:
        queries.append(str(query))
        return real(self, query, params, **kw)

    monkeypatch.setattr(psycopg.Cursor, "execute", execute)
    yield queries


def _lock_is_free(ws: Workspace) -> bool:
    """Whether another session can take the admission lock at once."""
    url = ws.store.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        key = budget_repo.ADMISSION_LOCK_KEY
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if row and row[0]:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            return True
        return False


def _reserved_note(ws: Workspace, run_id: str) -> list[int]:
    with ws.store.read() as session:
        notes = session.execute(
            text("SELECT payload FROM agent_events WHERE run_id = :r AND kind = 'note'"),
            {"r": run_id},
        ).all()
    return [n[0]["reserved_micros"] for n in notes]


def test_an_admission_under_caps_reserves_in_two_round_trips(
    ws: Workspace, sent: list[str]
) -> None:
    set_budget(ws, daily=usd("10"), per_run=usd("2"))
    task = new_task(ws)
    call = CallScope(runtime=task.runtime, project_id=task.project_id, task_id=task.id)
    for n in range(3):  # the policy known, the statement prepared
        ws.budgets.admit(replace(call, run_id=f"run_warm{n}"))
    sent.clear()

    admission = ws.budgets.admit(replace(call, run_id="run_1"))

    assert admission.allowed and admission.reserved == usd("2")
    assert len(sent) == 2, sent
    assert sent[0].startswith("BEGIN") and "pg_advisory_xact_lock" in sent[0]
    assert "EXECUTE stagent_admission_" in sent[0]
    assert sent[1].startswith("EXECUTE stagent_ledger_") and "COMMIT" in sent[1]  # prepared
    held = [r for r in rows(ws, status="reserved") if r.run_id == "run_1"]
    assert [r.cost_micros for r in held] == [usd("2")]
    with ws.store.read() as session:
        notes = session.execute(
            text("SELECT payload FROM agent_events WHERE run_id = 'run_1' AND kind = 'note'")
        ).all()
    assert [n[0]["reserved_micros"] for n in notes] == [usd("2")]
    assert _lock_is_free(ws)


def test_a_locked_write_that_fails_lets_go_of_the_lock(ws: Workspace) -> None:
    key = budget_repo.ADMISSION_LOCK_KEY
    with pytest.raises(RuntimeError), ws.store.write(lock=key) as session:
        session.execute(text("SELECT 1"))
        assert not _lock_is_free(ws)
        raise RuntimeError("the caller failed")
    assert _lock_is_free(ws)
    with ws.store.write(lock=key) as session:  # the pooled connection is usable again
        assert session.execute(text("SELECT 2")).scalar() == 2
    assert _lock_is_free(ws)


def test_a_reservation_that_cannot_be_written_leaves_nothing_and_frees_the_lock(
    ws: Workspace,
) -> None:
    set_budget(ws, daily=usd("10"), per_run=usd("2"))
    task = new_task(ws)
    ok = CallScope(runtime=task.runtime, project_id=task.project_id, task_id=task.id)
    ws.budgets.admit(replace(ok, run_id="run_ok"))  # the policy is known
    ghost = CallScope(runtime=task.runtime, task_id="tsk_gone", run_id="run_ghost")

    with pytest.raises(BudgetPolicyError):  # its task does not exist: the commit fails
        ws.budgets.admit(ghost)

    assert _lock_is_free(ws)
    assert [r.run_id for r in rows(ws, status="reserved")] == ["run_ok"]
    assert rows(ws, task_id="tsk_gone") == []
    with ws.store.read() as session:
        for table in ("feed_outbox", "agent_events"):
            found = session.execute(text(f"SELECT 1 FROM {table} WHERE run_id = 'run_ghost'"))
            assert found.first() is None, table
    again = ws.budgets.admit(replace(ok, run_id="run_next"))
    assert again.allowed and again.reserved == usd("2")


def test_a_warning_due_goes_the_full_way_and_is_sent_once(ws: Workspace, sent: list[str]) -> None:
    set_budget(ws, daily=usd("10"), per_run=usd("2"))
    task = new_task(ws)
    call = CallScope(runtime=task.runtime, project_id=task.project_id, task_id=task.id)
    for n in range(4):  # $8 of $10 held: at the 80 % threshold from the fifth on
        assert ws.budgets.admit(replace(call, run_id=f"run_{n}")).reserved == usd("2")
    sent.clear()

    admission = ws.budgets.admit(replace(call, run_id="run_4"))

    assert admission.allowed and admission.reserved == usd("2")
    assert len(sent) > 2, sent  # the hot try, then `Store.write`
    assert [a.title for a in alerts(ws, "warning")] == [
        "Budget warning: overall daily spend at 80%"
    ]
    assert not ws.budgets.admit(replace(call, run_id="run_5")).allowed  # at the cap
    assert len(alerts(ws, "warning")) == 1
    assert _reserved_note(ws, "run_4") == [usd("2")]


def test_a_policy_changed_since_the_last_admission_is_read_again(ws: Workspace) -> None:
    set_budget(ws, daily=usd("10"), per_run=usd("2"))
    task = new_task(ws)
    call = CallScope(runtime=task.runtime, project_id=task.project_id, task_id=task.id)
    ws.budgets.admit(replace(call, run_id="run_0"))  # the policy is known

    set_budget(ws, daily=usd("10"), per_run=usd("1"))  # changed behind its back
    admission = ws.budgets.admit(replace(call, run_id="run_1"))

    assert admission.allowed and admission.reserved == usd("1")
    assert _lock_is_free(ws)


def test_prepared_statements_dropped_on_the_connection_are_prepared_again(
    ws: Workspace,
) -> None:
    set_budget(ws, daily=usd("10"), per_run=usd("2"))
    task = new_task(ws)
    call = CallScope(runtime=task.runtime, project_id=task.project_id, task_id=task.id)
    ws.budgets.admit(replace(call, run_id="run_0"))  # prepared on the idle hot connection
    with ws.store.hot_connection() as hot:
        hot.driver.execute("DEALLOCATE ALL")

    admission = ws.budgets.admit(replace(call, run_id="run_1"))

    assert admission.allowed and admission.reserved == usd("2")
    held = [r.run_id for r in rows(ws, status="reserved")]
    assert sorted(held) == ["run_0", "run_1"]
    assert _reserved_note(ws, "run_1") == [usd("2")]
    assert _lock_is_free(ws)


def test_a_workflow_steps_admission_sends_nothing_its_start_read_the_policy(
    ws: Workspace, sent: list[str]
) -> None:
    """A step's start reads the policy's fingerprint with its workflow's state: with no caps
    and nothing committed since, the run's admission sends no query; a cap set after the
    start is honoured by the next step's admission."""
    ws.budgets.admit(CallScope(runtime="scripted", task_id=new_task(ws).id, run_id="run_warm"))
    call = started_step(ws)
    sent.clear()

    admission = ws.budgets.admit(call)

    assert admission.allowed and admission.reserved == 0
    assert sent == []
    later = started_step(ws)
    set_budget(ws, daily=usd("10"), per_run=usd("2"))
    assert ws.budgets.admit(later).reserved == usd("2")
