"""The task and run transition tables, checked edge by edge against the lifecycle people see:
every pair of states is either an edge (allowed) or refused with a message naming both states."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from stagent.domain.errors import ConflictError, InvalidTransitionError
from stagent.domain.lifecycle import RUN_TRANSITIONS, StaleAttemptError
from stagent.domain.run_options import RunOptions
from stagent.domain.runs import Run, RunStatus, Subject
from stagent.domain.tasks import (
    ACTIVE_STATES,
    BOARD_MOVES,
    RUNNABLE_FROM,
    TERMINAL_STATES,
    TRANSITIONS,
    TaskStatus,
    check_transition,
)

S = TaskStatus
R = RunStatus

TASK_EDGES = {
    ("planned", "queued"),
    ("planned", "cancelled"),
    ("queued", "running"),
    ("queued", "planned"),
    ("queued", "cancelled"),
    ("queued", "failed"),
    ("running", "waiting"),
    ("running", "completed"),
    ("running", "failed"),
    ("running", "cancelled"),
    ("waiting", "running"),
    ("waiting", "failed"),
    ("waiting", "cancelled"),
    ("completed", "planned"),
    ("completed", "queued"),
    ("failed", "planned"),
    ("failed", "queued"),
    ("cancelled", "planned"),
    ("cancelled", "queued"),
}
"""The task lifecycle written out by hand: a change to the table must change this too."""

RUN_EDGES = {
    ("queued", "running"),
    ("queued", "cancelled"),
    ("queued", "failed"),
    ("running", "waiting"),
    ("running", "completed"),
    ("running", "failed"),
    ("running", "cancelled"),
    ("waiting", "running"),
    ("waiting", "failed"),
    ("waiting", "cancelled"),
}

TASK_PAIRS = list(itertools.product(TaskStatus, TaskStatus))
RUN_PAIRS = list(itertools.product(RunStatus, RunStatus))


def test_the_task_table_is_exactly_the_documented_lifecycle() -> None:
    table = {(a.value, b.value) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == TASK_EDGES
    assert set(TRANSITIONS) == set(TaskStatus)


def test_the_run_table_is_exactly_the_documented_lifecycle() -> None:
    table = {(a.value, b.value) for a, targets in RUN_TRANSITIONS.items() for b in targets}
    assert table == RUN_EDGES
    assert set(RUN_TRANSITIONS) == set(RunStatus)


@pytest.mark.parametrize(("current", "target"), TASK_PAIRS, ids=lambda s: s.value)
def test_every_task_pair_is_allowed_or_refused_by_name(
    current: TaskStatus, target: TaskStatus
) -> None:
    if (current.value, target.value) in TASK_EDGES:
        check_transition(current, target, task_id="tsk_x")
        return
    with pytest.raises(InvalidTransitionError) as caught:
        check_transition(current, target, task_id="tsk_x")
    assert caught.value.message == (
        f"cannot move task tsk_x from {current.value} to {target.value}"
    )
    allowed = sorted(t.value for t in TRANSITIONS[current])
    assert caught.value.hint == f"from {current.value} a task can move to: {', '.join(allowed)}"


def test_a_refusal_without_a_task_id_says_a_task() -> None:
    with pytest.raises(
        InvalidTransitionError, match=r"^cannot move a task from planned to running"
    ):
        check_transition(S.PLANNED, S.RUNNING)


def test_an_ended_run_never_moves_again() -> None:
    for status in RunStatus:
        assert (RUN_TRANSITIONS[status] == frozenset()) is status.is_terminal


def test_run_and_task_states_share_names_except_planned() -> None:
    assert {s.value for s in RunStatus} == {s.value for s in TaskStatus} - {"planned"}


def test_every_run_edge_is_also_a_task_edge() -> None:
    """A task follows its run: a run edge the task table lacked could never be written."""
    for current, target in RUN_EDGES:
        assert (current, target) in TASK_EDGES


@pytest.mark.parametrize("status", list(TaskStatus), ids=lambda s: s.value)
def test_terminal_and_active_partition_the_states_but_planned(status: TaskStatus) -> None:
    assert status.is_terminal is (status in TERMINAL_STATES)
    assert status.is_active is (status in ACTIVE_STATES)
    assert not (status.is_active and status.is_terminal)
    assert status.is_active or status.is_terminal or status is S.PLANNED


def test_run_terminal_states_match_the_tasks() -> None:
    for status in RunStatus:
        assert status.is_terminal is TaskStatus(status.value).is_terminal


def test_board_moves_are_a_subset_of_the_lifecycle_and_never_start_or_end_work() -> None:
    for current, targets in BOARD_MOVES.items():
        assert targets <= TRANSITIONS[current]
        assert not targets & {S.RUNNING, S.WAITING, S.COMPLETED, S.FAILED, S.CANCELLED}
    assert S.RUNNING not in BOARD_MOVES
    assert S.WAITING not in BOARD_MOVES


def test_a_task_may_be_run_from_any_state_that_is_not_active_but_queued() -> None:
    assert {S.PLANNED, S.QUEUED, *TERMINAL_STATES} == RUNNABLE_FROM
    for status in RUNNABLE_FROM - {S.QUEUED}:
        check_transition(status, S.QUEUED)


def test_a_stale_attempt_is_a_conflict_with_its_own_code() -> None:
    error = StaleAttemptError("attempt 1 was superseded")
    assert isinstance(error, ConflictError)
    assert error.to_dict()["code"] == "stale_attempt"
    assert error.status == 409


def _run(**changes: object) -> Run:
    fields: dict[str, object] = {
        "id": "run_1",
        "subject": Subject("task", "tsk_1"),
        "task_id": "tsk_1",
        "number": 1,
        "runtime": "scripted",
        "options": RunOptions(),
        "status": R.QUEUED,
    }
    fields.update(changes)
    return Run(**fields)  # type: ignore[arg-type]


def test_a_run_has_a_duration_only_once_it_started_and_ended() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert _run().duration_seconds is None
    assert _run(started_at=start).duration_seconds is None
    assert _run(ended_at=start).duration_seconds is None
    ended = _run(started_at=start, ended_at=start + timedelta(seconds=2.5))
    assert ended.duration_seconds == 2.5


def test_a_new_run_starts_unclaimed_with_no_holds_and_no_cost() -> None:
    run = _run()
    assert (run.attempt, run.waiting_on, run.cost_micros) == (0, (), 0)
    assert str(run.subject) == "task:tsk_1"


def test_a_subject_reads_kind_colon_id() -> None:
    assert str(Subject("budget", "runtime:claude")) == "budget:runtime:claude"
    assert Subject("task", "a") == Subject("task", "a")
    assert Subject("task", "a") != Subject("run", "a")
