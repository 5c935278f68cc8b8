"""Budgets as the store keeps them: one cap row per scope, per-window state (allowances, the
notice and card of a breach), admissions serialized so two starts never read the same headroom,
and the admission path through `BudgetService` reserving and releasing once. On SQLite and
PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from stagent import workspace as workspace_module
from stagent.domain.events import UsageEvent
from stagent.domain.runs import RunStatus
from stagent.engine.options import resolve
from stagent.engine.services import TaskDraft
from stagent.governance.budgets_config import BudgetChange
from stagent.governance.budgets_policy import CallScope
from stagent.store import budgets as budget_repo
from stagent.store import events as event_repo
from stagent.store import inbox as inbox_repo
from stagent.store import ledger as ledger_repo
from stagent.store import lifecycle
from stagent.store import projects as project_repo
from stagent.store.database import Store
from stagent.store.lifecycle import Claim
from stagent.testing.metered import registry_with_metered
from stagent.workspace import Workspace

# ------------------------------------------------------------------------------- caps


def test_a_new_budget_starts_with_defaults_and_keeps_what_was_set(store: Store) -> None:
    with store.write() as session:
        made = budget_repo.upsert(session, "overall", "", {"daily_cap_micros": 5_000_000})
    assert made.id.startswith("bgt_") and made.warn_at == 0.8 and made.on_breach == "fail"
    assert made.daily_cap_micros == 5_000_000 and made.monthly_cap_micros is None
    with store.write() as session:
        changed = budget_repo.upsert(
            session, "overall", "", {"monthly_cap_micros": 90_000_000, "on_breach": "pause"}
        )
    assert changed.id == made.id
    assert (changed.daily_cap_micros, changed.monthly_cap_micros) == (5_000_000, 90_000_000)
    assert changed.on_breach == "pause" and changed.updated_at.utcoffset() is not None
    with store.read() as session:
        assert budget_repo.get(session, "overall", "") == changed
        assert budget_repo.get(session, "runtime", "claude") is None


def test_budgets_list_overall_then_runtimes_then_projects(store: Store) -> None:
    with store.write() as session:
        for scope, ref in (
            ("project", "prj_b"),
            ("runtime", "codex"),
            ("overall", ""),
            ("project", "prj_a"),
            ("runtime", "claude"),
        ):
            budget_repo.upsert(session, scope, ref, {"run_cap_micros": 1})
    with store.read() as session:
        order = [(b.scope, b.scope_ref) for b in budget_repo.list_budgets(session)]
    assert order == [
        ("overall", ""),
        ("runtime", "claude"),
        ("runtime", "codex"),
        ("project", "prj_a"),
        ("project", "prj_b"),
    ]


def test_a_project_budget_is_read_with_its_projects_name(store: Store) -> None:
    with store.write() as session:
        project = project_repo.create(session, name="Website")
        budget_repo.upsert(session, "project", project.id, {"daily_cap_micros": 1})
        budget_repo.upsert(session, "project", "prj_gone", {"daily_cap_micros": 2})
        budget_repo.upsert(session, "runtime", project.id, {"daily_cap_micros": 3})
        budget_repo.upsert(session, "overall", "", {"daily_cap_micros": 4})
    with store.read() as session:
        names = {(b.scope, b.scope_ref): b.project_name for b in budget_repo.list_budgets(session)}
    assert names == {
        ("overall", ""): None,
        ("runtime", project.id): None,  # a runtime that shares the id is not the project
        ("project", project.id): "Website",
        ("project", "prj_gone"): None,
    }


def test_deleting_a_budget_says_whether_there_was_one(store: Store) -> None:
    with store.write() as session:
        budget_repo.upsert(session, "runtime", "claude", {"daily_cap_micros": 1})
    with store.write() as session:
        assert budget_repo.delete(session, "runtime", "claude") is True
        assert budget_repo.delete(session, "runtime", "claude") is False
    with store.read() as session:
        assert budget_repo.list_budgets(session) == []


# ------------------------------------------------------------------------------- windows


def test_a_window_nothing_happened_in_is_empty(store: Store) -> None:
    with store.read() as session:
        assert budget_repo.window(session, "overall", "", "daily", "2026-12-06") == (
            budget_repo.WindowState()
        )


def test_allowances_add_up_per_window(store: Store) -> None:
    with store.write() as session:
        assert budget_repo.add_allowance(session, "overall", "", "daily", "d1", 1000) == 1000
        assert budget_repo.add_allowance(session, "overall", "", "daily", "d1", 500) == 1500
        assert budget_repo.add_allowance(session, "overall", "", "daily", "d2", 7) == 7
    with store.read() as session:
        assert budget_repo.window(session, "overall", "", "daily", "d1").allowance_micros == 1500
        assert budget_repo.window(session, "overall", "", "monthly", "d1").allowance_micros == 0


def test_window_state_is_read_for_several_windows_at_once(store: Store) -> None:
    with store.write() as session:
        budget_repo.update_window(
            session, "runtime", "claude", "daily", "d1", {"warned_cap_micros": 100}
        )
        budget_repo.update_window(
            session, "overall", "", "monthly", "m1", {"card_id": "inb_1", "notice_id": "inb_2"}
        )
        budget_repo.update_window(
            session, "overall", "", "monthly", "m1", {"notice_cap_micros": 300}
        )
    keys = [
        ("runtime", "claude", "daily", "d1"),
        ("overall", "", "monthly", "m1"),
        ("project", "prj", "daily", "d1"),
    ]
    with store.read() as session:
        states = budget_repo.windows(session, keys)
        assert budget_repo.windows(session, []) == {}
    assert states[keys[0]].warned_cap_micros == 100
    assert (states[keys[1]].card_id, states[keys[1]].notice_id) == ("inb_1", "inb_2")
    assert states[keys[1]].notice_cap_micros == 300
    assert states[keys[2]] == budget_repo.WindowState()


def test_an_answered_card_is_forgotten_by_every_window_that_held_it(store: Store) -> None:
    with store.write() as session:
        for period in ("daily", "monthly"):
            budget_repo.update_window(session, "overall", "", period, "k", {"card_id": "inb_c"})
        budget_repo.update_window(session, "overall", "", "daily", "other", {"card_id": "inb_d"})
        budget_repo.clear_card(session, "inb_c")
    with store.read() as session:
        assert budget_repo.window(session, "overall", "", "daily", "k").card_id is None
        assert budget_repo.window(session, "overall", "", "monthly", "k").card_id is None
        assert budget_repo.window(session, "overall", "", "daily", "other").card_id == "inb_d"


def test_refreshing_a_notice_updates_it_marks_it_unread_and_announces_it(store: Store) -> None:
    with store.write() as session:
        item = inbox_repo.create(
            session, kind="budget_alert", title="80%", payload={"scope": "overall"}
        )
        inbox_repo.mark_read(session, item.id)
    with store.write() as session:
        refreshed = budget_repo.refresh_notice(
            session, item.id, title="95%", body="almost", payload={"scope": "overall", "pct": 95}
        )
        assert (
            budget_repo.refresh_notice(session, "inb_gone", title="x", body="", payload={}) is None
        )
    assert refreshed is not None and refreshed.title == "95%" and not refreshed.read
    with store.read() as session:
        assert budget_repo.find_item(session, item.id) == refreshed
        assert budget_repo.find_item(session, None) is None
        assert budget_repo.find_item(session, "inb_gone") is None
        actions = [e.payload["action"] for e in event_repo.since(session, 0)]
    assert actions == ["created", "read", "updated"]


def test_admissions_wait_for_each_other(store: Store) -> None:
    """While one admission is in its transaction, a second one waits for its end (PostgreSQL:
    the advisory lock; SQLite: the write lock its first statement takes)."""
    held = threading.Event()
    release = threading.Event()
    times: dict[str, float] = {}

    def first() -> None:
        with store.write() as session:
            budget_repo.lock_admissions(session)
            budget_repo.list_budgets(session)  # an admission reads the caps first
            held.set()
            release.wait(timeout=10)
            times["first_done"] = time.monotonic()

    def second() -> None:
        with store.write() as session:
            budget_repo.lock_admissions(session)
            budget_repo.list_budgets(session)
            times["second_in"] = time.monotonic()

    one = threading.Thread(target=first)
    one.start()
    assert held.wait(timeout=10)
    two = threading.Thread(target=second)
    two.start()
    time.sleep(0.2)
    assert "second_in" not in times  # still waiting
    release.set()
    one.join(timeout=10)
    two.join(timeout=10)
    assert times["second_in"] >= times["first_done"]


# ------------------------------------------------------------------------------- the service


@pytest.fixture
def _metered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workspaces built from now on know the test-only ``metered`` runtime (usage = spend)."""
    registry = registry_with_metered(workspace_module.default_registry)
    monkeypatch.setattr(workspace_module, "default_registry", registry)


