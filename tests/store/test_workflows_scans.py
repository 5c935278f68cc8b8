"""Workflows and environment scans as the store keeps them: a workflow's runs each get their own
step rows, only one run at a time (two starts at once: one is refused), steps carried into a
new run keep their outcome, a step's cost is its task's; scan history keeps its newest scan
whatever the retention. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from storetools import claimed_run, new_task

from stagent.domain.errors import ConflictError, NotFoundError
from stagent.domain.runs import RunStatus
from stagent.domain.workflow_runs import StepStatus, WorkflowStatus
from stagent.domain.workflows import WorkflowDefinition
from stagent.store import approvals as approval_repo
from stagent.store import ledger as ledger_repo
from stagent.store import lifecycle, scans, step_outcomes, step_state
from stagent.store import projects as project_repo
from stagent.store import step_rows as step_repo
from stagent.store import tasks as task_repo
from stagent.store import workflows as workflow_repo
from stagent.store.database import Store


def definition(
    name: str = "release", pattern: str = "sequence", steps: int = 3
) -> WorkflowDefinition:
    return WorkflowDefinition.model_validate(
        {
            "name": name,
            "pattern": pattern,
            "steps": [
                {"id": f"s{i}", "name": f"Step {i}", "prompt": f"do {i}"} for i in range(steps)
            ],
        }
    )


def created(store: Store, name: str = "release", **kw: Any) -> str:
    with store.write() as session:
        return workflow_repo.create(session, definition(name, **kw)).id


def begin(store: Store, workflow_id: str) -> tuple[str, int]:
    with store.write() as session:
        row = workflow_repo.get_row(session, workflow_id, for_update=True)
        return workflow_repo.begin_run(session, row)


def end(store: Store, workflow_id: str, status: WorkflowStatus, reason: str | None = None) -> None:
    with store.write() as session:
        workflow_repo.end(session, workflow_repo.get_row(session, workflow_id), status, reason)


# ------------------------------------------------------------------------------- workflows


def test_a_new_workflow_is_a_draft_that_keeps_its_definition(store: Store) -> None:
    workflow_id = created(store)
    with store.read() as session:
        flow = workflow_repo.get(session, workflow_id)
        data = workflow_repo.definition_data(session, workflow_id)
        assert workflow_repo.definition_data(session, "wf_missing") is None
    assert workflow_id.startswith("wf_") and flow.status is WorkflowStatus.DRAFT
    assert flow.run_count == 0 and flow.steps == () and flow.name == "release"
    assert [s.id for s in flow.definition.steps] == ["s0", "s1", "s2"]
    assert data is not None and data["pattern"] == "sequence"


def test_a_workflow_is_found_by_id_or_by_a_unique_name(store: Store) -> None:
    first = created(store, "deploy")
    with store.read() as session:
        assert workflow_repo.get_row(session, "deploy").id == first
        assert step_state.run_state(session, "deploy").name == "deploy"
    created(store, "deploy")  # now the name is ambiguous
    with store.read() as session, pytest.raises(NotFoundError, match="'deploy'") as caught:
        workflow_repo.get_row(session, "deploy")
    assert "workflow list" in (caught.value.hint or "")


def test_starting_a_run_makes_a_pending_row_per_step(store: Store) -> None:
    workflow_id = created(store)
    engine_id, number = begin(store, workflow_id)
    assert (engine_id, number) == (f"{workflow_id}-run-1-1", 1)
    with store.read() as session:
        flow = workflow_repo.get(session, workflow_id)
        state = step_state.run_state(session, workflow_id)
    assert flow.status is WorkflowStatus.RUNNING and flow.started_at is not None
    assert [(s.key, s.position, s.status) for s in flow.steps] == [
        ("s0", 0, StepStatus.PENDING),
        ("s1", 1, StepStatus.PENDING),
        ("s2", 2, StepStatus.PENDING),
    ]
    assert (state.status, state.run_count, state.engine_id) == ("running", 1, engine_id)


@pytest.mark.parametrize("status", [WorkflowStatus.RUNNING, WorkflowStatus.PAUSED])
def test_a_second_run_is_refused_while_one_runs_or_is_paused(
    store: Store, status: WorkflowStatus
) -> None:
    workflow_id = created(store)
    begin(store, workflow_id)
    if status is WorkflowStatus.PAUSED:
        end(store, workflow_id, WorkflowStatus.PAUSED, "a person paused it")
    with pytest.raises(ConflictError, match=f"is {status.value}") as caught:
        begin(store, workflow_id)
    assert caught.value.hint == "resume or cancel it before starting a new run"
    with store.read() as session:
        assert workflow_repo.get(session, workflow_id).run_count == 1


def test_two_starts_at_once_make_one_run(store: Store) -> None:
    workflow_id = created(store)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def start() -> None:
        barrier.wait()
        try:
            begin(store, workflow_id)
            outcomes.append("started")
        except ConflictError:
            outcomes.append("refused")

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["refused", "started"]
    with store.read() as session:
        assert workflow_repo.get(session, workflow_id).run_count == 1
        assert len(step_repo.step_rows(session, workflow_id, 1)) == 3
        assert step_repo.step_rows(session, workflow_id, 2) == []


def test_an_ended_run_records_why_and_a_new_run_starts_fresh(store: Store) -> None:
    workflow_id = created(store)
    begin(store, workflow_id)
    with store.write() as session:
        row = workflow_repo.get_row(session, workflow_id)
        workflow_repo.end(session, row, WorkflowStatus.FAILED, "step s1 failed", "step_failed")
    with store.read() as session:
        failed = workflow_repo.get(session, workflow_id)
    assert failed.status is WorkflowStatus.FAILED and failed.stop_reason == "step s1 failed"
    assert failed.stop_code == "step_failed" and failed.finished_at is not None
    engine_id, number = begin(store, workflow_id)
    assert (engine_id, number) == (f"{workflow_id}-run-2-1", 2)
    with store.read() as session:
        fresh = workflow_repo.get(session, workflow_id)
        first_run = step_repo.step_rows(session, workflow_id, 1)
    assert fresh.stop_reason is None and fresh.stop_code is None and fresh.finished_at is None
    assert len(fresh.steps) == 3 and len(first_run) == 3  # the first run's rows stay


def test_a_paused_run_has_no_finish_time_and_a_new_round_a_new_engine_id(store: Store) -> None:
    workflow_id = created(store)
    begin(store, workflow_id)
    end(store, workflow_id, WorkflowStatus.PAUSED, "budget")
    with store.write() as session:
        row = workflow_repo.get_row(session, workflow_id, for_update=True)
        assert row.finished_at is None
        second = workflow_repo.next_round(row)
        third = workflow_repo.next_round(row)
    assert (second, third) == (f"{workflow_id}-run-1-2", f"{workflow_id}-run-1-3")
    with store.read() as session:
        assert step_state.run_state(session, workflow_id).engine_id == third


def test_steps_carried_into_a_new_run_keep_how_they_ended(store: Store) -> None:
    workflow_id = created(store)
    begin(store, workflow_id)
    task_id = new_task(store, "s0's task")
    with store.write() as session:
        done = step_repo.step_row(session, workflow_id, 1, "s0", for_update=True)
        done.status, done.task_id, done.output = StepStatus.COMPLETED.value, task_id, "built"
        extra = step_repo.add_step(session, workflow_id, 1, "s1#1", "Iteration 1", 5)
        extra.status, extra.output = StepStatus.COMPLETED.value, "iterated"
    end(store, workflow_id, WorkflowStatus.FAILED, "s1 failed")
    begin(store, workflow_id)
    with store.write() as session:
        old = step_repo.step_rows(session, workflow_id, 1)
        step_repo.reuse_steps(session, workflow_id, 2, [r for r in old if r.output])
    with store.read() as session:
        steps = {s.key: s for s in workflow_repo.get(session, workflow_id).steps}
        assert step_repo.step_for_task(session, task_id).run_number == 2  # type: ignore[union-attr]
    assert steps["s0"].status is StepStatus.COMPLETED and steps["s0"].output == "built"
    assert steps["s0"].task_id == task_id
    assert steps["s1#1"].name == "Iteration 1" and steps["s1#1"].output == "iterated"
    assert steps["s1"].status is StepStatus.PENDING and steps["s2"].status is StepStatus.PENDING


def test_a_workflows_steps_read_as_values_say_what_their_rows_say(store: Store) -> None:
    """`get` reads a run's steps as values (no ORM object a row): every field as `to_step`
    maps the row, in definition order, a run-time step's name and both times included; the
    interpreter's `step_facts` each step's status, output and error, in the same order."""
    workflow_id = created(store, steps=4)
    begin(store, workflow_id)
    task_id = new_task(store, "s1's task")
    started = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
    with store.write() as session:
        done = step_repo.step_row(session, workflow_id, 1, "s1", for_update=True)
        done.status, done.task_id, done.output = StepStatus.COMPLETED.value, task_id, "built"
        done.started_at, done.ended_at = started, started + timedelta(seconds=3)
        broke = step_repo.step_row(session, workflow_id, 1, "s2", for_update=True)
        broke.status, broke.error = StepStatus.FAILED.value, "it broke"
        extra = step_repo.add_step(session, workflow_id, 1, "s0#1", "Iteration 1", 9)
        extra.status = StepStatus.RUNNING.value
    with store.read() as session:
        flow = workflow_repo.get(session, workflow_id)
        rows = step_repo.step_rows(session, workflow_id, 1)
        expected = tuple(step_repo.to_step(r) for r in rows)
        facts = step_repo.step_facts(session, workflow_id, 1)  # what a run's interpreter reads
        said = [
            (r.step_key, {"status": r.status, "output": r.output, "error": r.error}) for r in rows
        ]
    assert flow.steps == expected
    assert list(facts.items()) == said
    assert [s.key for s in flow.steps] == ["s0", "s1", "s2", "s3", "s0#1"]
    s1 = flow.steps[1]
    assert (s1.task_id, s1.output, s1.started_at, s1.ended_at) == (
        task_id,
        "built",
        started,
        started + timedelta(seconds=3),
    )
    assert flow.steps[2].error == "it broke" and flow.steps[4].name == "Iteration 1"


def test_adding_a_run_time_step_twice_gives_the_same_row(store: Store) -> None:
    workflow_id = created(store, steps=1)
    begin(store, workflow_id)
    with store.write() as session:
        first = step_repo.add_step(session, workflow_id, 1, "s0#1", "round 1", 1)
        again = step_repo.add_step(session, workflow_id, 1, "s0#1", "round 1", 1)
        by_id = step_repo.step_by_id(session, first.id)
    assert first.id == again.id and by_id is not None and by_id.step_key == "s0#1"
    with store.read() as session:
        keys = [r.step_key for r in step_repo.step_rows(session, workflow_id, 1)]
    assert keys == ["s0", "s0#1"]


def test_a_missing_step_is_not_found_with_a_hint(store: Store) -> None:
    workflow_id = created(store)
    begin(store, workflow_id)
    with store.read() as session, pytest.raises(NotFoundError, match="no step 'zz' in run 1"):
        step_repo.step_row(session, workflow_id, 1, "zz")


def test_a_steps_start_reads_its_row_and_the_workflows_current_state(store: Store) -> None:
    """`step_start` (one read on SQLite) is `step_values` plus the state `run_state` reads:
    a pause written before it is seen; a missing step is not found with a hint."""
    workflow_id = created(store)
    engine_id, number = begin(store, workflow_id)
    end(store, workflow_id, WorkflowStatus.PAUSED, "a person paused it")
    with store.write() as session:
        row, state = step_state.step_start(session, workflow_id, number, "s1")
        assert row == step_state.step_values(session, workflow_id, number, "s1")
        if state is None:  # PostgreSQL: read after the row's lock
            state = step_state.run_state(session, workflow_id)
        assert state == step_state.run_state(session, workflow_id)
        with pytest.raises(NotFoundError, match="no step 'zz' in run 1"):
            step_state.step_start(session, workflow_id, number, "zz")
    assert (row.status, row.task_id) == ("pending", None)
    assert (state.status, state.run_count, state.engine_id) == ("paused", 1, engine_id)
    assert state.name == "release"


def test_workflows_list_newest_first_and_filter_by_status(store: Store) -> None:
    a = created(store, "a")
    b = created(store, "b")
    begin(store, b)
    with store.read() as session:
        assert {w.id for w in workflow_repo.list_all(session)} == {a, b}
        running = workflow_repo.list_all(session, status=WorkflowStatus.RUNNING)
        drafts = workflow_repo.list_all(session, status=WorkflowStatus.DRAFT)
    assert [w.id for w in running] == [b] and [w.id for w in drafts] == [a]


def test_an_edited_definition_leaves_earlier_runs_step_rows(store: Store) -> None:
    workflow_id = created(store)
    begin(store, workflow_id)
    end(store, workflow_id, WorkflowStatus.COMPLETED, None)
    with store.write() as session:
        project = project_repo.create(session, name="x")
        row = workflow_repo.get_row(session, workflow_id, for_update=True)
        edited = workflow_repo.replace_definition(
            session, row, definition("release v2", steps=1), project.id
        )
    assert edited.name == "release v2" and edited.project_id == project.id
    # the run keeps the definition it ran (3 steps); the edit is what the next run runs
    assert len(edited.definition.steps) == 3 and len(edited.steps) == 3
    assert edited.edited is not None and len(edited.edited.steps) == 1


def test_a_steps_cost_is_every_run_of_its_task(store: Store) -> None:
    workflow_id = created(store)
    begin(store, workflow_id)
    claim = claimed_run(store, "s0 task")
    with store.write() as session:
        step_repo.step_row(session, workflow_id, 1, "s0").task_id = claim.task.id
        ledger_repo.insert(
            session,
            ledger_repo.NewLedgerEntry(
                runtime="scripted", task_id=claim.task.id, run_id=claim.run.id, cost_micros=250
            ),
        )
        lifecycle.finish(session, claim.run.id, RunStatus.FAILED, attempt=1, error="x")
        _, second = lifecycle.queue_run(session, claim.task.id, claim.run.options)
    assert second is not None
    with store.write() as session:
        lifecycle.claim(session, claim.task.id, 2)
        ledger_repo.insert(
            session,
            ledger_repo.NewLedgerEntry(
                runtime="scripted", task_id=claim.task.id, run_id=second.id, cost_micros=100
            ),
        )
        lifecycle.finish(session, second.id, RunStatus.COMPLETED, attempt=1)
    with store.write() as session:  # a step on another runtime whose task has no run yet
        other = task_repo.create(session, task_repo.NewTask(title="s1", runtime="anthropic"))
        step_repo.step_row(session, workflow_id, 1, "s1").task_id = other.id
    with store.read() as session:
        assert sorted(step_repo.step_costs(session, workflow_id, 1)) == [
            ("s0", "scripted", 350),
            ("s1", "anthropic", 0),
        ]
        assert step_repo.step_task_ids(session) == {
            claim.task.id: workflow_id,
            other.id: workflow_id,
        }
        assert step_repo.step_task_ids(session, ["tsk_other"]) == {}


def test_why_a_step_failed_distinguishes_budget_rejection_and_failure(store: Store) -> None:
    claim = claimed_run(store)
    with store.read() as session:
        assert step_outcomes.why_failed(session, claim.task.id, 1, "cancelled") == "cancelled"
        assert step_outcomes.why_failed(session, claim.task.id, 1, "failed") == "failed"
        assert step_outcomes.why_failed(session, claim.task.id, 9, "failed") == "failed"
        assert step_outcomes.budget_refusal(session, claim.task.id) is None
        assert step_outcomes.budget_refusal(session, "tsk_never_ran") is None
    with store.write() as session:
        card = approval_repo.create(
            session,
            task_id=claim.task.id,
            run_id=claim.run.id,
            project_id=None,
            runtime="scripted",
            profile=None,
            tool="checkpoint",
            tool_input={},
            kind="checkpoint",
            risk="low",
            suggested_rule=None,
            why_asked="a checkpoint",
            expires_at=None,
        )
        approval_repo.decide(session, card.id, status="denied", decided_by="me", decision={})
    with store.read() as session:
        assert step_outcomes.why_failed(session, claim.task.id, 1, "failed") == "rejected"
    with store.write() as session:
        ledger_repo.insert(
            session,
            ledger_repo.NewLedgerEntry(
                runtime="scripted",
                task_id=claim.task.id,
                run_id=claim.run.id,
                status="blocked",
                note="daily cap reached",
            ),
        )
    with store.read() as session:
        assert step_outcomes.why_failed(session, claim.task.id, 1, "failed") == "budget"
        assert step_outcomes.budget_refusal(session, claim.task.id) == "daily cap reached"


# ------------------------------------------------------------------------------- scans


def report(at: datetime, *, score: int = 90, severities: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "scanned_at": at.isoformat(),
        "roots": ["/home/me/src"],
        "score": score,
        "duration_ms": 12.5,
        "artifacts": [{"path": "/a"}, {"path": "/b"}],
        "projects": [{"path": "/home/me/src/x"}],
        "findings": [{"severity": s, "kind": "k"} for s in severities],
    }


T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_stored_scan_keeps_its_report_and_summary(store: Store) -> None:
    with store.write() as session:
        scan_id = scans.add(
            session,
            report(T0, score=72, severities=("error", "warning", "warning", "info")),
            fingerprint="fp1",
        )
    with store.read() as session:
        [record] = scans.history(session)
        stored = scans.report(session, scan_id)
    assert record.id == scan_id and record.scanned_at == T0 and record.score == 72
    assert (record.errors, record.warnings, record.infos) == (1, 2, 1)
    assert (record.artifact_count, record.project_count) == (2, 1)
    assert record.roots == ["/home/me/src"] and record.fingerprint == "fp1"
    assert stored["id"] == scan_id and stored["score"] == 72


def test_the_newest_scan_is_what_pages_show(store: Store) -> None:
    with store.read() as session:
        assert scans.latest_report(session) is None and scans.latest_fingerprint(session) is None
    with store.write() as session:
        scans.add(session, report(T0 + timedelta(days=1), score=50), fingerprint="new")
        scans.add(session, report(T0, score=10), fingerprint="old")
    with store.read() as session:
        latest = scans.latest_report(session)
        assert scans.latest_fingerprint(session) == "new"
        assert [r.fingerprint for r in scans.history(session)] == ["new", "old"]
        assert len(scans.history(session, limit=1)) == 1
    assert latest is not None and latest["score"] == 50


def test_a_missing_scan_is_not_found(store: Store) -> None:
    with store.read() as session, pytest.raises(NotFoundError, match="scn_nope"):
        scans.report(session, "scn_nope")


def test_pruning_keeps_the_newest_and_what_the_retention_allows(store: Store) -> None:
    with store.write() as session:
        for day in range(6):
            scans.add(session, report(T0 + timedelta(days=day)), fingerprint=f"d{day}")
    with store.write() as session:
        assert scans.prune(session, keep=4, before=None) == 2
    with store.write() as session:
        assert scans.prune(session, keep=None, before=T0 + timedelta(days=4)) == 2
    with store.read() as session:
        assert [r.fingerprint for r in scans.history(session)] == ["d5", "d4"]
    with store.write() as session:  # even a retention of nothing keeps the newest
        assert scans.prune(session, keep=0, before=T0 + timedelta(days=30)) == 1
    with store.read() as session:
        assert scans.count(session) == 1 and scans.latest_fingerprint(session) == "d5"
