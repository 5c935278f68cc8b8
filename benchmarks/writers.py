"""Concurrent event writers: ``python -m benchmarks.writers [--quick] [--sqlite-only |
--postgresql-only] [--events-only]``.

1, 2 and 4 writer processes each persist a running agent's events (`RunWriter.record`: a fenced
commit per event, the executor's hot path) for a few seconds, on SQLite and on PostgreSQL; then
the same with control writes (`Store.write` transactions that lock a run and its task and log a
status event, as approval holds do), which on PostgreSQL no longer share a workspace-wide lock. A
reader tails the feed by ``seq`` meanwhile, as a live view does. Printed per backend and writer
count: events per second; beside it the floor, the same processes committing a bare one-row
insert each (sqlite3 / psycopg, no Stagent code); the CPU each event cost, the writer process's
and (PostgreSQL) its server backend's, read from ``/proc``: on a loaded machine these, not the
rates, are the figures to compare; and the check that every event reached the feed once (no lost
or duplicated ``seq``, and the tailing reader saw every one).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from benchmarks._workspaces import pg_workspace, sqlite_workspace
from stagent.domain.events import TextEvent
from stagent.engine.executor import RunWriter
from stagent.engine.options import resolve
from stagent.engine.services import TaskDraft
from stagent.store import lifecycle
from stagent.store import runs as run_repo
from stagent.store.database import Store
from stagent.store.tables import AgentEventRow
from stagent.workspace import Workspace

Writer = tuple[Callable[[int], None], int | None]
"""A writer's one write, and the pid of its PostgreSQL backend (None on SQLite)."""


def child(url: str, run_id: str, start_at: float, seconds: float, mode: str) -> None:
    """One writer process: write until the deadline; print how many events it wrote, its own
    CPU seconds, and its PostgreSQL backend's (0 on SQLite)."""
    if mode == "floor":
        write, backend = _floor_writer(url)
    elif mode == "control":
        write, backend = _control_writer(url, run_id)
    else:
        write, backend = _event_writer(url, run_id)

    time.sleep(max(0.0, start_at - time.time()))
    deadline = time.time() + seconds
    count = 0
    cpu, server = time.process_time(), backend_cpu(backend)
    while time.time() < deadline:
        write(count)
        count += 1
    cpu, server = time.process_time() - cpu, backend_cpu(backend) - server
    print(count, cpu, server, flush=True)


def backend_cpu(pid: int | None) -> float:
    """CPU seconds a local PostgreSQL backend process has used (0 when there is none)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backend_pid(store: Store) -> int | None:
    """The backend of the one pooled connection a single-threaded writer uses (PostgreSQL)."""
    if store.is_sqlite:
        return None
    with store.engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _event_writer(url: str, run_id: str) -> Writer:
    store = Store(url)
    with store.read() as session:
        run = run_repo.get(session, run_id)
    writer = RunWriter(store, run.task_id or "", run)

    def write_event(i: int) -> None:
        if not writer.record(TextEvent(text=f"event {i}")):
            raise SystemExit("the run was lost")

    if store.is_sqlite:
        return write_event, None
    with store.hot_connection() as hot:  # the one a single-threaded writer's batches reuse
        return write_event, hot.driver.info.backend_pid


def _control_writer(url: str, run_id: str) -> Writer:
    """Control writes (`Store.write`): each locks its run and task rows and logs a status event,
    as an approval hold and its release do."""
    store = Store(url)

    def write_control(i: int) -> None:
        with store.write() as session:
            if i % 2 == 0:
                lifecycle.suspend(session, run_id, "approval:bench", reason="benchmark hold")
            else:
                lifecycle.release(session, run_id, "approval:bench", reason="benchmark release")

    return write_control, _backend_pid(store)


def _floor_writer(url: str) -> Writer:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        conn = sqlite3.connect(parsed.database or "", isolation_level=None, timeout=30)
        conn.execute("PRAGMA synchronous=NORMAL")

        def write_sqlite(i: int) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO floor_events (payload) VALUES (?)", (f"event {i}",))
            conn.execute("COMMIT")

        return write_sqlite, None
    pg = psycopg.connect(parsed.set(drivername="postgresql").render_as_string(False))

    def write_pg(i: int) -> None:
        pg.execute("INSERT INTO floor_events (payload) VALUES (%s)", (f"event {i}",))
        pg.commit()

    return write_pg, pg.info.backend_pid


def _prepare_floor(ws: Workspace) -> None:
    parsed = make_url(ws.store.url)
    if parsed.get_backend_name() == "sqlite":
        with contextlib.closing(sqlite3.connect(parsed.database or "")) as conn:
            conn.execute("CREATE TABLE floor_events (id INTEGER PRIMARY KEY, payload TEXT)")
            conn.commit()
        return
    url = parsed.set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE floor_events (id BIGSERIAL PRIMARY KEY, payload TEXT)")


def claimed_runs(ws: Workspace, count: int) -> list[str]:
    """``count`` tasks, each with a run an executor claimed (so its writes are fenced)."""
    run_ids: list[str] = []
    for i in range(count):
        task = ws.tasks.create(TaskDraft(title=f"writer {i}"))
        with ws.store.write() as session:
            lifecycle.queue_run(session, task.id, resolve(task, None))
        with ws.store.write() as session:
            claim = lifecycle.claim(session, task.id, 1)
        assert claim is not None
        run_ids.append(claim.run.id)
    return run_ids


def run_writers(
    url: str, run_ids: list[str], seconds: float, mode: str, lead: float = 1.5
) -> list[subprocess.Popen[str]]:
    """Start a writer process per run; they start writing together ``lead`` seconds from now
    (every child imported and connected before the clock starts)."""
    start_at = time.time() + lead
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.writers",
                "--child",
                url,
                run_id,
                str(start_at),
                str(seconds),
                mode,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for run_id in run_ids
    ]


def tail_until_done(ws: Workspace, procs: list[subprocess.Popen[str]], after: int) -> list[int]:
    """Tail the feed by ``seq`` (as a live view does) until the writers exit; the seqs seen."""
    seen: list[int] = []
    while True:
        done = all(proc.poll() is not None for proc in procs)
        for event in ws.tasks.feed(after=after, limit=5000):
            seen.append(event.seq)
            after = event.seq
        if done:
            ws.store.publish()
            for event in ws.tasks.feed(after=after, limit=100_000):
                seen.append(event.seq)
            return seen
        time.sleep(0.02)


def collect(procs: list[subprocess.Popen[str]]) -> tuple[int, float, float]:
    """Events written, client CPU seconds and backend CPU seconds, summed over ``procs``."""
    count, cpu, server = 0, 0.0, 0.0
    for proc in procs:
        fields = (proc.communicate()[0] or "0 0 0").split()
        count, cpu, server = (
            count + int(fields[0]),
            cpu + float(fields[1]),
            server + float(fields[2]),
        )
    return count, cpu, server


def each_in_order(ws: Workspace, after: int) -> bool:
    """True if each writer's text events (``event 0``, ``event 1`` ...) are in the feed in the
    order it wrote them, none missing in between."""
    with ws.store.read() as session:
        rows = session.execute(
            select(AgentEventRow.run_id, AgentEventRow.payload)
            .where(AgentEventRow.kind == "text", AgentEventRow.seq > after)
            .order_by(AgentEventRow.seq)
        ).all()
    written: dict[str | None, list[str]] = {}
    for run_id, payload in rows:
        written.setdefault(run_id, []).append(str(payload.get("text")))
    return all(texts == [f"event {i}" for i in range(len(texts))] for texts in written.values())


def per_event(count: int, cpu: float, server: float) -> str:
    """CPU per event in microseconds: ours + the server backend's."""
    if not count:
        return "-"
    return f"{cpu / count * 1e6:.0f}+{server / count * 1e6:.0f} us"


