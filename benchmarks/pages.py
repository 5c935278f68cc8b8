"""The Costs, Monitor and Home pages at scale: ``python -m benchmarks.pages [--postgres]``.

Prints numbers; asserts nothing. A workspace on SQLite (``--postgres``: a throwaway PostgreSQL
database on 127.0.0.1:5432 too) is filled like one used for months: ``--tasks`` tasks (5,000;
most ended, a few running or waiting for a person, a third with a profile), one run each with
five log events, ended over the last 30 days, and ``--rows`` ledger rows (200,000) over the same
30 days, each a call of one of the tasks in turn. Then each page is requested through the app in
this process: ``GET /costs`` (the last 30 days), ``GET /costs?since..until`` (a chosen week),
``GET /monitor``, ``GET /`` and ``GET /board``.

Per page: the median wall and CPU (``time.process_time``: every thread of this process, a page
runs on the server's thread pool; on PostgreSQL the server's own time is in the wall only) over
``--repeats`` requests, beside its **floor**: the same page of the same workspace while it was
still empty (the framework, the template and the fixed queries), measured before the fill. The
SQL statements of one untimed request (`benchmarks._statements`) and the load average are
printed too. ``--profile``: the 25 functions with the most cumulative time in one request of
each page, the page run inline in this thread so cProfile sees it. ``--keep DIR``: the SQLite
workspace is made in DIR and kept; run again with the same DIR, it is measured as it is (no
floors, no fill).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from benchmarks._statements import Statements
from benchmarks._workspaces import pg_workspace, sqlite_workspace
from stagent.store.tables import AgentEventRow, RunRow, TaskRow, UsageLedgerRow
from stagent.web.app import create_app
from stagent.workspace import Workspace

RUNTIMES = ("claude", "codex", "anthropic", "openai")
MODELS = ("claude-sonnet-4-5", "gpt-5", "claude-opus-4-6", "claude-haiku-4-5")
PROFILES = (None, "code-reviewer", None, "researcher", None, "general")
ENDED = ("completed", "completed", "completed", "failed", "cancelled")
ACTIVE = 12
"""Tasks active now: two in three running, the rest waiting for a person."""
BATCH = 5000


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for first in range(0, len(rows), BATCH):
        yield rows[first : first + BATCH]


def _copy(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: ``rows`` into ``table`` (an ORM class) by one ``COPY``, with the columns'
    scalar defaults the ORM would add, JSON values as their text: the insert statements took
    ~10 minutes for 200,000 ledger rows."""
    defaults = {
        column.name: column.default.arg  # pyright: ignore[reportAttributeAccessIssue]
        for column in table.__table__.columns
        if column.name not in rows[0] and column.default is not None and column.default.is_scalar
    }
    names = [*rows[0], *defaults]
    extra = list(defaults.values())
    raw: Any = session.connection().connection.driver_connection
    columns = ", ".join(f'"{name}"' for name in names)
    statement = f"COPY {table.__tablename__} ({columns}) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            values = [json.dumps(v) if isinstance(v, dict | list) else v for v in row.values()]
            copy.write_row([*values, *extra])


