"""The Costs page at a realistic size: ``python -m benchmarks.costs_page [--quick] [--pairs N]``.

Prints numbers; asserts nothing. A workspace on SQLite (``--postgres``: a throwaway PostgreSQL
database on 127.0.0.1:5432 too) with ``--tasks`` tasks (2,000) and ``--rows`` ledger rows
(20,000) spread over the last 30 days, each row a call of one of the tasks in turn (so the
audit table's 100 newest calls name 100 different tasks), then ``GET /costs`` (the last 30 days)
and ``GET /costs?since=..&until=..`` (a chosen week) through the app in this process.

A/B, interleaved in pairs (the order alternating): the audit's titles read with one query
(`stagent.web.ui.costs._titles`, now) against one query per task (`titles_per_task`, before).
Per request: wall and CPU (``time.process_time``: every thread of this process, the page runs on
the server's thread pool), medians over the pairs, and the SQL statements it sends (counted in
an untimed request: `benchmarks._statements`). The load average is printed beside them.
``--profile``: the 25 functions with the most cumulative time in one request (cProfile).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import insert, text

from benchmarks._statements import Statements
from benchmarks._workspaces import pg_workspace, sqlite_workspace
from stagent.domain.errors import NotFoundError
from stagent.engine.services import TaskDraft
from stagent.store.tables.ledger import UsageLedgerRow
from stagent.web.app import create_app
from stagent.web.ui import costs
from stagent.workspace import Workspace

RUNTIMES = ("claude", "codex", "anthropic", "openai")
MODELS = ("claude-sonnet-4-5", "gpt-5", "claude-opus-4-6", "claude-haiku-4-5")


def titles_per_task(ws: Workspace, task_ids: set[str]) -> dict[str, str]:
    """The audit's titles as the page read them before: one query per task."""
    titles: dict[str, str] = {}
    for task_id in task_ids:
        try:
            titles[task_id] = ws.tasks.get(task_id).title
        except NotFoundError:
            continue
    return titles


