"""DBOS's PostgreSQL connections in a worker: pinged only after sitting idle, as the store's are
(`stagent.store.engine.ping_after_idle`), so a busy worker's queue polls and workflow writes pay
no extra round trip, and a connection the server closed while idle is still replaced unnoticed."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from dbos._dbos import _get_dbos_instance  # pyright: ignore[reportPrivateUsage]

from stagent.engine.services import TaskDraft
from stagent.store import engine as engine_module
from stagent.workspace import Workspace

DEADLINE = 60.0


@pytest.fixture
def worker(pg_url: str, tmp_path: Path) -> Iterator[Workspace]:
    ws = Workspace.temporary(tmp_path / "w", database_url=pg_url).open()
    try:
        ws.start_worker("worker")
        yield ws
    finally:
        ws.close()


def run_task(ws: Workspace, title: str) -> None:
    task = ws.tasks.create(TaskDraft(title=title, scenario={"steps": [{"text": "x"}]}))
    ws.tasks.run(task.id)
    assert ws.tasks.wait(task.id, timeout=DEADLINE).status.is_terminal


class Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_dbos_pings_no_connection_a_busy_worker_just_used(
    worker: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 3600.0)
    pings: list[object] = []
    dialect = _get_dbos_instance()._sys_db.engine.dialect  # pyright: ignore[reportPrivateUsage]
    real_ping = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda conn: pings.append(conn) or real_ping(conn))

    for n in range(3):
        run_task(worker, f"busy {n}")

    assert pings == []


def test_dbos_connections_the_server_closed_while_idle_are_replaced_unnoticed(
    worker: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_task(worker, "before")
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    warnings = Warnings()
    logging.getLogger("dbos").addHandler(warnings)
    try:
        # e.g. the server restarted, or an idle timeout closed them -- while they sat in the
        # pool (one closed under a running statement fails that statement, as it should)
        engine = _get_dbos_instance()._sys_db.engine  # pyright: ignore[reportPrivateUsage]
        with _checkouts_held(engine.pool) as pooled:
            _terminate(worker.store.url, pooled)
        time.sleep(2.0)  # every queue thread polls through a replaced connection meanwhile
        run_task(worker, "after")
    finally:
        logging.getLogger("dbos").removeHandler(warnings)
    assert [m for m in warnings.messages if "queue" in m.lower()] == []


@contextmanager
def _checkouts_held(pool: Any) -> Iterator[list[int]]:
    """Hold every checkout from ``pool`` for the block (before a connection leaves the pool);
    yields the server pids of the connections sitting in the pool meanwhile."""
    gate = threading.Event()
    take = pool._do_get

    def gated_take() -> Any:
        gate.wait(DEADLINE)
        return take()

    pool._do_get = gated_take
    try:
        yield [record.dbapi_connection.info.backend_pid for record in list(pool._pool.queue)]
    finally:
        gate.set()
        del pool._do_get  # the class's again


def _terminate(url: str, pids: list[int]) -> None:
    """End these backends, as a server restart or an idle timeout would."""
    assert pids, "DBOS holds no pooled connection to close"
    admin = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
