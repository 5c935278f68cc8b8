"""Helpers for the schedule tests: a movable clock and shortcuts."""

from __future__ import annotations

import sys
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from stagent.domain.schedules import Firing, FiringStatus, Schedule
from stagent.domain.tasks import Task, TaskStatus
from stagent.scheduler.drafts import ScheduleDraft
from stagent.workspace import Workspace

START = datetime(2026, 12, 7, 8, 0, 0, tzinfo=UTC)
QUICK = {"scenario": {"steps": [{"text": "done"}], "result": "ok"}}


@dataclass
class Clock:
    """A clock a test moves by hand."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def use_clock(ws: Workspace, clock: Clock) -> Clock:
    """Make the workspace's schedules (and budgets) run on ``clock``."""
    ws.schedules.clock = clock
    ws.budgets.clock = clock
    return clock


def add(ws: Workspace, name: str = "nightly", **fields: Any) -> Schedule:
    """Create a prompt schedule (every minute unless a timing is given)."""
    if not any(k in fields for k in ("cron", "every", "at")):
        fields["every"] = "1m"
    fields.setdefault("prompt", "Summarize the day")
    fields.setdefault("tz", "UTC")
    fields.setdefault("options", QUICK)
    return ws.schedules.create(ScheduleDraft(name=name, **fields))


def tick_and_decide(ws: Workspace) -> list[str]:
    """One scheduler tick, then decide every firing it claimed (as the durable step would)."""
    claimed = ws.schedules.tick()
    return [ws.schedules.process(firing_id) for firing_id in claimed]


def history(ws: Workspace, schedule: Schedule) -> list[Firing]:
    """Oldest first."""
    return list(reversed(ws.schedules.firings(schedule.id)))


def statuses(ws: Workspace, schedule: Schedule) -> list[str]:
    """Firing statuses, oldest first."""
    return [f.status.value for f in history(ws, schedule)]


def fired(ws: Workspace, schedule: Schedule) -> list[Firing]:
    """Firings that started a task."""
    return [f for f in history(ws, schedule) if f.status is FiringStatus.FIRED]


def decided(ws: Workspace, firing_id: str, timeout: float = 60) -> Firing:
    """The firing once a worker decided it (or as it stands after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    firing = ws.schedules.firing(firing_id)
    while firing.status.is_open and time.monotonic() < deadline:
        time.sleep(0.05)
        firing = ws.schedules.firing(firing_id)
    return firing


def ended(ws: Workspace, task_id: str, timeout: float = 60) -> Task:
    """The fired task once its run ended (or as it stands after ``timeout`` seconds).

    A firing is marked ``fired`` with its task still ``planned``; the decider queues the task
    right after, so ``tasks.wait`` (which returns at once for a planned task) could see it first.
    """
    deadline = time.monotonic() + timeout
    task = ws.tasks.wait(task_id, timeout=timeout)
    while task.status is TaskStatus.PLANNED and time.monotonic() < deadline:
        time.sleep(0.05)
        task = ws.tasks.wait(task_id, timeout=max(deadline - time.monotonic(), 0.1))
    return task


def engine_state(ws: Workspace) -> str:
    """For a failure message: the engine's rows (status, queue, executor) and, on PostgreSQL,
    each connection of the test's database with what blocks it (a stall's first clue)."""
    lines: list[str] = []
    postgres = ws.store.engine.dialect.name == "postgresql"
    table = "dbos.workflow_status" if postgres else "workflow_status"
    with ws.store.engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT workflow_uuid, status, queue_name, executor_id FROM {table}")
        )
        lines += [f"engine: {tuple(row)}" for row in rows]
        if postgres:
            activity = conn.execute(
                text(
                    "SELECT pid, state, wait_event_type, wait_event, pg_blocking_pids(pid),"
                    " left(query, 160) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            lines += [f"connection: {tuple(row)}" for row in activity]
    return "\n".join(lines + threads())


def threads(depth: int = 6) -> list[str]:
    """Where each thread of this process is (its innermost ``depth`` frames): for a stall, the
    DBOS queue and executor threads say what they wait on."""
    names = {t.ident: t.name for t in threading.enumerate()}
    lines: list[str] = []
    for ident, frame in sys._current_frames().items():  # pyright: ignore[reportPrivateUsage]
        stack = traceback.extract_stack(frame)[-depth:]
        where = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack))
        lines.append(f"thread {names.get(ident, ident)}: {where}")
    return lines
