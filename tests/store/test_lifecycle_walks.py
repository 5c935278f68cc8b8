"""Long random walks through everything that moves a task and its runs (queue, claim and
take over, hold and release, finish with a current or a stale attempt, cancel, back to planned)
keep what the Board and a task's history show consistent after every step: the task's status
events form one chain of lifecycle edges ending at its status, a task is queued, running or
waiting exactly when it has one live run in that state, runs are numbered 1..n, an ended run
never changes, an attempt never goes back, and a refused step changes nothing. Seeded, so a
failure replays. On SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from storetools import new_task

from stagent.domain.errors import StagentError
from stagent.domain.run_options import RunOptions
from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TRANSITIONS, TaskStatus
from stagent.store import events as event_repo
from stagent.store import lifecycle
from stagent.store import runs as run_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store

ENDINGS = [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED]
LIVE = {TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.WAITING}
Snapshot = tuple[Any, ...]


def snapshot(store: Store, task_id: str) -> Snapshot:
    """What a person sees of a task: its status, its runs and how long its log is."""
    with store.read() as session:
        task = task_repo.get(session, task_id)
        runs = run_repo.for_task(session, task_id)
        logged = len(event_repo.for_task(session, task_id))
    shown = tuple((r.number, r.status, r.attempt, r.waiting_on, r.result) for r in runs)
    return (task.status, task.run_count, shown, logged)


LIKELY: dict[TaskStatus, set[str]] = {
    TaskStatus.PLANNED: {"queue"},
    TaskStatus.QUEUED: {"claim", "plan", "cancel", "finish"},
    TaskStatus.RUNNING: {"suspend", "finish", "claim"},
    TaskStatus.WAITING: {"release", "finish", "cancel", "claim"},
    TaskStatus.COMPLETED: {"queue", "plan"},
    TaskStatus.FAILED: {"queue", "plan"},
    TaskStatus.CANCELLED: {"queue", "plan"},
}
"""The moves that happen to a task in each state; any other move is tried a quarter as often
(most of those are refused)."""


def step(rng: random.Random, session: Any, task_id: str, hold: int) -> None:
    """One random move of the task or its latest run (it may be refused)."""
    task = task_repo.get(session, task_id)
    latest = run_repo.for_task(session, task_id)[-1:] or [None]
    run = latest[0]
    moves: dict[str, Callable[[], object]] = {
        "queue": lambda: lifecycle.queue_run(session, task_id, RunOptions(runtime="scripted")),
        "claim": lambda: lifecycle.claim(session, task_id, task.run_count),
        "cancel": lambda: lifecycle.cancel_task(session, task_id, reason="a person cancelled"),
        "plan": lambda: lifecycle.plan_task(session, task_id, reason="moved on the board"),
    }
    if run is not None:
        attempt = rng.choice([run.attempt, run.attempt, run.attempt - 1, None])
        held = rng.choice([*run.waiting_on, f"approval:apr_{hold}"])
        ending = rng.choice(ENDINGS)
        moves["suspend"] = lambda: lifecycle.suspend(
            session, run.id, f"approval:apr_{hold}", reason="asks", attempt=attempt
        )
        moves["release"] = lambda: lifecycle.release(session, run.id, held, reason="answered")
        moves["finish"] = lambda: lifecycle.finish(
            session, run.id, ending, attempt=attempt, result="done"
        )
    names = sorted(moves)
    weights = [4 if name in LIKELY[task.status] else 1 for name in names]
    moves[rng.choices(names, weights=weights)[0]]()


def assert_consistent(store: Store, task_id: str) -> None:
    with store.read() as session:
        task = task_repo.get(session, task_id)
        runs = run_repo.for_task(session, task_id)
        log = event_repo.for_task(session, task_id)
    moves = [(e.payload["from"], e.payload["to"]) for e in log if e.kind == "status"]
    at = TaskStatus.PLANNED
    for source, target in moves:
        assert TaskStatus(source) is at, f"the log jumps from {at} to a move from {source}"
        assert TaskStatus(target) in TRANSITIONS[at], f"{source} -> {target} is no edge"
        at = TaskStatus(target)
    assert at is task.status
    assert [r.number for r in runs] == list(range(1, task.run_count + 1))
    live = [r for r in runs if not r.status.is_terminal]
    assert len(live) <= 1, live
    if task.status in LIVE:
        assert [r.status.value for r in live] == [task.status.value]
    else:
        assert live == []


@pytest.mark.parametrize("seed", [1, 2])
def test_random_walks_keep_the_board_and_the_history_consistent(store: Store, seed: int) -> None:
    rng = random.Random(seed)
    task_ids = [new_task(store, f"walk {n}") for n in range(3)]
    ended: dict[tuple[str, int], Snapshot] = {}
    attempts: dict[tuple[str, int], int] = {}
    refused = 0
    visited: set[TaskStatus] = set()
    for n in range(120):
        task_id = rng.choice(task_ids)
        before = snapshot(store, task_id)
        try:
            with store.write() as session:
                step(rng, session, task_id, n)
        except StagentError:
            refused += 1
            assert snapshot(store, task_id) == before, f"a refused step {n} changed the task"
        assert_consistent(store, task_id)
        visited.add(snapshot(store, task_id)[0])
        for number, status, attempt, _, result in snapshot(store, task_id)[2]:
            key = (task_id, number)
            assert attempt >= attempts.get(key, 0), f"run {key} went back to attempt {attempt}"
            attempts[key] = attempt
            if status.is_terminal:
                assert ended.setdefault(key, (status, attempt, result)) == (status, attempt, result)
    assert 0 < refused < 120  # the walk tried both legal and refused steps
    assert visited == set(TaskStatus)  # and went through every state


class UndoError(Exception):
    """Raised to roll a write back."""


@pytest.mark.parametrize("current", list(TaskStatus))
def test_a_task_moves_only_along_an_edge_of_its_table(store: Store, current: TaskStatus) -> None:
    """From each state, every other state: an edge of the table moves the task and logs one
    status event naming both ends; anything else is refused, naming the task and where it may
    go, and changes nothing. (Through `set_task_status`, which every named move uses.)"""
    task_id = new_task(store, f"from {current.value}")
    with store.write() as session:
        row = task_repo.get_row(session, task_id)
        row.status = current.value  # put it there directly: the table is what is under test
    for target in TaskStatus:
        before = snapshot(store, task_id)
        if target in TRANSITIONS[current]:
            with pytest.raises(UndoError), store.write() as session:
                row = task_repo.get_row(session, task_id)
                moved = lifecycle.set_task_status(session, row, target, reason="test")
                assert moved.status is target
                raise UndoError  # the next target starts from `current` again
            continue
        with pytest.raises(StagentError) as refused, store.write() as session:
            row = task_repo.get_row(session, task_id)
            lifecycle.set_task_status(session, row, target)
        assert f"from {current.value} to {target.value}" in refused.value.message
        assert task_id in refused.value.message
        assert snapshot(store, task_id) == before


def test_an_edge_logs_one_status_event_naming_both_ends(store: Store) -> None:
    task_id = new_task(store)
    with store.write() as session:
        lifecycle.set_task_status(
            session, task_repo.get_row(session, task_id), TaskStatus.CANCELLED, reason="not now"
        )
    with store.read() as session:
        [moved] = [e for e in event_repo.for_task(session, task_id) if e.kind == "status"]
        task = task_repo.get(session, task_id)
    assert moved.payload == {"from": "planned", "to": "cancelled", "reason": "not now"}
    assert task.status is TaskStatus.CANCELLED and task.finished_at is not None
