"""Budget admission reads the policy once per call, in its serialized transaction when caps
apply: a cap or a change set by another process a moment ago is what the next admission
obeys, and removing every cap ends reservations. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from budgettools import new_task, rows, set_budget, usd
from sqlalchemy import text

from stagent.governance.budgets_policy import BudgetPolicyError, CallScope
from stagent.workspace import Workspace

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def ws(request: pytest.FixtureRequest) -> Workspace:
    name = "workspace" if request.param == "sqlite" else "pg_workspace"
    return request.getfixturevalue(name)


@pytest.fixture
def other(ws: Workspace, tmp_path: Path) -> Iterator[Workspace]:
    """Another process's workspace on the same database (its own home and services)."""
    second = Workspace.temporary(tmp_path / "other", database_url=ws.store.url).open()
    try:
        yield second
    finally:
        second.close()


_LEDGER_COLUMNS = (
    "task_id, project_id, activity, runtime, provider, model, input_tokens, output_tokens,"
    " cost_micros, cost_source, pricing_version, status, substr(note, 1, 60), raw, source,"
    " dedupe_key, simulated, started_at IS NOT NULL, started_at = finished_at"
)


def _ledger_row(ws: Workspace, run_id: str) -> tuple[Any, ...]:
    with ws.store.read() as session:
        return tuple(
            session.execute(
                text(f"SELECT {_LEDGER_COLUMNS} FROM usage_ledger WHERE run_id = :r"), {"r": run_id}
            ).one()
        )


def _note(ws: Workspace, run_id: str) -> tuple[Any, ...]:
    with ws.store.read() as session:
        return tuple(
            session.execute(
                text(
                    "SELECT task_id, subject_kind, subject_id, kind,"
                    " substr(CAST(payload AS TEXT), 1, 70), created_at IS NOT NULL"
                    " FROM agent_events"
                    " WHERE run_id = :r AND kind = 'note'"
                ),
                {"r": run_id},
            ).one()
        )


def call_for(ws: Workspace, run_id: str = "run_1", project: str | None = None) -> CallScope:
    task = new_task(ws, project=project)
    return CallScope(
        runtime=task.runtime, project_id=task.project_id, task_id=task.id, run_id=run_id
    )


def test_a_cap_set_by_another_process_stops_the_next_admission(
    ws: Workspace, other: Workspace
) -> None:
    call = call_for(ws)
    for _ in range(2):  # no caps: allowed, nothing reserved
        admission = ws.budgets.admit(call)
        assert admission.allowed and admission.reserved == 0
    set_budget(other, daily=0)
    refused = ws.budgets.admit(call)
    assert not refused.allowed
    assert refused.message is not None and "overall daily cap $0.00 reached" in refused.message
    assert [r.status for r in rows(ws, task_id=call.task_id)] == ["blocked"]


def test_a_cap_raised_elsewhere_is_the_one_the_next_admission_reserves_under(
    ws: Workspace, other: Workspace
) -> None:
    set_budget(ws, daily=usd("1"), per_run=usd("5"))
    call = call_for(ws)
    assert ws.budgets.admit(call).reserved == usd("1")
    set_budget(other, daily=usd("3"))
    again = ws.budgets.admit(call)  # the same run again: its old reservation is replaced
    assert again.allowed and again.reserved == usd("3")
    assert [r.cost_micros for r in rows(ws, status="reserved")] == [usd("3")]


def test_once_every_cap_is_cleared_admissions_reserve_nothing(
    ws: Workspace, other: Workspace
) -> None:
    set_budget(ws, daily=usd("4"))
    first = call_for(ws, "run_1")
    assert ws.budgets.admit(first).reserved == usd("2")  # the default per-run cap
    assert other.budgets.clear("overall")
    second = call_for(ws, "run_2")
    admission = ws.budgets.admit(second)
    assert admission.allowed and admission.reserved == 0 and admission.limits == ()
    assert len(rows(ws, status="reserved")) == 1  # the first run's, until it ends


def test_a_cap_on_another_scope_does_not_hold_back_this_call(
    ws: Workspace, other: Workspace
) -> None:
    project = ws.projects.create("Website")
    set_budget(other, scope="project", ref=project.id, daily=0)
    elsewhere = call_for(ws, "run_free")
    assert ws.budgets.admit(elsewhere).allowed
    inside = call_for(ws, "run_capped", project=project.id)
    refused = ws.budgets.admit(inside)
    assert not refused.allowed
    assert refused.message is not None and "project Website daily cap" in refused.message