def fill(ws: Workspace, tasks: int, rows: int) -> None:
    """``tasks`` tasks, and ``rows`` ledger rows over the last 30 days (a task each in turn)."""
    projects = [ws.projects.create(f"Project {n}").id for n in range(5)]
    ids = [
        ws.tasks.create(TaskDraft(title=f"Task number {n}", project=projects[n % 5])).id
        for n in range(tasks)
    ]
    now = datetime.now(UTC)
    start = now - timedelta(days=30)
    step = (now - start) / rows
    batch: list[dict[str, object]] = []
    for i in range(rows):
        at = start + step * i
        batch.append(
            {
                "id": f"use_bench_{i:08d}",
                "task_id": ids[i % tasks],
                "project_id": projects[(i % tasks) % 5],
                "activity": "task_run",
                "runtime": RUNTIMES[i % 4],
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
        for first in range(0, rows, 5000):
            session.execute(insert(UsageLedgerRow), batch[first : first + 5000])
    statement = "ANALYZE" if ws.store.is_sqlite else "VACUUM ANALYZE usage_ledger"
    with ws.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(statement))


@contextmanager
def titles_read(how: Callable[[Workspace, set[str]], dict[str, str]]) -> Iterator[None]:
    """The page reads its audit's titles ``how`` meanwhile."""
    kept = costs._titles  # pyright: ignore[reportPrivateUsage]
    costs._titles = how  # pyright: ignore[reportPrivateUsage]
    try:
        yield
    finally:
        costs._titles = kept  # pyright: ignore[reportPrivateUsage]


async def _get(client: httpx.AsyncClient, url: str) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    response = await client.get(url)
    assert response.status_code == 200, response.text[-500:]
    return time.perf_counter() - wall, time.process_time() - cpu


async def measure(ws: Workspace, counter: Statements, pairs: int, profile: bool) -> None:
    """The A/B of the page's two URLs, and the statements each sends."""
    variants = {"before (a query per task)": titles_per_task, "now (one query)": costs._titles}  # pyright: ignore[reportPrivateUsage]
    today = ws.ledger.clock().astimezone(ws.ledger.zone).date()
    week = (today - timedelta(days=13), today - timedelta(days=7))
    urls = {
        "/costs": "/costs",
        "/costs?since..until (a week)": f"/costs?since={week[0]}&until={week[1]}",
    }
    transport = httpx.ASGITransport(app=create_app(ws), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as client:
        for label, url in urls.items():
            await _get(client, url)  # warm: imports, templates, caches
            counted: dict[str, str] = {}
            for name, how in variants.items():
                with titles_read(how):
                    counter.on = True
                    await _get(client, url)
                    counter.on = False
                counted[name] = counter.per(1).split("/")[0]
            samples: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
            for pair in range(pairs):
                order = list(variants.items())
                for name, how in order if pair % 2 == 0 else reversed(order):
                    with titles_read(how):
                        samples[name].append(await _get(client, url))
            load = os.getloadavg()[0]
            print(f"  GET {label}  ({pairs} pairs, load {load:.1f})")
            for name, runs in samples.items():
                wall = statistics.median(w for w, _ in runs) * 1000
                cpu = statistics.median(c for _, c in runs) * 1000
                print(
                    f"    {name:28s} wall {wall:7.1f} ms  CPU {cpu:7.1f} ms"
                    f"  statements {counted[name]}"
                )
    if profile:
        parts(ws)


def parts(ws: Workspace, repeats: int = 5) -> None:
    """Where the page's CPU goes: each part it calls, run here (the page runs on a worker
    thread, which cProfile does not see), median CPU of ``repeats``; then cProfile of the
    dashboard's queries and sums."""
    from dataclasses import replace

    from stagent.ledger.reports import Scope

    scope = Scope()
    window = ws.ledger.window(30)
    where = replace(scope, since=window.since, until=window.until).filter()
    rows = ws.ledger.entries(replace(where, simulated=None), limit=100, holds=False)
    task_ids = {row.task_id for row in rows if row.task_id}
    steps: dict[str, Callable[[], object]] = {
        "dashboard (every card, chart, table)": lambda: ws.ledger.dashboard(scope, window=window),
        "audit rows (100)": lambda: ws.ledger.entries(
            replace(where, simulated=None), limit=100, holds=False
        ),
        "titles, one query": lambda: costs._titles(ws, task_ids),  # pyright: ignore[reportPrivateUsage]
        "titles, a query per task": lambda: titles_per_task(ws, task_ids),
        "workflows of the audit's tasks": lambda: costs._workflows(ws, task_ids),  # pyright: ignore[reportPrivateUsage]
        "cap forecasts": lambda: ws.ledger.cap_forecasts(
            [status.as_json(ws.budgets.zone) for status in ws.budgets.statuses()]
        ),
    }
    print(f"  parts of GET /costs, CPU, median of {repeats} (load {os.getloadavg()[0]:.1f})")
    for label, step in steps.items():
        spent: list[float] = []
        for _ in range(repeats):
            began = time.process_time()
            step()
            spent.append(time.process_time() - began)
        print(f"    {label:36s} {statistics.median(spent) * 1000:7.1f} ms")
    profiler = cProfile.Profile()
    profiler.enable()
    ws.ledger.dashboard(scope, window=window)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


def run(
    name: str, factory: Callable[[], AbstractContextManager[Workspace]], args: argparse.Namespace
) -> None:
    counter = Statements()
    counter.attach()  # before the workspace opens: its connections are traced
    with factory() as ws:
        began = time.perf_counter()
        fill(ws, args.tasks, args.rows)
        print(
            f"{name}: {args.tasks:,} tasks, {args.rows:,} ledger rows"
            f" (filled in {time.perf_counter() - began:.0f} s)"
        )
        asyncio.run(measure(ws, counter, args.pairs, args.profile))
    counter.detach()


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 tasks, 5,000 rows, 3 pairs")
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--pairs", type=int, default=9)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL too")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.rows, args.pairs = 500, 5000, 3
    run("SQLite", lambda: sqlite_workspace(timezone="UTC"), args)
    if args.postgres:
        run("PostgreSQL", lambda: pg_workspace(timezone="UTC"), args)


if __name__ == "__main__":
    main()