def fill(ws: Workspace, tasks: int, rows: int) -> None:
    """``tasks`` tasks with a run and five log events each, and ``rows`` ledger rows, all in
    the last 30 days (see the module's docstring)."""
    projects = [ws.projects.create(f"Project {n}").id for n in range(5)]
    now = datetime.now(UTC)
    start = now - timedelta(days=30)
    step = (now - start) / tasks
    task_rows: list[dict[str, Any]] = []
    run_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    ids = [f"tsk_bench{n:07d}" for n in range(tasks)]
    for n, task_id in enumerate(ids):
        began = start + step * n
        active = n >= tasks - ACTIVE
        status = ("running" if n % 3 else "waiting") if active else ENDED[n % len(ENDED)]
        ended = None if active else began + timedelta(minutes=3)
        runtime = RUNTIMES[n % 4]
        task_rows.append(
            {
                "id": task_id,
                "project_id": projects[n % 5],
                "title": f"Task number {n}: refactor the module and run its tests",
                "description": "",
                "status": status,
                "runtime": runtime,
                "profile": PROFILES[n % len(PROFILES)],
                "priority": 2,
                "options": {},
                "run_count": 1,
                "created_at": began,
                "updated_at": ended or began,
                "started_at": began,
                "finished_at": ended,
            }
        )
        run_id = f"run_bench{n:07d}"
        run_rows.append(
            {
                "id": run_id,
                "subject_kind": "task",
                "subject_id": task_id,
                "task_id": task_id,
                "number": 1,
                "runtime": runtime,
                "options": {},
                "status": status,
                "attempt": 1,
                "waiting_on": [],
                "cost_micros": 0,
                "created_at": began,
                "started_at": began,
                "ended_at": ended,
            }
        )
        for e, kind in enumerate(("status", "text", "tool_request", "usage", "result")):
            event_rows.append(
                {
                    "task_id": task_id,
                    "run_id": run_id,
                    "subject_kind": "task",
                    "subject_id": task_id,
                    "kind": kind,
                    "payload": {"text": f"step {e} of task {n}"},
                    "created_at": began + timedelta(seconds=30 * e),
                }
            )
    spacing = (now - start) / rows
    ledger: list[dict[str, Any]] = []
    for i in range(rows):
        at = start + spacing * i
        ledger.append(
            {
                "id": f"use_bench_{i:08d}",
                "task_id": ids[i % tasks],
                "project_id": projects[(i % tasks) % 5],
                "activity": "task_run",
                "runtime": RUNTIMES[(i % tasks) % 4],
                "provider": "anthropic",
                "model": MODELS[i % 4],
                "input_tokens": 1000 + i % 97,
                "output_tokens": 200,
                "cache_read_tokens": 5000,
                "cost_micros": 4_200 + i % 1000,
                "cost_source": "computed",
                "status": "completed",
                "started_at": at,
                "finished_at": at,
                "source": "run",
                "simulated": False,
            }
        )
    with ws.store.write() as session:
        for table, batch in (
            (TaskRow, task_rows),
            (RunRow, run_rows),
            (AgentEventRow, event_rows),
            (UsageLedgerRow, ledger),
        ):
            if ws.store.is_sqlite:
                for chunk in _chunks(batch):
                    session.execute(insert(table), chunk)
            else:
                _copy(session, table, batch)
    with ws.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE" if ws.store.is_sqlite else "VACUUM ANALYZE"))


def urls(ws: Workspace) -> dict[str, str]:
    """The pages measured, by label."""
    today = ws.ledger.clock().astimezone(ws.ledger.zone).date()
    week = (today - timedelta(days=13), today - timedelta(days=7))
    return {
        "GET /costs": "/costs",
        "GET /costs (a week)": f"/costs?since={week[0]}&until={week[1]}",
        "GET /monitor": "/monitor",
        "GET / (Home)": "/",
        "GET /board": "/board",
    }


Get = Callable[[str], Awaitable[tuple[float, float]]]


@contextmanager
def client_of(ws: Workspace) -> Iterator[tuple[httpx.AsyncClient, Get]]:
    """An ASGI client of the workspace's app, and a timed GET (wall, CPU seconds)."""
    transport = httpx.ASGITransport(app=create_app(ws), client=("127.0.0.1", 50000))
    client = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765")

    async def get(url: str) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        response = await client.get(url)
        assert response.status_code == 200, response.text[-500:]
        return time.perf_counter() - wall, time.process_time() - cpu

    yield client, get


