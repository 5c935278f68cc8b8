"""The task lifecycle is an explicit state machine; anything off its edges is refused."""

from __future__ import annotations

import pytest

from stagent.domain.errors import InvalidTransitionError
from stagent.domain.tasks import TRANSITIONS, TaskStatus, check_transition

S = TaskStatus


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.PLANNED, S.QUEUED),
        (S.QUEUED, S.RUNNING),
        (S.RUNNING, S.WAITING),
        (S.WAITING, S.RUNNING),
        (S.RUNNING, S.COMPLETED),
        (S.RUNNING, S.FAILED),
        (S.RUNNING, S.CANCELLED),
        (S.FAILED, S.QUEUED),
        (S.COMPLETED, S.PLANNED),
    ],
)
def test_lifecycle_edges_are_allowed(current: TaskStatus, target: TaskStatus) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.PLANNED, S.RUNNING),
        (S.PLANNED, S.COMPLETED),
        (S.COMPLETED, S.RUNNING),
        (S.CANCELLED, S.COMPLETED),
        (S.QUEUED, S.COMPLETED),
        (S.WAITING, S.COMPLETED),
    ],
)
def test_invalid_transitions_raise_a_clear_error(current: TaskStatus, target: TaskStatus) -> None:
    with pytest.raises(InvalidTransitionError) as caught:
        check_transition(current, target, task_id="tsk_1")
    error = caught.value
    assert f"from {current.value} to {target.value}" in error.message
    assert "tsk_1" in error.message
    assert error.hint and current.value in error.hint
    assert error.to_dict()["code"] == "invalid_transition"
    assert error.status == 409


def test_every_state_has_an_exit_and_terminal_states_only_restart() -> None:
    for state, targets in TRANSITIONS.items():
        assert targets, f"{state} is a dead end"
        if state.is_terminal:
            assert targets <= {S.PLANNED, S.QUEUED}


def test_waiting_counts_as_active_for_a_person_being_asked() -> None:
    assert S.WAITING.is_active
    assert not S.WAITING.is_terminal