def test_the_reservation_note_names_the_project_of_a_project_cap(ws: Workspace) -> None:
    project = ws.projects.create("Website")
    set_budget(ws, scope="project", ref=project.id, daily=usd("1.5"), per_run=usd("9"))
    admission = ws.budgets.admit(call_for(ws, project=project.id))
    assert admission.reserved == usd("1.5")
    [held] = rows(ws, status="reserved")
    assert held.note is not None and "project Website daily cap $1.50 headroom $1.50" in held.note


def test_a_project_cap_outlives_its_project_and_says_so(ws: Workspace) -> None:
    project = ws.projects.create("Gone soon")
    set_budget(ws, scope="project", ref=project.id, daily=0)
    call = CallScope(runtime="metered", project_id=project.id, run_id="run_x")
    ws.projects.delete(project.id)
    refused = ws.budgets.admit(call)
    assert not refused.allowed
    assert refused.message is not None
    assert f"project {project.id} (deleted) daily cap $0.00 reached" in refused.message


def test_a_cap_changed_by_hand_in_the_database_is_obeyed_at_once(ws: Workspace) -> None:
    set_budget(ws, daily=usd("4"))
    call = call_for(ws)
    assert ws.budgets.admit(call).reserved == usd("2")  # the policy is known from now on
    with ws.store.write() as session:
        session.execute(text("UPDATE budgets SET daily_cap_micros = 0"))
    refused = ws.budgets.admit(call)
    assert not refused.allowed
    assert refused.message is not None and "overall daily cap $0.00 reached" in refused.message


def test_a_row_broken_by_hand_after_an_admission_refuses_the_next(ws: Workspace) -> None:
    set_budget(ws, daily=usd("4"))
    call = call_for(ws)
    assert ws.budgets.admit(call).allowed
    with ws.store.write() as session:
        session.execute(text("UPDATE budgets SET on_breach = 'explode'"))
    with pytest.raises(BudgetPolicyError, match="budget policy unreadable"):
        ws.budgets.admit(call)


def test_a_renamed_project_is_named_by_its_new_name_in_the_next_refusal(
    ws: Workspace, other: Workspace
) -> None:
    project = ws.projects.create("Website")
    set_budget(ws, scope="project", ref=project.id, daily=0)
    call = call_for(ws, "run_a", project=project.id)
    assert not ws.budgets.admit(call).allowed
    with other.store.write() as session:  # no rename command yet: a person's edit by hand
        session.execute(
            text("UPDATE projects SET name = 'Storefront' WHERE id = :id"), {"id": project.id}
        )
    refused = ws.budgets.admit(call)
    assert refused.message is not None and "project Storefront daily cap" in refused.message


def test_a_run_admitted_again_holds_one_reservation_counted_once(ws: Workspace) -> None:
    set_budget(ws, daily=usd("3"), per_run=usd("2"))
    call = call_for(ws)
    assert ws.budgets.admit(call).reserved == usd("2")
    again = ws.budgets.admit(call)  # a take-over: the last attempt's reservation is released
    assert again.allowed and again.reserved == usd("2")
    assert [r.cost_micros for r in rows(ws, status="reserved")] == [usd("2")]
    assert [r.note for r in rows(ws, status="released")] == ["superseded: the run started again"]


def test_the_hot_path_stores_the_reservation_and_its_note_as_a_session_does(
    ws: Workspace,
) -> None:
    set_budget(ws, daily=usd("10"), per_run=usd("2"))
    task = new_task(ws)
    call = CallScope(runtime=task.runtime, project_id=task.project_id, task_id=task.id)
    ws.budgets.admit(replace(call, run_id="run_session"))  # policy unknown: `Store.write`
    ws.budgets.admit(replace(call, run_id="run_driver"))  # known: the hot path

    assert _ledger_row(ws, "run_driver") == _ledger_row(ws, "run_session")
    assert _note(ws, "run_driver") == _note(ws, "run_session")
    assert sorted(r.run_id or "" for r in rows(ws, status="reserved")) == [
        "run_driver",
        "run_session",
    ]