async def sample(ws: Workspace, counter: Statements, repeats: int) -> dict[str, Any]:
    """Per page: median wall and CPU (ms) of ``repeats`` requests, the statements of one."""
    found: dict[str, Any] = {}
    with client_of(ws) as (client, get):
        async with client:
            for label, url in urls(ws).items():
                await get(url)  # warm: imports, templates, caches
                before = counter.statements
                counter.on = True
                await get(url)
                counter.on = False
                runs = [await get(url) for _ in range(repeats)]
                found[label] = (
                    statistics.median(w for w, _ in runs) * 1000,
                    statistics.median(c for _, c in runs) * 1000,
                    counter.statements - before,
                )
    return found


@contextmanager
def inline_threadpool() -> Iterator[None]:
    """Sync routes and dependencies run in the calling thread (so cProfile sees them)."""
    import fastapi.dependencies.utils as deps
    import fastapi.routing as routing

    async def inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    kept = routing.run_in_threadpool, deps.run_in_threadpool
    routing.run_in_threadpool = deps.run_in_threadpool = inline  # pyright: ignore[reportAttributeAccessIssue]
    try:
        yield
    finally:
        routing.run_in_threadpool, deps.run_in_threadpool = kept  # pyright: ignore[reportAttributeAccessIssue]


async def profile(ws: Workspace) -> None:
    """cProfile of one request of each page (after a warm one), run inline."""
    with inline_threadpool(), client_of(ws) as (client, get):
        async with client:
            for label, url in urls(ws).items():
                await get(url)
                profiler = cProfile.Profile()
                profiler.enable()
                await get(url)
                profiler.disable()
                print(f"\n  cProfile of {label}: Stagent's functions by cumulative time, top 30")
                stats = pstats.Stats(profiler)
                stats.sort_stats("cumulative").print_stats(r"src/stagent/", 30)
                print(f"  cProfile of {label}: every function by its own time, top 15")
                stats.sort_stats("tottime").print_stats(15)


def run(
    name: str, factory: Callable[[], AbstractContextManager[Workspace]], args: argparse.Namespace
) -> None:
    """Floors on the empty workspace, then the fill, then the pages at scale."""
    counter = Statements()
    counter.attach()  # before the workspace opens: its connections are traced
    with factory() as ws:
        kept = ws.tasks.last_seq() > 0
        floors = {} if kept else asyncio.run(sample(ws, counter, args.repeats))
        began = time.perf_counter()
        if not kept:
            fill(ws, args.tasks, args.rows)
        print(
            f"{name}: {args.tasks:,} tasks, {args.tasks * 5:,} log events,"
            f" {args.rows:,} ledger rows (filled in {time.perf_counter() - began:.0f} s)"
        )
        found = asyncio.run(sample(ws, counter, args.repeats))
        print(
            f"  median of {args.repeats} (load {os.getloadavg()[0]:.1f});"
            " floor = the same page of the workspace while empty"
        )
        for label, (wall, cpu, statements) in found.items():
            floor_wall, floor_cpu, floor_statements = floors.get(label, (0.0, 0.0, 0))
            print(
                f"    {label:22s} wall {wall:7.1f} ms  CPU {cpu:7.1f} ms  statements"
                f" {statements:3d}   floor: wall {floor_wall:6.1f} CPU {floor_cpu:6.1f}"
                f" statements {floor_statements:3d}"
            )
        if args.profile:
            asyncio.run(profile(ws))
    counter.detach()


@contextmanager
def _sqlite(home: Path | None) -> Iterator[Workspace]:
    if home is None:
        with sqlite_workspace(timezone="UTC") as ws:
            yield ws
        return
    with Workspace.temporary(home, timezone="UTC").open() as ws:
        yield ws


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 tasks, 20,000 rows, 5 repeats")
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL too")
    parser.add_argument("--postgres-only", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--keep", type=Path, help="a SQLite workspace's home, kept for re-runs")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.rows, args.repeats = 500, 20_000, 5
    if not args.postgres_only:
        run("SQLite", lambda: _sqlite(args.keep), args)
    if args.postgres or args.postgres_only:
        run("PostgreSQL", lambda: pg_workspace(timezone="UTC"), args)


if __name__ == "__main__":
    main()
