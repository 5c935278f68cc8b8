"""Executor leases: registration, renewal, re-registration after a peer took this executor for
dead, and recovery of dead peers (by pid on this host, or by an expired lease)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from stagent.domain.ids import utcnow
from stagent.engine.leases import ExecutorLease, new_executor_id, pid_is_running
from stagent.store import executors as executor_repo
from stagent.store.tables import ExecutorRow
from stagent.workspace import Workspace


@pytest.fixture(params=["sqlite", "postgresql"])
def ws(request: pytest.FixtureRequest) -> Iterator[Workspace]:
    name = "workspace" if request.param == "sqlite" else "pg_workspace"
    yield request.getfixturevalue(name)


def ids(ws: Workspace) -> set[str]:
    with ws.store.read() as session:
        return {row[0] for row in executor_repo.all_executors(session)}


def lease(ws: Workspace, recovered: list[str], executor_id: str | None = None) -> ExecutorLease:
    def recover(dead: str) -> int:
        recovered.append(dead)
        return 0

    return ExecutorLease(ws.store, executor_id or new_executor_id("test"), "worker", 60, recover)


def test_an_executor_registers_renews_and_leaves_cleanly(ws: Workspace) -> None:
    mine = lease(ws, [])
    mine.start()
    try:
        assert mine.executor_id in ids(ws)
        assert mine.renew()
        assert ws.live_workers() == 1
    finally:
        mine.stop()
    assert mine.executor_id not in ids(ws)
    assert ws.live_workers() == 0


def test_an_executor_whose_row_vanished_registers_again(ws: Workspace) -> None:
    mine = lease(ws, [])
    mine.start()
    try:
        with ws.store.write() as session:
            executor_repo.remove(session, mine.executor_id)  # a peer took it for dead
        assert not mine.renew()
        assert mine.executor_id in ids(ws)
        assert mine.renew()
    finally:
        mine.stop()


def test_a_peer_whose_lease_expired_is_recovered_and_forgotten(ws: Workspace) -> None:
    recovered: list[str] = []
    with ws.store.write() as session:
        executor_repo.register(
            session, executor_id="far-host-worker-1", kind="worker", hostname="far-host", pid=1
        )
        session.execute(
            update(ExecutorRow)
            .where(ExecutorRow.id == "far-host-worker-1")
            .values(heartbeat_at=utcnow() - timedelta(minutes=5))
        )
    mine = lease(ws, recovered)
    mine.start()
    try:
        assert recovered == ["far-host-worker-1"]
        assert ids(ws) == {mine.executor_id}
    finally:
        mine.stop()


def test_a_peer_on_another_host_with_a_fresh_lease_is_left_alone(ws: Workspace) -> None:
    recovered: list[str] = []
    with ws.store.write() as session:
        executor_repo.register(
            session, executor_id="far-host-worker-2", kind="worker", hostname="far-host", pid=1
        )
    mine = lease(ws, recovered)
    mine.start()
    try:
        assert mine.recover_dead() == []
        assert recovered == []
        assert "far-host-worker-2" in ids(ws)
    finally:
        mine.stop()


def test_a_dead_process_on_this_host_is_recovered_at_once(ws: Workspace) -> None:
    import socket

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    pid = int(gone.stdout)
    assert not pid_is_running(pid)
    recovered: list[str] = []
    with ws.store.write() as session:
        executor_repo.register(
            session, executor_id="here-dead", kind="worker", hostname=socket.gethostname(), pid=pid
        )
    mine = lease(ws, recovered)
    mine.start()
    try:
        assert recovered == ["here-dead"]
        assert "here-dead" not in ids(ws)
    finally:
        mine.stop()


def test_executor_ids_are_unique_and_name_the_process() -> None:
    import os

    first, second = new_executor_id("worker"), new_executor_id("worker")
    assert first != second
    assert f"-worker-{os.getpid()}-" in first


def test_pid_is_running_sees_this_process_and_not_a_reaped_one() -> None:
    import os

    assert pid_is_running(os.getpid())
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not pid_is_running(proc.pid)
