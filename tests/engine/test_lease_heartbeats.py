"""Leases over time: the heartbeat thread renews this executor's lease and, on every beat,
recovers peers that died since (a live peer is left alone, however long it runs); a failing
beat does not stop the next. SQLite (the lease rules are the same on PostgreSQL, see
``test_leases.py``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from stagent.domain.ids import utcnow
from stagent.engine.leases import ExecutorLease, new_executor_id
from stagent.store import executors as executor_repo
from stagent.store.tables import ExecutorRow
from stagent.workspace import Workspace

LEASE = 1.5
"""Seconds; the thread beats every LEASE / 3 = 0.5 s."""


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A live process on this host, standing for a peer worker."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def rows(ws: Workspace) -> dict[str, tuple[int, datetime, str]]:
    with ws.store.read() as session:
        return {
            i: (pid, beat, kind) for i, _, pid, beat, kind in executor_repo.all_executors(session)
        }


def register_peer(ws: Workspace, executor_id: str, pid: int, *, age: float = 0.0) -> None:
    with ws.store.write() as session:
        executor_repo.register(
            session, executor_id=executor_id, kind="worker", hostname=socket.gethostname(), pid=pid
        )
        if age:
            session.execute(
                update(ExecutorRow)
                .where(ExecutorRow.id == executor_id)
                .values(heartbeat_at=utcnow() - timedelta(seconds=age))
            )


def until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def started(
    ws: Workspace, recovered: list[str], on_beat: Callable[[], object] | None = None
) -> ExecutorLease:
    def recover(executor_id: str) -> int:
        recovered.append(executor_id)
        return 1

    lease = ExecutorLease(ws.store, new_executor_id("worker"), "worker", LEASE, recover, on_beat)
    lease.start()
    return lease


def test_the_heartbeat_renews_the_lease_and_runs_the_housekeeping(workspace: Workspace) -> None:
    beats: list[float] = []
    lease = started(workspace, [], on_beat=lambda: beats.append(time.monotonic()))
    try:
        first = rows(workspace)[lease.executor_id][1]
        until(lambda: len(beats) >= 2)
        assert rows(workspace)[lease.executor_id][1] > first
        assert rows(workspace)[lease.executor_id][0] == os.getpid()
        assert beats[1] - beats[0] >= 0.4  # every LEASE / 3, not in a tight loop
    finally:
        lease.stop()


def test_a_live_peer_is_never_recovered_and_a_peer_that_dies_is_recovered_at_the_next_beat(
    workspace: Workspace, sleeper: subprocess.Popen[bytes]
) -> None:
    register_peer(workspace, "peer-live", sleeper.pid)
    recovered: list[str] = []
    lease = started(workspace, recovered)
    try:
        with workspace.store.write() as session:  # the live peer keeps beating
            executor_repo.heartbeat(session, "peer-live")
        time.sleep(LEASE / 2)
        assert recovered == []
        assert "peer-live" in rows(workspace)

        sleeper.kill()
        sleeper.wait()
        until(lambda: recovered == ["peer-live"])
        until(lambda: "peer-live" not in rows(workspace))
    finally:
        lease.stop()


def test_a_live_process_whose_lease_lapsed_is_taken_for_dead(
    workspace: Workspace, sleeper: subprocess.Popen[bytes]
) -> None:
    """A frozen worker (SIGSTOP, a paused VM) still has its pid: its stale lease decides."""
    register_peer(workspace, "peer-frozen", sleeper.pid, age=LEASE * 2)
    recovered: list[str] = []
    lease = started(workspace, recovered)
    try:
        assert recovered == ["peer-frozen"]
        assert set(rows(workspace)) == {lease.executor_id}
    finally:
        lease.stop()


def test_a_failing_beat_does_not_stop_the_heartbeat(workspace: Workspace) -> None:
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise RuntimeError("database hiccup")

    lease = started(workspace, [], on_beat=broken)
    try:
        until(lambda: len(calls) >= 1)
        first = rows(workspace)[lease.executor_id][1]
        until(lambda: len(calls) >= 3)
        # renewed after a failing beat (no bound on its age: a loaded machine stalls threads)
        assert rows(workspace)[lease.executor_id][1] > first
    finally:
        lease.stop()


def test_a_stopped_executor_is_gone_and_recovers_nothing_more(workspace: Workspace) -> None:
    recovered: list[str] = []
    lease = started(workspace, recovered)
    lease.stop()
    assert lease.executor_id not in rows(workspace)
    register_peer(workspace, "peer-late", 1, age=LEASE * 10)
    time.sleep(LEASE / 2)
    assert recovered == []  # no beat runs after stop
    assert "peer-late" in rows(workspace)


def test_only_serve_and_worker_processes_with_a_fresh_lease_count_as_workers(
    workspace: Workspace,
) -> None:
    with workspace.store.write() as session:
        for executor_id, kind in (("w", "worker"), ("s", "serve"), ("c", "cli"), ("old", "worker")):
            executor_repo.register(
                session, executor_id=executor_id, kind=kind, hostname="far", pid=1
            )
        session.execute(
            update(ExecutorRow)
            .where(ExecutorRow.id == "old")
            .values(heartbeat_at=utcnow() - timedelta(hours=1))
        )
    assert workspace.live_workers() == 2