MODES = (
    ("events", "text", "run events (RunWriter.record)"),
    ("control", "status", "control writes (Store.write: row locks + a status event)"),
)


def measure(
    label: str,
    factory: Callable[[], AbstractContextManager[Workspace]],
    seconds: float,
    modes: tuple[tuple[str, str, str], ...] = MODES,
) -> None:
    for mode, kind, what in modes:
        for writers in (1, 2, 4):
            with factory() as ws:
                run_ids = claimed_runs(ws, writers)
                _prepare_floor(ws)
                floor_procs = run_writers(ws.store.url, run_ids, seconds, "floor")
                floor, floor_cpu, floor_server = collect(floor_procs)
                start = ws.tasks.last_seq()
                procs = run_writers(ws.store.url, run_ids, seconds, mode)
                seen = tail_until_done(ws, procs, start)
                written, cpu, server = collect(procs)
                with ws.store.read() as session:
                    stored = session.scalar(
                        select(func.count()).where(
                            AgentEventRow.run_id.in_(run_ids),
                            AgentEventRow.kind == kind,
                            AgentEventRow.seq > start,
                        )
                    )
                exact = stored == written and len(seen) == len(set(seen)) == written
                in_order = seen == sorted(seen) and (mode != "events" or each_in_order(ws, start))
                verdict = (
                    "yes"
                    if exact and in_order
                    else f"NO ({written} written, {stored} stored, {len(seen)} seen,"
                    f" in order: {in_order})"
                )
                print(
                    f"{label:10} {what}, {writers} writer(s): {written / seconds:8.0f}/s "
                    f"(floor, bare insert+commit: {floor / seconds:8.0f}/s); "
                    f"CPU per event, client+backend: {per_event(written, cpu, server)} "
                    f"(floor {per_event(floor, floor_cpu, floor_server)}); "
                    f"every event in the feed once, in its writer's order, and seen by the"
                    f" tailing reader: "
                    f"{verdict}",
                    flush=True,
                )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        url, run_id, start_at, seconds, mode = sys.argv[2:7]
        child(url, run_id, float(start_at), float(seconds), mode)
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2 s per measurement instead of 6")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    only.add_argument("--postgresql-only", action="store_true", help="skip SQLite")
    parser.add_argument("--events-only", action="store_true", help="skip the control writes")
    args = parser.parse_args()
    seconds = 2.0 if args.quick else 6.0
    modes = MODES[:1] if args.events_only else MODES
    if not args.postgresql_only:
        measure("sqlite", sqlite_workspace, seconds, modes)
    if not args.sqlite_only:
        measure("postgresql", pg_workspace, seconds, modes)


if __name__ == "__main__":
    main()
