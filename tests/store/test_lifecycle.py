"""The one owner of run and task state (`stagent.store.lifecycle`): the transition table is
enforced for every move, a superseded attempt's writes are refused, a run ends and is settled
exactly once, and a person's moves (cancel, back to planned) end what they must. On SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import delete
from storetools import claimed_run, new_task, queued_run

from stagent.domain.errors import ConflictError, InvalidTransitionError, NotFoundError
from stagent.domain.lifecycle import RUN_TRANSITIONS, StaleAttemptError
from stagent.domain.run_options import RunOptions
from stagent.domain.runs import RunStatus, Subject
from stagent.domain.tasks import TaskStatus
from stagent.store import events as event_repo
from stagent.store import ledger as ledger_repo
from stagent.store import lifecycle
from stagent.store import runs as run_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store
from stagent.store.tables import RunRow

OPTIONS = RunOptions(runtime="scripted")
ENDINGS = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)


def run_in(store: Store, state: RunStatus) -> tuple[str, str]:
    """A task whose one run is in ``state``, reached through the lifecycle: (task id, run id)."""
    task_id, run = queued_run(store)
    with store.write() as session:
        if state is not RunStatus.QUEUED:
            lifecycle.claim(session, task_id, 1)
        if state is RunStatus.WAITING:
            lifecycle.suspend(session, run.id, "approval:x", reason="a person decides")
        if state.is_terminal:
            error = "e" if state is RunStatus.FAILED else None
            lifecycle.finish(session, run.id, state, error=error)
    return task_id, run.id


def run_status(store: Store, run_id: str) -> RunStatus:
    with store.read() as session:
        return run_repo.get(session, run_id).status


def task_status(store: Store, task_id: str) -> TaskStatus:
    with store.read() as session:
        return task_repo.get(session, task_id).status


def kinds(store: Store, task_id: str) -> list[str]:
    with store.read() as session:
        return [e.kind for e in event_repo.for_task(session, task_id)]


def ledger_rows(store: Store, run_id: str) -> list[tuple[str, int]]:
    with store.read() as session:
        rows = ledger_repo.list_entries(session, ledger_repo.LedgerFilter(), limit=None)
    return sorted((r.status, r.cost_micros) for r in rows if r.run_id == run_id)


def reserve(store: Store, task_id: str, run_id: str, micros: int) -> None:
    with store.write() as session:
        ledger_repo.insert(
            session,
            ledger_repo.NewLedgerEntry(
                runtime="scripted",
                task_id=task_id,
                run_id=run_id,
                cost_micros=micros,
                cost_source="estimate",
                status=ledger_repo.RESERVED,
            ),
        )


def call(store: Store, task_id: str, run_id: str, micros: int) -> None:
    with store.write() as session:
        ledger_repo.insert(
            session,
            ledger_repo.NewLedgerEntry(
                runtime="scripted", task_id=task_id, run_id=run_id, cost_micros=micros
            ),
        )


# ------------------------------------------------------------------------------- the table


@pytest.mark.parametrize("state", [RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING])
@pytest.mark.parametrize("target", ENDINGS)
def test_finish_moves_a_run_only_along_an_edge_of_the_table(
    store: Store, state: RunStatus, target: RunStatus
) -> None:
    task_id, run_id = run_in(store, state)
    allowed = target in RUN_TRANSITIONS[state]
    if allowed:
        with store.write() as session:
            ended = lifecycle.finish(session, run_id, target, error="why")
        assert ended is not None and ended.status is target and ended.ended_at is not None
        assert run_status(store, run_id) is target
        assert task_status(store, task_id) is TaskStatus(target.value)
        return
    before = kinds(store, task_id)
    with (
        pytest.raises(InvalidTransitionError, match=f"from {state.value} to {target.value}"),
        store.write() as session,
    ):
        lifecycle.finish(session, run_id, target)
    assert run_status(store, run_id) is state
    assert kinds(store, task_id) == before  # nothing was logged either


@pytest.mark.parametrize("state", ENDINGS)
def test_an_ended_run_never_changes_again(store: Store, state: RunStatus) -> None:
    task_id, run_id = run_in(store, state)
    before = kinds(store, task_id)
    with store.write() as session:
        for target in ENDINGS:
            assert lifecycle.finish(session, run_id, target, result="late") is None
        assert lifecycle.claim(session, task_id, 1) is None
    with store.read() as session:
        run = run_repo.get(session, run_id)
    assert run.status is state and run.result is None
    assert task_status(store, task_id) is TaskStatus(state.value)
    assert kinds(store, task_id) == before


def test_a_move_that_is_not_an_ending_is_refused_by_finish(store: Store) -> None:
    _, run_id = run_in(store, RunStatus.RUNNING)
    with pytest.raises(InvalidTransitionError, match="does not end a run"), store.write() as s:
        lifecycle.finish(s, run_id, RunStatus.WAITING)
    assert run_status(store, run_id) is RunStatus.RUNNING


def test_the_refusal_names_the_run_and_the_moves_it_may_make(store: Store) -> None:
    _, run_id = run_in(store, RunStatus.WAITING)
    with pytest.raises(InvalidTransitionError) as caught, store.write() as session:
        lifecycle.finish(session, run_id, RunStatus.COMPLETED)
    assert run_id in caught.value.message
    assert caught.value.hint == "from waiting a run can move to: cancelled, failed, running"


def test_a_run_whose_task_moved_on_cannot_drag_the_task_back(store: Store) -> None:
    """task_follows: a run may end only in a state its task can also move to."""
    claim = claimed_run(store)
    with store.write() as session:  # the task was cancelled and queued again meanwhile
        lifecycle.cancel_task(session, claim.task.id, reason="stop")
        _, second = lifecycle.queue_run(session, claim.task.id, OPTIONS)
    assert second is not None and second.number == 2
    with store.write() as session:  # the new run completes; the old one is long over
        assert lifecycle.claim(session, claim.task.id, 1) is None
        fresh = lifecycle.claim(session, claim.task.id, 2)
        assert fresh is not None and fresh.attempt == 1
        lifecycle.finish(session, second.id, RunStatus.COMPLETED, attempt=1, result="r2")
    with store.read() as session:
        runs = run_repo.for_task(session, claim.task.id)
        task = task_repo.get(session, claim.task.id)
    assert [(r.number, r.status) for r in runs] == [
        (1, RunStatus.CANCELLED),
        (2, RunStatus.COMPLETED),
    ]
    assert task.status is TaskStatus.COMPLETED and task.result == "r2" and task.run_count == 2


# ------------------------------------------------------------------------------- queue_run


@pytest.mark.parametrize("ending", ENDINGS)
def test_an_ended_task_runs_again_as_a_new_numbered_run(store: Store, ending: RunStatus) -> None:
    task_id, first = run_in(store, ending)
    with store.write() as session:
        task, run = lifecycle.queue_run(session, task_id, OPTIONS, reason="again")
    assert run is not None and run.number == 2 and run.id != first
    assert run.status is RunStatus.QUEUED and run.attempt == 0
    assert run.workflow_id == lifecycle.workflow_id_for(task_id, 2) == f"{task_id}-run-2"
    assert task.status is TaskStatus.QUEUED and task.run_count == 2
    assert task.result is None and task.error is None and task.finished_at is None
    with store.read() as session:
        last = event_repo.for_task(session, task_id)[-1]
    assert last.kind == "status" and last.run_id == run.id
    assert last.payload == {"from": ending.value, "to": "queued", "reason": "again", "run": 2}


@pytest.mark.parametrize("state", [RunStatus.RUNNING, RunStatus.WAITING])
def test_a_task_with_a_live_run_is_not_queued_again(store: Store, state: RunStatus) -> None:
    task_id, _ = run_in(store, state)
    with (
        pytest.raises(ConflictError, match=f"already {state.value}") as caught,
        store.write() as session,
    ):
        lifecycle.queue_run(session, task_id, OPTIONS)
    assert caught.value.hint == "wait for it to end, or cancel it"
    with store.read() as session:
        assert len(run_repo.for_task(session, task_id)) == 1


def test_queueing_a_queued_task_returns_its_run_without_a_second_one(store: Store) -> None:
    task_id, run = queued_run(store)
    with store.write() as session:
        task, again = lifecycle.queue_run(session, task_id, OPTIONS)
    assert again is None and task.run_count == 1 and task.workflow_id == run.workflow_id
    assert kinds(store, task_id) == ["created", "status"]


def test_queueing_a_task_that_does_not_exist_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="tsk_nope"), store.write() as session:
        lifecycle.queue_run(session, "tsk_nope", OPTIONS)


def test_a_run_keeps_the_options_it_was_queued_with(store: Store) -> None:
    task_id = new_task(store)
    options = RunOptions.model_validate(
        {"runtime": "scripted", "model": "m-2", "limits": {"max_turns": 4}}
    )
    with store.write() as session:
        _, run = lifecycle.queue_run(session, task_id, options)
    assert run is not None
    with store.read() as session:
        loaded = run_repo.get(session, run.id)
    assert loaded.options.model == "m-2" and loaded.options.limits.max_turns == 4
    assert loaded.runtime == "scripted"


# ------------------------------------------------------------------------------- claim


def test_claim_starts_the_run_and_the_task_together(store: Store) -> None:
    task_id, run = queued_run(store)
    with store.write() as session:
        claim = lifecycle.claim(session, task_id, 1)
    assert claim is not None and not claim.recovered and claim.attempt == 1
    assert claim.run.status is RunStatus.RUNNING and claim.run.started_at is not None
    with store.read() as session:
        task = task_repo.get(session, task_id)
        events = event_repo.for_run(session, run.id)
    assert task.status is TaskStatus.RUNNING and task.started_at is not None
    assert events[-1].payload == {"from": "queued", "to": "running", "run": 1}


def test_start_run_queues_and_claims_as_the_two_moves_would(store: Store) -> None:
    """A run executed where it is queued (a workflow step's): one operation, the same rows and
    the same log as `queue_run` then `claim`."""
    task_id = new_task(store)
    with store.write() as session:
        task = lifecycle.locked_task(session, task_id)
        claim = lifecycle.start_run(session, task, OPTIONS, reason="workflow w", engine_id="wf-1")
    assert claim is not None and not claim.recovered and claim.attempt == 1
    assert claim.task.status is TaskStatus.RUNNING and claim.task.workflow_id == "wf-1"
    with store.read() as session:
        stored = task_repo.get(session, task_id)
        run = run_repo.get(session, claim.run.id)
        events = event_repo.for_task(session, task_id)
    assert (stored.status, stored.run_count, stored.workflow_id) == (TaskStatus.RUNNING, 1, "wf-1")
    assert stored.started_at is not None
    assert (run.status, run.attempt, run.number, run.workflow_id) == (
        RunStatus.RUNNING,
        1,
        1,
        "wf-1",
    )
    assert run.started_at is not None
    assert [(e.kind, e.run_id, e.payload) for e in events[1:]] == [
        ("status", run.id, {"from": "planned", "to": "queued", "reason": "workflow w", "run": 1}),
        ("status", run.id, {"from": "queued", "to": "running", "run": 1}),
    ]


def test_start_run_refuses_a_task_that_is_running_already(store: Store) -> None:
    claim = claimed_run(store)
    with store.write() as session:
        task = lifecycle.locked_task(session, claim.task.id)
        with pytest.raises(ConflictError, match="already running"):
            lifecycle.start_run(session, task, OPTIONS)


def test_a_takeover_of_a_waiting_run_keeps_its_holds_and_logs_the_recovery(store: Store) -> None:
    task_id, run_id = run_in(store, RunStatus.WAITING)
    with store.write() as session:
        claim = lifecycle.claim(session, task_id, 1)
    assert claim is not None and claim.recovered and claim.attempt == 2
    assert claim.run.status is RunStatus.WAITING and claim.run.waiting_on == ("approval:x",)
    with store.read() as session:
        last = event_repo.for_run(session, run_id)[-1]
    assert last.kind == "recovered" and last.payload["attempt"] == 2


def test_each_takeover_raises_the_attempt_once(store: Store) -> None:
    task_id, _ = run_in(store, RunStatus.RUNNING)
    attempts: list[int] = []
    for _ in range(3):
        with store.write() as session:
            claim = lifecycle.claim(session, task_id, 1)
        assert claim is not None
        attempts.append(claim.attempt)
    assert attempts == [2, 3, 4]
    assert kinds(store, task_id).count("recovered") == 3


@pytest.mark.parametrize("number", [0, 2, 7])
def test_claiming_a_run_number_the_task_is_not_on_claims_nothing(store: Store, number: int) -> None:
    task_id, run = queued_run(store)
    with store.write() as session:
        assert lifecycle.claim(session, task_id, number) is None
    assert run_status(store, run.id) is RunStatus.QUEUED


def test_a_task_moved_back_to_planned_is_not_claimed(store: Store) -> None:
    task_id, run = queued_run(store)
    with store.write() as session:
        lifecycle.plan_task(session, task_id, reason="later")
        assert lifecycle.claim(session, task_id, 1) is None
    assert run_status(store, run.id) is RunStatus.CANCELLED
    assert task_status(store, task_id) is TaskStatus.PLANNED


def test_a_run_queued_before_run_records_existed_is_recorded_when_claimed(store: Store) -> None:
    task_id = new_task(store)
    with store.write() as session:
        task, _ = lifecycle.queue_run(session, task_id, OPTIONS)
        session.execute(delete(RunRow).where(RunRow.task_id == task_id))
    with store.write() as session:
        claim = lifecycle.claim(session, task_id, 1)
    assert claim is not None and not claim.recovered and claim.attempt == 1
    assert claim.run.status is RunStatus.RUNNING and claim.run.options == task.options
    assert claim.run.workflow_id == task.workflow_id
    with store.read() as session:
        history = run_repo.for_task(session, task_id)
    assert [(r.id, r.number, r.status) for r in history] == [(claim.run.id, 1, RunStatus.RUNNING)]
    assert task_status(store, task_id) is TaskStatus.RUNNING


def test_a_created_run_row_holds_what_the_queued_insert_returns(store: Store) -> None:
    task_id = new_task(store)
    options = RunOptions.model_validate({"runtime": "scripted", "limits": {"max_turns": 3}})
    with store.write() as session:
        row = run_repo.create(
            session, subject=Subject("task", task_id), task_id=task_id, number=1, options=options
        )
        made = run_repo.to_run(row)
    with store.read() as session:
        loaded = run_repo.get(session, made.id)
    assert loaded.status is RunStatus.QUEUED and loaded.attempt == 0 and loaded.waiting_on == ()
    assert loaded.options.limits.max_turns == 3 and loaded.subject == Subject("task", task_id)
    assert made.options == loaded.options and made.number == loaded.number == 1


def test_claiming_a_missing_task_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError), store.write() as session:
        lifecycle.claim(session, "tsk_missing", 1)


# ------------------------------------------------------------------------------- fencing


def test_a_superseded_attempt_cannot_finish_suspend_or_book(store: Store) -> None:
    claim = claimed_run(store)
    with store.write() as session:
        lifecycle.claim(session, claim.task.id, 1)  # a new worker takes over: attempt 2
    for act in (
        lambda s: lifecycle.finish(s, claim.run.id, RunStatus.COMPLETED, attempt=1, result="x"),
        lambda s: lifecycle.suspend(s, claim.run.id, "approval:y", reason="r", attempt=1),
        lambda s: lifecycle.check_attempt(s, claim.run.id, 1),
    ):
        with (
            pytest.raises(StaleAttemptError, match="superseded by attempt 2"),
            store.write() as session,
        ):
            act(session)
    with store.read() as session:
        run = run_repo.get(session, claim.run.id)
    assert run.status is RunStatus.RUNNING and run.attempt == 2 and run.waiting_on == ()
    with store.write() as session:
        assert lifecycle.check_attempt(session, claim.run.id, 2) is False  # the owner may


def test_check_attempt_says_when_the_run_already_ended(store: Store) -> None:
    claim = claimed_run(store)
    with store.write() as session:
        lifecycle.cancel_task(session, claim.task.id, reason="stop")
    with store.write() as session:
        assert lifecycle.check_attempt(session, claim.run.id, claim.attempt) is True


def test_the_stale_attempt_refusal_is_a_conflict_with_a_hint(store: Store) -> None:
    claim = claimed_run(store)
    with store.write() as session:
        lifecycle.claim(session, claim.task.id, 1)
    with pytest.raises(ConflictError) as caught, store.write() as session:
        lifecycle.finish(session, claim.run.id, RunStatus.FAILED, attempt=1, error="x")
    assert caught.value.code == "stale_attempt"
    assert caught.value.hint == "another worker took the run over; nothing to do"


def test_a_person_or_the_reconciler_ends_a_run_whatever_its_attempt(store: Store) -> None:
    claim = claimed_run(store)
    with store.write() as session:
        lifecycle.claim(session, claim.task.id, 1)
        ended = lifecycle.finish(session, claim.run.id, RunStatus.FAILED, error="interrupted")
    assert ended is not None and ended.error == "interrupted" and ended.attempt == 2
    assert task_status(store, claim.task.id) is TaskStatus.FAILED


# ------------------------------------------------------------------------------- settlement


def test_ending_a_run_releases_its_reservation_exactly_once(store: Store) -> None:
    claim = claimed_run(store)
    reserve(store, claim.task.id, claim.run.id, 2_000_000)
    call(store, claim.task.id, claim.run.id, 300_000)
    with store.write() as session:
        lifecycle.finish(session, claim.run.id, RunStatus.COMPLETED, attempt=1, result="ok")
    with store.write() as session:  # a repeated finish (a re-run step) changes nothing
        assert lifecycle.finish(session, claim.run.id, RunStatus.COMPLETED, attempt=1) is None
    with store.write() as session:  # nor does a cancel of the ended task's run
        assert ledger_repo.release_reservations(session, claim.run.id, note="again") == 0
    assert ledger_rows(store, claim.run.id) == [("completed", 300_000), ("released", 0)]
    with store.read() as session:
        assert run_repo.get(session, claim.run.id).cost_micros == 300_000


@pytest.mark.parametrize("ending", [RunStatus.FAILED, RunStatus.CANCELLED])
def test_a_run_that_did_not_complete_marks_its_calls_so(store: Store, ending: RunStatus) -> None:
    claim = claimed_run(store)
    reserve(store, claim.task.id, claim.run.id, 1_000_000)
    call(store, claim.task.id, claim.run.id, 100)
    call(store, claim.task.id, claim.run.id, 20)
    with store.write() as session:
        lifecycle.finish(session, claim.run.id, ending, attempt=1, error="e")
    expected = [(ending.value, 20), (ending.value, 100), ("released", 0)]
    assert ledger_rows(store, claim.run.id) == expected
    with store.read() as session:
        assert run_repo.get(session, claim.run.id).cost_micros == 120  # still real spend


def test_a_run_that_failed_before_any_call_costs_nothing(store: Store) -> None:
    task_id, run_id = run_in(store, RunStatus.QUEUED)
    with store.write() as session:
        ended = lifecycle.finish(session, run_id, RunStatus.FAILED, error="no runtime")
    assert ended is not None and ended.cost_micros == 0 and ended.stop_reason == "no runtime"
    with store.read() as session:
        task = task_repo.get(session, task_id)
    assert task.error == "no runtime" and task.finished_at is not None


def test_usage_booked_after_the_end_is_settled_into_the_cost(store: Store) -> None:
    claim = claimed_run(store)
    with store.write() as session:
        lifecycle.cancel_task(session, claim.task.id, reason="stop")
    call(store, claim.task.id, claim.run.id, 777)  # the executor had not noticed the cancel
    with store.read() as session:
        assert run_repo.get(session, claim.run.id).cost_micros == 0
    with store.write() as session:
        lifecycle.settle_cost(session, claim.run.id)
    with store.read() as session:
        assert run_repo.get(session, claim.run.id).cost_micros == 777


def test_a_runs_result_and_error_are_scrubbed_of_secrets(store: Store) -> None:
    store.scrub_secrets(["sk-very-secret-value"])
    claim = claimed_run(store)
    with store.write() as session:
        lifecycle.finish(
            session,
            claim.run.id,
            RunStatus.COMPLETED,
            attempt=1,
            result="the key is sk-very-secret-value",
        )
    with store.read() as session:
        run = run_repo.get(session, claim.run.id)
        task = task_repo.get(session, claim.task.id)
    assert run.result is not None and "sk-very-secret-value" not in run.result
    assert task.result is not None and "sk-very-secret-value" not in task.result
    assert "[redacted]" in task.result


def test_finishing_a_deleted_tasks_run_still_ends_it(store: Store) -> None:
    claim = claimed_run(store)
    with store.write() as session:
        task_repo.delete(session, claim.task.id)
    with store.write() as session:
        ended = lifecycle.finish(session, claim.run.id, RunStatus.COMPLETED, attempt=1, result="r")
    assert ended is not None and ended.status is RunStatus.COMPLETED
    with store.read() as session:
        row = task_repo.get_row(session, claim.task.id, deleted=True)
    assert row.status == "completed"


# ------------------------------------------------------------------------------- suspend/release


def test_suspend_and_release_move_run_and_task_and_log_the_reason(store: Store) -> None:
    claim = claimed_run(store)
    with store.write() as session:
        waiting = lifecycle.suspend(
            session, claim.run.id, "approval:c1", reason="Bash needs a person", attempt=1
        )
    assert waiting.status is RunStatus.WAITING and waiting.waiting_on == ("approval:c1",)
    assert task_status(store, claim.task.id) is TaskStatus.WAITING
    with store.write() as session:
        running = lifecycle.release(session, claim.run.id, "approval:c1", reason="allowed")
    assert running.status is RunStatus.RUNNING and running.waiting_on == ()
    with store.read() as session:
        statuses = [e.payload for e in event_repo.for_run(session, claim.run.id)][-2:]
    assert statuses == [
        {"from": "running", "to": "waiting", "reason": "Bash needs a person", "run": 1},
        {"from": "waiting", "to": "running", "reason": "allowed", "run": 1},
    ]


def test_the_same_hold_twice_is_one_hold(store: Store) -> None:
    claim = claimed_run(store)
    with store.write() as session:
        lifecycle.suspend(session, claim.run.id, "budget:b", reason="cap")
        again = lifecycle.suspend(session, claim.run.id, "budget:b", reason="cap again")
    assert again.waiting_on == ("budget:b",)
    with store.write() as session:
        lifecycle.release(session, claim.run.id, "budget:b", reason="raised")
    assert run_status(store, claim.run.id) is RunStatus.RUNNING


def test_releasing_a_hold_the_run_does_not_have_changes_nothing(store: Store) -> None:
    _, run_id = run_in(store, RunStatus.WAITING)
    with store.write() as session:
        run = lifecycle.release(session, run_id, "approval:other", reason="?")
    assert run.status is RunStatus.WAITING and run.waiting_on == ("approval:x",)


def test_a_second_hold_on_a_waiting_run_is_noted_not_a_status_change(store: Store) -> None:
    task_id, run_id = run_in(store, RunStatus.WAITING)
    with store.write() as session:
        lifecycle.suspend(session, run_id, "budget:b", reason="the cap too")
    with store.read() as session:
        last = event_repo.for_task(session, task_id)[-1]
    assert (last.kind, last.payload) == ("note", {"message": "the cap too"})
    assert kinds(store, task_id).count("status") == 3  # queued, running, waiting


def test_a_waiting_run_can_be_cancelled_and_its_holds_are_dropped(store: Store) -> None:
    task_id, run_id = run_in(store, RunStatus.WAITING)
    with store.write() as session:
        lifecycle.cancel_task(session, task_id, reason="no")
    with store.read() as session:
        run = run_repo.get(session, run_id)
    assert run.status is RunStatus.CANCELLED and run.waiting_on == ()
    with store.write() as session:  # a late release of the hold does not revive it
        late = lifecycle.release(session, run_id, "approval:x", reason="allowed")
    assert late.status is RunStatus.CANCELLED


# ------------------------------------------------------------------------------- a person's moves


@pytest.mark.parametrize("state", [RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING])
def test_cancel_ends_the_live_run_and_names_the_engine_workflow(
    store: Store, state: RunStatus
) -> None:
    task_id, run_id = run_in(store, state)
    with store.write() as session:
        task, workflow = lifecycle.cancel_task(session, task_id, reason="changed my mind")
    assert task.status is TaskStatus.CANCELLED and workflow == f"{task_id}-run-1"
    with store.read() as session:
        run = run_repo.get(session, run_id)
    assert run.status is RunStatus.CANCELLED and run.stop_reason == "changed my mind"


def test_cancelling_a_planned_task_touches_no_run(store: Store) -> None:
    task_id = new_task(store)
    with store.write() as session:
        task, workflow = lifecycle.cancel_task(session, task_id, reason="never mind")
    assert task.status is TaskStatus.CANCELLED and workflow is None
    with store.read() as session:
        assert run_repo.for_task(session, task_id) == []


@pytest.mark.parametrize("ending", ENDINGS)
def test_an_ended_task_cannot_be_cancelled(store: Store, ending: RunStatus) -> None:
    task_id, _ = run_in(store, ending)
    if ending is RunStatus.CANCELLED:
        with pytest.raises(InvalidTransitionError), store.write() as session:
            lifecycle.cancel_task(session, task_id, reason="again")
        return
    with (
        pytest.raises(InvalidTransitionError, match=f"from {ending.value} to cancelled"),
        store.write() as session,
    ):
        lifecycle.cancel_task(session, task_id, reason="late")
    assert task_status(store, task_id) is TaskStatus(ending.value)


def test_back_to_planned_cancels_a_queued_run_that_never_started(store: Store) -> None:
    task_id, run = queued_run(store)
    with store.write() as session:
        task, workflow = lifecycle.plan_task(session, task_id, reason="moved on the board")
    assert task.status is TaskStatus.PLANNED and workflow == run.workflow_id
    with store.read() as session:
        ended = run_repo.get(session, run.id)
    assert ended.status is RunStatus.CANCELLED and ended.stop_reason == "moved on the board"


@pytest.mark.parametrize("ending", ENDINGS)
def test_an_ended_task_goes_back_to_planned_and_keeps_its_history(
    store: Store, ending: RunStatus
) -> None:
    task_id, run_id = run_in(store, ending)
    with store.write() as session:
        task, workflow = lifecycle.plan_task(session, task_id, reason="redo")
    assert task.status is TaskStatus.PLANNED and workflow is None
    assert run_status(store, run_id) is ending


@pytest.mark.parametrize("state", [RunStatus.RUNNING, RunStatus.WAITING])
def test_a_live_run_cannot_be_dragged_back_to_planned(store: Store, state: RunStatus) -> None:
    task_id, run_id = run_in(store, state)
    with pytest.raises(InvalidTransitionError, match="to planned"), store.write() as session:
        lifecycle.plan_task(session, task_id, reason="drag")
    assert run_status(store, run_id) is state


# ------------------------------------------------------------------------------- task rows


def test_set_task_status_stamps_start_and_finish_times(store: Store) -> None:
    claim = claimed_run(store)
    with store.read() as session:
        started = task_repo.get(session, claim.task.id)
    assert started.started_at is not None and started.finished_at is None
    with store.write() as session:
        lifecycle.finish(session, claim.run.id, RunStatus.COMPLETED, attempt=1, result="r")
    with store.read() as session:
        done = task_repo.get(session, claim.task.id)
    assert done.finished_at is not None and done.finished_at >= started.started_at
    assert done.updated_at >= started.updated_at


def test_a_status_change_and_its_event_roll_back_together(store: Store) -> None:
    claim = claimed_run(store)
    before = kinds(store, claim.task.id)

    class BoomError(Exception):
        pass

    with pytest.raises(BoomError), store.write() as session:
        lifecycle.finish(session, claim.run.id, RunStatus.COMPLETED, attempt=1, result="r")
        raise BoomError
    assert run_status(store, claim.run.id) is RunStatus.RUNNING
    assert task_status(store, claim.task.id) is TaskStatus.RUNNING
    assert kinds(store, claim.task.id) == before
