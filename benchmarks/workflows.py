"""Workflow engine benchmarks: ``python -m benchmarks.workflows [--quick] [--sqlite-only]``.

Prints numbers; asserts nothing. The engine's overhead per step, with an instant scripted
runtime (each step's task plays one text chunk and answers), through the real workflow queue,
task queue and store, with the worker in this process:

- a sequence of N steps (200; 30 with ``--quick``), on SQLite (a WAL file in a temp dir) and on
  PostgreSQL (127.0.0.1:5432, a throwaway database): wall milliseconds per step (the run's
  start to its ``finished_at``, not to the benchmark's next status poll), and the
  process's CPU milliseconds per step (the worker runs here, so that is what a step costs the
  engine, the store and DBOS; the main thread's own status polls while it waits for the end
  are measured on its thread clock and left out, and printed beside it). Each repeat opens a
  fresh workspace and runs a short sequence in it first (`WARM_UP_STEPS`), as LangGraph's
  repeats reuse one compiled graph: the timed run is the steady state, and what a fresh
  workspace's first run pays once more (SQLAlchemy compiles each statement once per engine,
  DBOS's too) is printed beside it, from the warm-up's CPU less its steps at the steady rate;
  and, from one more
  run with counting listeners (they cost CPU of their own, so the timed runs have none), the
  commits and statements per step (every engine of the worker's threads, ours and DBOS's,
  DBOS's queue polls included; on SQLite counted at the driver, so what the hot path sends
  without SQLAlchemy counts too; the benchmark's own status reads are left out; on PostgreSQL
  statements on hot connections are not counted);
- a swarm of 5 workers run 20 times, once the swarm pattern is built (a "not built" line until);
- on the real Claude Code CLI (the one claude-agent-sdk bundles) against the scripted Anthropic
  server, the time from one step's end to the next step's first model request (``--skip-claude``
  leaves it out);
- in the same run, the peer: LangGraph with its SQLite checkpointer (``SqliteSaver`` on a file)
  on the equivalent sequential graph of N nodes, each passing its output to the next; and the
  floor of one SQLite insert + commit on a WAL file.

The process starts as ``stagent worker`` does (`stagent.cli.startup`): what it imported is
frozen out of the garbage collector's walks before anything is measured (the peer's runs get
that too), and the worker's launch freezes what it loaded (`stagent.collector.freeze_loaded`).
Without it every full collection walked the benchmark's whole heap (~160k objects, ~0.1 s of
CPU each, one every ~500 steps), a cost no ``stagent`` process pays.

LangGraph is an optional extra (``pip install -e '.[bench]'``); without it the benchmark says so
and measures the rest.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import text

from benchmarks._statements import Statements
from benchmarks._workspaces import pg_workspace, sqlite_workspace
from stagent.cli import startup
from stagent.domain.workflow_runs import BUILT_PATTERNS, WorkflowStatus
from stagent.domain.workflows import WorkflowDefinition
from stagent.workspace import Workspace

Factory = Callable[..., AbstractContextManager[Workspace]]
INSTANT = {"scripted": {"scenario": {"steps": [{"text": "x"}], "result": "done"}}}


def instant_step(key: str) -> dict[str, Any]:
    """A step whose task answers at once (no model, one text event)."""
    return {"id": key, "name": key, "prompt": f"do {key}", "options": INSTANT}


def sequence_definition(steps: int) -> WorkflowDefinition:
    """A sequence of ``steps`` instant steps."""
    return WorkflowDefinition.model_validate(
        {
            "name": f"bench-seq-{steps}",
            "pattern": "sequence",
            "steps": [instant_step(f"s{i}") for i in range(steps)],
        }
    )


def swarm_definition(workers: int) -> WorkflowDefinition:
    """A mayor, ``workers`` workers and a refinery, all instant."""
    keys = ["mayor", *(f"w{i}" for i in range(workers)), "refinery"]
    return WorkflowDefinition.model_validate(
        {
            "name": "bench-swarm",
            "pattern": "swarm",
            "steps": [instant_step(k) for k in keys],
            "swarm": {"worker_concurrency": workers},
        }
    )


@contextmanager
def counting() -> Iterator[Statements]:
    """Count every statement and commit of the worker's threads (ours, DBOS's, and on SQLite
    what goes to the driver without SQLAlchemy) while inside; attach before the workspace
    opens (its connections are traced when the pool opens them). The benchmark's own waiting
    reads run on the main thread and are left out. The listeners cost CPU of their own, so
    the timed runs go without."""
    counter = Statements(skip_main_thread=True)
    counter.attach()
    counter.on = True
    try:
        yield counter
    finally:
        counter.on = False
        counter.detach()


def run_once(
    ws: Workspace, definition: WorkflowDefinition, counter: Statements | None = None
) -> tuple[float, float, int, int, float]:
    """Run a stored workflow to its end; returns (wall seconds from the run's start to its
    ``finished_at``, CPU seconds of the process without the benchmark's own waiting reads, with
    a ``counter`` the commits and statements of the run, else zeros, and the CPU seconds of
    those waiting reads)."""
    workflow = ws.workflows.add(definition)
    if counter is not None:
        counter.statements = counter.commits = 0
    wall, cpu = time.time(), time.process_time()
    ws.workflows.run(workflow.id)
    waiting = time.thread_time()
    status = wait_ended(ws, workflow.id)
    waiting = time.thread_time() - waiting  # this thread only polled (sleeps cost no CPU)
    cpu = time.process_time() - cpu - waiting
    done = ws.workflows.get(workflow.id)
    if status != WorkflowStatus.COMPLETED.value or done.finished_at is None:
        raise SystemExit(f"benchmark workflow ended {done.status}: {done.stop_reason}")
    return (
        # Until the run's end was written, not until the next status poll saw it (up to
        # `wait_ended`'s poll later: 0.5 ms a step of a 100-step run).
        done.finished_at.timestamp() - wall,
        cpu,
        counter.commits if counter is not None else 0,
        counter.statements if counter is not None else 0,
        waiting,
    )


def wait_ended(ws: Workspace, workflow_id: str, poll: float = 0.05) -> str:
    """Wait for the run to leave ``running`` with one cheap status read per ``poll`` (not
    `WorkflowService.wait`, which loads every step row on every commit: with 200 steps the
    waiter itself would cost more CPU than a step)."""
    query = text("SELECT status FROM workflows WHERE id = :id")
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        with ws.store.read() as session:
            status = str(session.execute(query, {"id": workflow_id}).scalar_one())
        if status != WorkflowStatus.RUNNING.value:
            return status
        time.sleep(poll)
    raise SystemExit(f"benchmark workflow {workflow_id} did not end in 30 minutes")


WARM_UP_STEPS = 3
"""The sequence a fresh workspace runs before the timed one (every statement of a step, the
first, a middle and the last, compiled once)."""


def ours(label: str, factory: Factory, steps: int, repeats: int) -> None:
    """The sequence (median of ``repeats`` fresh workspaces, each after a warm-up run), then
    one more run that counts commits and statements (its listeners would add CPU to the timed
    runs)."""
    walls: list[float] = []
    cpus: list[float] = []
    waits: list[float] = []
    firsts: list[float] = []
    for _ in range(repeats):
        with factory(concurrency=4) as ws:
            ws.start_worker("worker")
            _, first, *_ = run_once(ws, sequence_definition(WARM_UP_STEPS))
            wall, cpu, _, _, waiting = run_once(ws, sequence_definition(steps))
            walls.append(wall * 1000 / steps)
            cpus.append(cpu * 1000 / steps)
            waits.append(waiting * 1000 / steps)
            firsts.append((first - cpu * WARM_UP_STEPS / steps) * 1000)
    with counting() as counter, factory(concurrency=4) as ws:
        ws.start_worker("worker")
        run_once(ws, sequence_definition(WARM_UP_STEPS))
        _, _, count, executed, _ = run_once(ws, sequence_definition(steps), counter)
    print(
        f"{label:10} stagent sequence of {steps} steps: {statistics.median(walls):8.2f} ms/step "
        f"wall, {statistics.median(cpus):7.2f} ms/step CPU (median of {repeats}; the "
        f"benchmark's own status polls, {statistics.median(waits):.2f} ms/step, left out); "
        f"{count / steps:5.1f} commits/step, {executed / steps:5.1f} statements/step "
        f"(one more run, counted); a fresh workspace's first run pays "
        f"{statistics.median(firsts):.0f} ms of CPU once more (compiles)",
        flush=True,
    )


def swarm(label: str, factory: Factory, runs: int) -> None:
    """A swarm of 5 workers, ``runs`` times (mayor + 5 workers + refinery = 7 steps each)."""
    if "swarm" not in BUILT_PATTERNS:
        print(f"{label:10} stagent swarm of 5 workers x {runs} runs: not built", flush=True)
        return
    with factory(concurrency=5) as ws:
        ws.start_worker("worker")
        samples = [run_once(ws, swarm_definition(5)) for _ in range(runs)]
    per_step = [wall * 1000 / 7 for wall, *_ in samples]
    cpu = [c * 1000 / 7 for _, c, *_ in samples]
    print(
        f"{label:10} stagent swarm of 5 workers x {runs} runs: "
        f"{statistics.median(per_step):8.2f} ms/step wall, {statistics.median(cpu):7.2f} ms/step "
        f"CPU (7 steps a run, median of {runs})",
        flush=True,
    )


def langgraph(steps: int, repeats: int) -> None:
    """LangGraph's StateGraph with ``steps`` nodes in a line, checkpointed to a SQLite file."""
    try:
        from langgraph.checkpoint.sqlite import SqliteSaver
        from langgraph.graph import END, START, StateGraph
    except ImportError:
        print(
            "peer       LangGraph + SqliteSaver: not installed (pip install -e '.[bench]' "
            "installs langgraph and langgraph-checkpoint-sqlite)",
            flush=True,
        )
        return
    from typing import TypedDict

    class State(TypedDict):
        previous: str
        outputs: list[str]

    def node(key: str) -> Callable[[State], dict[str, Any]]:
        def run(state: State) -> dict[str, Any]:
            output = f"{key} after {state['previous'][:20]}"
            return {"previous": output, "outputs": [*state["outputs"], "x"][-1:]}

        return run

    graph = StateGraph(State)
    names = [f"s{i}" for i in range(steps)]
    for name in names:
        graph.add_node(name, cast(Any, node(name)))
    graph.add_edge(START, names[0])
    for first, second in zip(names, names[1:], strict=False):
        graph.add_edge(first, second)
    graph.add_edge(names[-1], END)
    walls: list[float] = []
    cpus: list[float] = []
    for n in range(repeats):
        with tempfile.TemporaryDirectory() as home:
            conn = sqlite3.connect(Path(home) / "graph.sqlite", check_same_thread=False)
            compiled = graph.compile(checkpointer=SqliteSaver(conn))
            config: Any = {"configurable": {"thread_id": f"t{n}"}, "recursion_limit": steps + 10}
            wall, cpu = time.perf_counter(), time.process_time()
            compiled.invoke({"previous": "", "outputs": []}, config)
            walls.append((time.perf_counter() - wall) * 1000 / steps)
            cpus.append((time.process_time() - cpu) * 1000 / steps)
            conn.close()
    print(
        f"peer       LangGraph + SqliteSaver, {steps} nodes in a line: "
        f"{statistics.median(walls):8.2f} ms/step wall, {statistics.median(cpus):7.2f} ms/step "
        f"CPU (median of {repeats})",
        flush=True,
    )


