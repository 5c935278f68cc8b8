"""Real worker processes firing a schedule: SIGKILLed and restarted, and two at once on one
database (SQLite and PostgreSQL). Every occurrence is recorded exactly once — fired (with exactly
one task) or missed per the schedule's policy — and none is lost."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from stagent.domain.schedules import Firing, FiringStatus, Schedule
from stagent.domain.tasks import TERMINAL_STATES, TaskStatus
from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import WorkflowStatus
from stagent.scheduler.drafts import ScheduleDraft
from stagent.testing.workflows import step
from stagent.workspace import Workspace

pytestmark = pytest.mark.slow

WORK = {"scenario": {"steps": [{"text": "tick "}, {"delay": 0.4}], "result": "ok"}}


def start_workers(
    home: Path, database_url: str | None, count: int = 1, env_extra: dict[str, str] | None = None
) -> list[subprocess.Popen[str]]:
    """``count`` `stagent worker` processes on ``home``, started side by side (each logs to a
    file in ``home``); returns once every one of them runs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["STAGENT_HOME"] = str(home)
    env["STAGENT_SCHEDULE_POLL_SECONDS"] = "0.2"
    env.pop("STAGENT_DATABASE_URL", None)
    if database_url:
        env["STAGENT_DATABASE_URL"] = database_url
    env.update(env_extra or {})
    env.setdefault("STAGENT_LOG_LEVEL", "INFO")  # the workers' logs explain a failure
    started: list[tuple[subprocess.Popen[str], Path]] = []
    for _ in range(count):
        log = home / f"worker-{time.monotonic_ns()}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "stagent", "worker", "--json"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        started.append((proc, log))
    for proc, log in started:
        wait_started(proc, log)
    return [proc for proc, _ in started]