@pytest.fixture
def metered_ws(_metered: None, ws: Workspace) -> Iterator[Workspace]:
    """The workspace, with the ``metered`` runtime."""
    yield ws


def metered_claim(ws: Workspace, title: str = "t") -> Claim:
    task = ws.tasks.create(TaskDraft(title=title, runtime="metered"))
    with ws.store.write() as session:
        lifecycle.queue_run(session, task.id, resolve(task, None))
    with ws.store.write() as session:
        claim = lifecycle.claim(session, task.id, 1)
    assert claim is not None
    return claim


def ledger_of(ws: Workspace, run_id: str) -> list[tuple[str, int]]:
    with ws.store.read() as session:
        entries = ledger_repo.list_entries(session, ledger_repo.LedgerFilter(), limit=None)
    return sorted((e.status, e.cost_micros) for e in entries if e.run_id == run_id)


def test_two_runs_admitted_at_once_never_overshoot_the_cap(metered_ws: Workspace) -> None:
    """A $3 daily cap and $2 per run: of two runs starting together, one is reserved $2 and
    the other only what is left (or refused), never $2 each."""
    ws = metered_ws
    ws.budgets.set(BudgetChange(daily=3_000_000, per_run=2_000_000))
    claims = [metered_claim(ws, f"r{i}") for i in range(2)]
    barrier = threading.Barrier(2)
    reserved: list[int] = []
    errors: list[BaseException] = []

    def admit(claim: Claim) -> None:
        barrier.wait()
        try:
            call = CallScope(runtime="metered", task_id=claim.task.id, run_id=claim.run.id)
            reserved.append(ws.budgets.admit(call).reserved)
        except BaseException as exc:  # a refusal is a fine outcome for the second
            errors.append(exc)

    threads = [threading.Thread(target=admit, args=(c,)) for c in claims]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sum(reserved) <= 3_000_000
    assert 2_000_000 in reserved
    assert ws.budgets.status("overall").limits[0].reserved == sum(reserved)