def sqlite_commit_floor(count: int = 500) -> None:
    """One small insert + commit on a SQLite WAL file (the least a durable step can cost)."""
    with tempfile.TemporaryDirectory() as home:
        conn = sqlite3.connect(Path(home) / "floor.sqlite")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.commit()
        samples: list[float] = []
        for i in range(count):
            start = time.perf_counter()
            conn.execute("INSERT INTO t (v) VALUES (?)", (f"v{i}",))
            conn.commit()
            samples.append(time.perf_counter() - start)
        conn.close()
    print(
        f"floor      one SQLite insert + commit (WAL): {statistics.median(samples) * 1000:8.3f} ms",
        flush=True,
    )


def claude_gap(steps: int = 4) -> None:
    """On the real Claude Code CLI (bundled with claude-agent-sdk) against the scripted Anthropic
    server: the time from one step's end to the next step's first model request, split into
    the engine's part (the step's end to the next run's start) and the CLI's (its start-up
    until it sends the prompt)."""
    from stagent.runtimes.claude import ClaudeRuntime
    from stagent.testing.anthropic_server import AnthropicScriptServer
    from stagent.testing.model_script import ModelScript, ScriptBook

    cli = ClaudeRuntime().cli()
    if cli is None or not cli.is_file():
        print("claude     step end -> next model request: the bundled CLI is not available")
        return
    script = ModelScript.model_validate({"name": "hello", "turns": [{"text": "Hello."}]})
    keys = [f"s{i}" for i in range(steps)]
    definition = WorkflowDefinition.model_validate(
        {
            "name": "bench-claude",
            "pattern": "sequence",
            "steps": [
                {"id": k, "name": k, "prompt": "SCENARIO:hello say hello", "runtime": "claude"}
                for k in keys
            ],
        }
    )
    with (
        tempfile.TemporaryDirectory() as home,
        AnthropicScriptServer(ScriptBook([script])) as server,
        sqlite_workspace(concurrency=2) as ws,
    ):
        ws.rules.apply_preset("full-auto")
        env = {
            "ANTHROPIC_BASE_URL": server.url,
            "ANTHROPIC_API_KEY": "sk-ant-bench-0123456789",
            "CLAUDE_CODE_MAX_RETRIES": "0",
        }
        ws.runtimes.register(ClaudeRuntime(home=Path(home), env=env))
        ws.start_worker("worker")
        workflow = ws.workflows.add(definition)
        ws.workflows.run(workflow.id)
        status = wait_ended(ws, workflow.id)
        done = ws.workflows.get(workflow.id)
        starts = [ws.tasks.runs(s.task_id or "")[0].started_at for s in done.steps]
    if status != WorkflowStatus.COMPLETED.value:
        print(f"claude     step end -> next model request: the run ended {status}")
        return
    asked = [r["at"] for r in server.requests if r["scenario"] == "hello"]
    gaps, engine = [], []
    for i in range(1, len(done.steps)):
        ended, started = done.steps[i - 1].ended_at, starts[i]
        if ended is None or started is None or i >= len(asked):
            continue
        gaps.append(asked[i] - ended.timestamp())
        engine.append(started.timestamp() - ended.timestamp())
    print(
        f"claude     step end -> next step's first model request: "
        f"{statistics.median(gaps) * 1000:8.0f} ms (median of {len(gaps)}; the engine's part, "
        f"step end -> next run started: {statistics.median(engine) * 1000:.0f} ms; the rest is "
        "the CLI starting)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="30 steps, one repeat")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--steps", type=int, default=None, help="steps in the sequence")
    parser.add_argument("--repeats", type=int, default=None, help="sequences per database")
    parser.add_argument("--skip-swarm", action="store_true", help="only the sequence")
    parser.add_argument("--skip-claude", action="store_true", help="no real Claude Code CLI run")
    args = parser.parse_args()
    startup.starting()  # as ``stagent worker`` starts: what is loaded so far is frozen
    startup.ready()
    steps, repeats, swarm_runs = (30, 1, 3) if args.quick else (200, 3, 20)
    steps = args.steps or steps
    repeats = args.repeats or repeats
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    langgraph(steps, repeats)
    sqlite_commit_floor()
    if not args.skip_claude:
        claude_gap()
    ours("sqlite", sqlite_workspace, steps, repeats)
    if not args.skip_swarm:
        swarm("sqlite", sqlite_workspace, swarm_runs)
    if not args.sqlite_only:
        ours("postgresql", pg_workspace, steps, repeats)
        if not args.skip_swarm:
            swarm("postgresql", pg_workspace, swarm_runs)


if __name__ == "__main__":
    main()
