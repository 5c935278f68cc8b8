"""The ordered rules every proposed run transition passes (`domain.lifecycle.RULES`): a known
edge, a fenced writer, a task that can follow. The first rule to object decides the error."""

from __future__ import annotations

import pytest

from stagent.domain.errors import InvalidTransitionError
from stagent.domain.lifecycle import (
    RULES,
    Proposal,
    StaleAttemptError,
    check,
    fenced,
    known_edge,
    task_follows,
)
from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus

R = RunStatus
T = TaskStatus


def proposal(
    current: RunStatus,
    target: RunStatus,
    *,
    attempt: int = 1,
    writer: int | None = None,
    task: TaskStatus | None = None,
) -> Proposal:
    return Proposal(
        run_id="run_1",
        current=current,
        target=target,
        attempt=attempt,
        writer_attempt=writer,
        task_id="tsk_1" if task is not None else None,
        task_current=task,
    )


def test_the_rules_run_in_the_documented_order() -> None:
    assert (known_edge, fenced, task_follows) == RULES


@pytest.mark.parametrize(
    ("current", "target", "task"),
    [
        (R.QUEUED, R.RUNNING, T.QUEUED),
        (R.RUNNING, R.WAITING, T.RUNNING),
        (R.WAITING, R.RUNNING, T.WAITING),
        (R.RUNNING, R.COMPLETED, T.RUNNING),
        (R.RUNNING, R.FAILED, T.RUNNING),
        (R.WAITING, R.CANCELLED, T.WAITING),
        (R.QUEUED, R.CANCELLED, T.QUEUED),
        (R.QUEUED, R.FAILED, T.QUEUED),
    ],
)
def test_an_ordinary_move_passes_every_rule(
    current: RunStatus, target: RunStatus, task: TaskStatus
) -> None:
    check(proposal(current, target, writer=1, task=task))


def test_an_ended_run_is_refused_with_nothing_it_can_move_to() -> None:
    with pytest.raises(InvalidTransitionError) as caught:
        check(proposal(R.COMPLETED, R.RUNNING))
    assert caught.value.message == "cannot move run run_1 from completed to running"
    assert caught.value.hint == "from completed a run can move to: nothing (it ended)"


def test_a_refused_edge_lists_where_the_run_can_go() -> None:
    with pytest.raises(InvalidTransitionError) as caught:
        check(proposal(R.QUEUED, R.WAITING))
    assert caught.value.hint == "from queued a run can move to: cancelled, failed, running"


@pytest.mark.parametrize(("writer", "stored"), [(1, 2), (2, 3), (3, 1)])
def test_a_superseded_writer_is_fenced_off(writer: int, stored: int) -> None:
    with pytest.raises(StaleAttemptError) as caught:
        check(proposal(R.RUNNING, R.COMPLETED, attempt=stored, writer=writer))
    assert caught.value.message == (
        f"attempt {writer} of run run_1 was superseded by attempt {stored}; its write was refused"
    )
    assert caught.value.hint == "another worker took the run over; nothing to do"


def test_a_person_or_the_reconciler_is_not_fenced() -> None:
    check(proposal(R.RUNNING, R.CANCELLED, attempt=7, writer=None))


def test_an_unknown_edge_is_reported_before_a_stale_attempt() -> None:
    """Both rules object; the first in RULES decides which error the writer sees."""
    with pytest.raises(InvalidTransitionError) as caught:
        check(proposal(R.FAILED, R.COMPLETED, attempt=2, writer=1))
    assert not isinstance(caught.value, StaleAttemptError)


def test_a_stale_attempt_is_reported_before_the_task_check() -> None:
    with pytest.raises(StaleAttemptError):
        check(proposal(R.RUNNING, R.COMPLETED, attempt=2, writer=1, task=T.PLANNED))


def test_a_task_that_moved_on_refuses_the_runs_move() -> None:
    with pytest.raises(InvalidTransitionError) as caught:
        check(proposal(R.RUNNING, R.COMPLETED, writer=1, task=T.PLANNED))
    assert caught.value.message == "cannot move task tsk_1 from planned to completed"
    assert caught.value.hint == "the task moved on without this run"


def test_a_task_already_in_the_target_state_follows_trivially() -> None:
    check(proposal(R.RUNNING, R.CANCELLED, task=T.CANCELLED))
    task_follows(proposal(R.RUNNING, R.COMPLETED, task=T.COMPLETED))


def test_a_run_without_a_task_skips_the_task_rule() -> None:
    task_follows(proposal(R.QUEUED, R.RUNNING, task=None))


@pytest.mark.parametrize(
    ("task", "target", "ok"),
    [
        (T.QUEUED, R.RUNNING, True),
        (T.COMPLETED, R.RUNNING, False),
        (T.FAILED, R.CANCELLED, False),
        (T.WAITING, R.COMPLETED, False),
        (T.RUNNING, R.WAITING, True),
        (T.PLANNED, R.CANCELLED, True),
    ],
)
def test_the_task_rule_reads_the_task_table(task: TaskStatus, target: RunStatus, ok: bool) -> None:
    move = proposal(R.RUNNING, target, task=task)
    if ok:
        task_follows(move)
    else:
        with pytest.raises(InvalidTransitionError):
            task_follows(move)


def test_each_rule_alone_accepts_what_the_others_refuse() -> None:
    stale = proposal(R.RUNNING, R.COMPLETED, attempt=2, writer=1)
    known_edge(stale)
    task_follows(stale)
    bad_edge = proposal(R.COMPLETED, R.RUNNING, writer=1)
    fenced(bad_edge)