def wait_started(proc: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if '"started"' in log.read_text():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError("worker did not start:\n" + log.read_text())


def stop(*procs: subprocess.Popen[str], sig: signal.Signals = signal.SIGTERM) -> None:
    """Signal every process (its group), then reap them all."""
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
    for proc in procs:
        proc.wait(timeout=30)


def engine_rows(ws: Workspace) -> list[tuple[object, ...]]:
    """DBOS's record of every durable workflow (firings and task runs) of the workspace."""
    table = "workflow_status" if ws.store.is_sqlite else "dbos.workflow_status"
    columns = "workflow_uuid, name, status, queue_name, executor_id, recovery_attempts, error"
    with ws.store.engine.connect() as conn:
        rows = conn.exec_driver_sql(f"SELECT {columns} FROM {table} ORDER BY created_at")
        return [tuple(row) for row in rows]


def diagnose(ws: Workspace, firings: list[Firing]) -> str:
    """Everything a failed settle needs to be understood: firings, tasks with their runs, the
    engine's workflows and the workers' logs (their last lines)."""
    lines = ["firings:"]
    lines += [f"  {f.id} {f.occurrence_at:%T} {f.status.value} task={f.task_id}" for f in firings]
    lines.append("tasks:")
    for task in ws.tasks.list():
        runs = [(r.number, r.status.value, r.attempt, r.error) for r in ws.tasks.runs(task.id)]
        lines.append(f"  {task.id} {task.title!r} {task.status.value} runs={runs}")
    lines.append("engine:")
    lines += [f"  {row}" for row in engine_rows(ws)]
    for log in sorted(ws.settings.home.glob("worker-*.log")):
        lines.append(f"{log.name} (last 60 lines):")
        lines += log.read_text().splitlines()[-60:]
    return "\n".join(lines)


def wait_fired(ws: Workspace, schedule: Schedule, count: int, timeout: float = 120) -> None:
    """Wait until ``count`` of the schedule's occurrences fired (a fixed sleep fired fewer on a
    loaded machine, where a worker's start-up and its loop's turns take seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        firings = ws.schedules.firings(schedule.id, limit=1000)
        if sum(f.status is FiringStatus.FIRED for f in firings) >= count:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"fewer than {count} fired after {timeout}s\n" + diagnose(ws, firings)
            )
        time.sleep(0.2)


def settle(ws: Workspace, schedule: Schedule, timeout: float = 120) -> list[Firing]:
    """Wait until no firing is undecided and every fired task has ended.

    A firing is marked ``fired`` while its task is still ``planned`` (the decider queues it
    right after), so a planned task counts as busy too: waiting only for active tasks let the
    test stop the workers before that task ran.
    """
    deadline = time.monotonic() + timeout
    while True:
        firings = list(reversed(ws.schedules.firings(schedule.id, limit=1000)))
        busy = [
            f
            for f in firings
            if f.status.is_open
            or (f.task_status and TaskStatus(f.task_status) not in TERMINAL_STATES)
        ]
        if not busy:
            return firings
        if time.monotonic() > deadline:
            raise AssertionError(f"still busy after {timeout}s: {busy}\n" + diagnose(ws, firings))
        time.sleep(0.2)


def assert_each_occurrence_once(ws: Workspace, firings: list[Firing], step: float) -> list[Firing]:
    """Contiguous occurrences ``step`` apart, one row each; one task per fired firing, numbered
    1..N without a gap or a repeat; every task completed. Returns the fired firings."""
    occurrences = [f.occurrence_at for f in firings]
    gaps = {b - a for a, b in zip(occurrences, occurrences[1:], strict=False)}
    assert gaps == {timedelta(seconds=step)}, occurrences
    assert {f.status for f in firings} <= {FiringStatus.FIRED, FiringStatus.MISSED}, [
        (f.status, f.reason) for f in firings
    ]
    fired = [f for f in firings if f.status is FiringStatus.FIRED]
    task_ids = [f.task_id for f in fired]
    assert None not in task_ids and len(set(task_ids)) == len(fired)
    tasks = [ws.tasks.get(str(task_id)) for task_id in task_ids]
    numbers = sorted(int(t.title.rsplit("#", 1)[1]) for t in tasks)
    assert numbers == list(range(1, len(fired) + 1))
    assert len(ws.tasks.list()) == len(fired), "a task exists that no firing owns"
    unfinished = [(t.id, t.status, t.error) for t in tasks if t.status is not TaskStatus.COMPLETED]
    assert unfinished == []
    return fired


def test_an_interval_schedule_under_a_worker_sigkilled_twice(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ws = Workspace.temporary(home).open()
    try:
        schedule = ws.schedules.create(
            ScheduleDraft(
                name="pulse",
                prompt="check",
                every="1s",
                tz="UTC",
                overlap="allow",
                missed="skip",
                options=WORK,
            )
        )
        grace = {"STAGENT_SCHEDULE_GRACE_SECONDS": "1"}
        (worker,) = start_workers(home, None, env_extra=grace)
        for round_ in range(2):
            wait_fired(ws, schedule, 4 * (round_ + 1))  # the kill lands while tasks run
            stop(worker, sig=signal.SIGKILL)
            time.sleep(2)  # down (with the restart) for more than an occurrence and the grace
            (worker,) = start_workers(home, None, env_extra=grace)
        wait_fired(ws, schedule, 12)
        ws.schedules.pause(schedule.id)
        try:
            firings = settle(ws, schedule)
        finally:
            stop(worker)
        fired = assert_each_occurrence_once(ws, firings, 1)
        missed = [f for f in firings if f.status is FiringStatus.MISSED]
        assert len(missed) >= 2, "each downtime missed at least one occurrence"
        assert all("no worker was running" in (f.reason or "") for f in missed)
        assert len(fired) >= 12
        assert ws.schedules.get(schedule.id).firing_count == len(fired)
        print(f"\n{len(firings)} occurrences: {len(fired)} fired, {len(missed)} missed")
    finally:
        ws.close()


def _two_workers(home: Path, database_url: str | None, ws: Workspace) -> None:
    schedule = ws.schedules.create(
        ScheduleDraft(
            name="shared", prompt="check", every="1s", tz="UTC", overlap="allow", options=WORK
        )
    )
    workers = start_workers(home, database_url, count=2)
    try:
        wait_fired(ws, schedule, 8)
        ws.schedules.pause(schedule.id)
        firings = settle(ws, schedule)
    finally:
        stop(*workers)
    fired = assert_each_occurrence_once(ws, firings, 1)
    assert len(fired) == len(firings) >= 8  # nothing missed: both were up all along
    print(f"\n{len(firings)} occurrences, each fired once by one of two workers")


def test_two_workers_on_one_sqlite_file_fire_each_occurrence_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ws = Workspace.temporary(home).open()
    try:
        _two_workers(home, None, ws)
    finally:
        ws.close()


@pytest.mark.postgres
def test_two_workers_on_one_postgres_database_fire_each_occurrence_once(
    tmp_path: Path, pg_url: str
) -> None:
    home = tmp_path / "home"
    ws = Workspace.temporary(home, database_url=pg_url).open()
    try:
        _two_workers(home, pg_url, ws)
    finally:
        ws.close()


def test_a_queued_workflow_firing_survives_a_worker_sigkill_and_starts_the_next_run_once(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    ws = Workspace.temporary(home).open()
    try:
        workflow = ws.workflows.add(
            parse_definition(
                {"name": "digest", "pattern": "sequence", "steps": [step("a", "a done")]}
            )
        )
        ws.workflows.run(workflow.id)
        ws.workflows.pause(workflow.id)  # run 1 stays busy until a person ends it
        schedule = ws.schedules.create(
            ScheduleDraft(name="nightly", workflow="digest", every="1d", tz="UTC", overlap="queue")
        )
        firing_id = ws.schedules.fire_now(schedule.id).id
        (worker,) = start_workers(home, None)
        try:
            deadline = time.monotonic() + 30
            while ws.schedules.firing(firing_id).status is not FiringStatus.WAITING:
                assert time.monotonic() < deadline, ws.schedules.firing(firing_id)
                time.sleep(0.2)
        finally:
            stop(worker, sig=signal.SIGKILL)
        ws.workflows.cancel(workflow.id)  # run 1 ends while no worker is alive
        (worker,) = start_workers(home, None)
        try:
            done = ws.workflows.wait(workflow.id, timeout=60)
            deadline = time.monotonic() + 30
            while done.run_count < 2 or done.status is not WorkflowStatus.COMPLETED:
                assert time.monotonic() < deadline, done
                time.sleep(0.2)
                done = ws.workflows.wait(workflow.id, timeout=60)
        finally:
            stop(worker)
        (firing,) = ws.schedules.firings(schedule.id)
        assert (firing.status, firing.workflow_run, firing.outcome) == (
            FiringStatus.FIRED,
            2,
            "completed",
        )
        assert ws.workflows.get(workflow.id).run_count == 2
    finally:
        ws.close()