def test_a_reservation_is_released_once_however_often_the_run_is_ended(
    metered_ws: Workspace,
) -> None:
    ws = metered_ws
    ws.budgets.set(BudgetChange(daily=50_000_000, per_run=2_000_000))
    claim = metered_claim(ws)
    ws.budgets.admit(CallScope(runtime="metered", task_id=claim.task.id, run_id=claim.run.id))
    usage = UsageEvent(model="scripted-1", cost_usd=0.5, request_id="req-1")
    ws.budgets.record_usage(claim.task, usage, run_id=claim.run.id, attempt=claim.attempt)
    assert ledger_of(ws, claim.run.id) == [("completed", 500_000), ("reserved", 1_500_000)]
    with ws.store.write() as session:
        lifecycle.finish(session, claim.run.id, RunStatus.COMPLETED, attempt=claim.attempt)
    with ws.store.write() as session:
        assert lifecycle.finish(session, claim.run.id, RunStatus.FAILED) is None
    assert ledger_of(ws, claim.run.id) == [("completed", 500_000), ("released", 0)]
    limit = ws.budgets.status("overall").limits[0]
    assert (limit.spent, limit.reserved) == (500_000, 0)


def test_a_superseded_attempts_usage_is_refused_and_not_booked(metered_ws: Workspace) -> None:
    from stagent.domain.lifecycle import StaleAttemptError

    ws = metered_ws
    claim = metered_claim(ws)
    with ws.store.write() as session:
        lifecycle.claim(session, claim.task.id, 1)  # taken over
    usage = UsageEvent(model="scripted-1", cost_usd=0.25, request_id="req-old")
    with pytest.raises(StaleAttemptError):
        ws.budgets.record_usage(claim.task, usage, run_id=claim.run.id, attempt=claim.attempt)
    assert ledger_of(ws, claim.run.id) == []
