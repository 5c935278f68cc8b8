"""Helpers for migration tests: put a database at an older revision, go down, open it at head.

The ``engine`` fixture (tests/store/conftest.py) gives an engine on a database no migration has
touched, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import command
from storetools import bash_card

from stagent.domain.permissions import PermissionRule
from stagent.domain.run_options import RunOptions
from stagent.domain.runs import RunStatus
from stagent.domain.schedules import (
    FiringStatus,
    Schedule,
    ScheduleStatus,
    Target,
    TargetKind,
    Timing,
    TimingKind,
)
from stagent.domain.workflow_runs import WorkflowStatus
from stagent.domain.workflows import WorkflowDefinition
from stagent.store import approvals as approval_repo
from stagent.store import budgets as budget_repo
from stagent.store import events as event_repo
from stagent.store import inbox as inbox_repo
from stagent.store import ledger as ledger_repo
from stagent.store import ledger_metrics as metrics
from stagent.store import lifecycle
from stagent.store import projects as project_repo
from stagent.store import rules as rule_repo
from stagent.store import runs as run_repo
from stagent.store import scans as scan_repo
from stagent.store import schedules as schedule_repo
from stagent.store import settings as settings_repo
from stagent.store import step_rows as step_repo
from stagent.store import tasks as task_repo
from stagent.store import workflows as workflow_repo
from stagent.store.database import Store
from stagent.store.ledger import LedgerFilter, NewLedgerEntry, SpendQuery
from stagent.store.migrate import alembic_config, current_revision
from stagent.store.tables import UsageLedgerRow, UsageRollupRow


def at(engine: sa.Engine, revision: str) -> dict[str, sa.Table]:
    """Migrate to ``revision`` and reflect its tables (the schema an older Stagent wrote)."""
    command.upgrade(alembic_config(engine), revision)
    meta = sa.MetaData()
    meta.reflect(engine)
    return dict(meta.tables)


def down_to(engine: sa.Engine, revision: str) -> set[str]:
    """Downgrade to ``revision``; the tables left."""
    command.downgrade(alembic_config(engine), revision)
    assert current_revision(engine) == revision
    return set(sa.inspect(engine).get_table_names())


def upgraded(engine: sa.Engine) -> Store:
    """Open the database as today's Stagent does: the store migrates it to head."""
    store = Store(engine.url.render_as_string(hide_password=False))
    store.upgrade()
    return store


@contextmanager
def at_head(engine: sa.Engine) -> Iterator[Store]:
    """`upgraded`, disposed of when the block ends."""
    store = upgraded(engine)
    try:
        yield store
    finally:
        store.dispose()


T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
"""When seeded rows were written, unless a test says otherwise."""

_DEFAULTS: dict[str, dict[str, Any]] = {
    "projects": {"description": "", "created_at": T0, "updated_at": T0},
    "tasks": {
        "description": "",
        "status": "planned",
        "runtime": "scripted",
        "priority": 0,
        "runtime_config": {},  # before 0006
        "options": {},  # from 0006 on
        "run_count": 0,
        "created_at": T0,
        "updated_at": T0,
    },
    "agent_events": {"kind": "note", "payload": {}, "created_at": T0},
    "inbox_items": {"kind": "message", "body": "", "payload": {}, "read": False, "created_at": T0},
    "usage_ledger": {
        "activity": "task_run",
        "runtime": "claude",
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_write_5m_tokens": 0,
        "cache_write_1h_tokens": 0,
        "cache_read_tokens": 0,
        "reasoning_tokens": 0,
        "cost_micros": 100,
        "cost_source": "computed",
        "status": "completed",
    },
    "workflows": {
        "pattern": "sequence",
        "status": "completed",
        "run_count": 1,
        "round": 1,
        "created_at": T0,
        "updated_at": T0,
    },
    "workflow_steps": {"run_number": 1, "position": 0, "status": "completed"},
    "schedules": {
        "status": "active",
        "target_kind": "prompt",
        "runtime": "scripted",
        "variables": {},
        "options": {},
        "timing_kind": "cron",
        "zone": "UTC",
        "overlap": "skip",
        "missed": "once",
        "firing_count": 0,
        "created_at": T0,
        "updated_at": T0,
    },
    "schedule_firings": {"manual": False, "created_at": T0},
}


def seed(conn: sa.Connection, table: sa.Table, *rows: dict[str, Any]) -> None:
    """Insert ``rows`` into ``table`` as the revision it was reflected at has it.

    Each row is the table's usual values (only the columns this revision has: a task's options
    are ``runtime_config`` before 0006 and ``options`` from it on), overridden by the row's own.
    An event names its task as its subject where the revision has subjects; a ledger row's
    ``at`` sets when the call started and finished. A column the revision lacks is an error."""
    columns = set(table.c.keys())
    for row in rows:
        values = {k: v for k, v in _DEFAULTS.get(table.name, {}).items() if k in columns}
        values.update(_derived(table.name, columns, dict(row)))
        conn.execute(sa.insert(table).values(values))


def _derived(name: str, columns: set[str], row: dict[str, Any]) -> dict[str, Any]:
    """The row with the values that follow from its others filled in."""
    if name == "agent_events" and "subject_kind" in columns:
        row.setdefault("subject_kind", "task")
        row.setdefault("subject_id", row["task_id"])
    if name == "usage_ledger":
        when = row.pop("at", T0)
        row.setdefault("started_at", when)
        row.setdefault("finished_at", when)
    return row


# ------------------------------------------------------------------------------- a whole workspace


def fill_workspace(store: Store) -> None:
    """A workspace with a row in every table a person's data lives in, written through today's
    repositories: a project and its budget, tasks with runs, events, calls, an approval card
    and an inbox item, a workflow run with a run-time step and why it stopped, a schedule whose
    firings started a task and a workflow run, a rule, a setting and a scan."""
    definition = WorkflowDefinition.model_validate(
        {
            "name": "release",
            "pattern": "sequence",
            "steps": [{"id": "a", "name": "Build", "prompt": "build"}],
        }
    )
    with store.write() as session:
        project = project_repo.create(
            session, name="web", description="the site", working_directory="/srv/web"
        )
        task = task_repo.create(session, task_repo.NewTask(title="ship", project_id=project.id))
        _, run = lifecycle.queue_run(session, task.id, RunOptions(runtime="scripted"))
        assert run is not None
        claim = lifecycle.claim(session, task.id, 1)
        assert claim is not None
        event_repo.append(session, task.id, "text", {"text": "working"}, run_id=run.id)
        ledger_repo.insert(
            session,
            NewLedgerEntry(
                runtime="claude",
                model="claude-opus-4-6",
                task_id=task.id,
                run_id=run.id,
                project_id=project.id,
                input_tokens=120,
                output_tokens=40,
                cost_micros=2_500,
                at=T0,
            ),
        )
        lifecycle.finish(session, run.id, RunStatus.COMPLETED, attempt=1, result="shipped")
        budget_repo.upsert(session, "project", project.id, {"daily_cap_micros": 9_000_000})
        card_task = task_repo.create(session, task_repo.NewTask(title="ask first"))
        bash_card(session, card_task.id, expires_at=T0 + timedelta(days=365))
        inbox_repo.create(session, kind="message", title="hello", body="kept", task_id=task.id)
        flow = workflow_repo.create(session, definition, project_id=project.id)
        row = workflow_repo.get_row(session, flow.id, for_update=True)
        workflow_repo.begin_run(session, row)
        step_repo.add_step(session, flow.id, 1, "a#1", "Iteration 1", 1)
        workflow_repo.end(session, row, WorkflowStatus.FAILED, "a step failed", "step_failed")
        schedule_repo.insert(
            session,
            Schedule(
                id="sch_all",
                name="nightly",
                status=ScheduleStatus.ACTIVE,
                timing=Timing(TimingKind.CRON, zone="UTC", cron="0 3 * * *", source="at 3am"),
                target=Target(TargetKind.WORKFLOW, ref="release"),
                next_fire_at=T0,
            ),
        )
        day = timedelta(days=1)
        schedule_repo.add_firings(
            session,
            "sch_all",
            [
                ("fir_task", T0, FiringStatus.PENDING, None),
                ("fir_flow", T0 + day, FiringStatus.PENDING, None),
                ("fir_skip", T0 + 2 * day, FiringStatus.SKIPPED, "busy"),
            ],
        )
        schedule_repo.decide(session, "fir_task", FiringStatus.FIRED, task_id=task.id)
        schedule_repo.decide(session, "fir_flow", FiringStatus.FIRED, workflow=(flow.id, 1))
        rule_repo.add(session, PermissionRule(tool="Bash", specifier="ls", scope="global"))
        settings_repo.put(session, "theme", {"mode": "dark"})
        report = {
            "scanned_at": T0.isoformat(),
            "roots": ["/srv"],
            "score": 77,
            "duration_ms": 3.5,
            "artifacts": [{"path": "/srv/CLAUDE.md"}],
            "projects": [],
            "findings": [{"severity": "warning", "kind": "stale"}],
        }
        scan_repo.add(session, report, fingerprint="fp")


def what_a_person_sees(store: Store) -> dict[str, Any]:
    """Everything `fill_workspace` wrote, read back through today's repositories."""
    with store.read() as session:
        tasks = task_repo.list_tasks(session)
        flows = workflow_repo.list_all(session)
        return {
            "projects": project_repo.list_all(session),
            "tasks": tasks,
            "runs": [run_repo.for_task(session, t.id) for t in tasks],
            "feed": event_repo.since(session, 0, limit=5_000),
            "ledger": ledger_repo.list_entries(session, LedgerFilter(), oldest_first=True),
            "spend": ledger_repo.spend(
                session, [SpendQuery("overall", "", T0 - timedelta(days=1))]
            ),
            "summary": sorted(metrics.aggregate(session, LedgerFilter(), "runtime"), key=repr),
            "budgets": budget_repo.list_budgets(session),
            "cards": approval_repo.list_pending(session),
            "inbox": inbox_repo.list_items(session),
            "workflows": [workflow_repo.get(session, f.id) for f in flows],
            "schedules": schedule_repo.list_all(session),
            "firings": schedule_repo.firings(session, "sch_all"),
            "rules": rule_repo.list_rules(session),
            "theme": settings_repo.get(session, "theme"),
            "scans": scan_repo.history(session),
        }


# ------------------------------------------------------------------------------- the rollup


def rollup_rows(session: Any) -> dict[tuple[Any, ...], tuple[int, ...]]:
    """The rollup's non-empty rows by key."""
    found: dict[tuple[Any, ...], tuple[int, ...]] = {}
    for row in session.scalars(sa.select(UsageRollupRow)):
        sums = (row.requests, row.input_tokens, row.output_tokens, row.cost_micros, row.unpriced)
        if any(sums):
            key = (row.grain, row.bucket, row.runtime, row.model, row.project_id, row.source)
            found[(*key, bool(row.simulated), row.status)] = sums
    return found


def expected_rollup(session: Any) -> dict[tuple[Any, ...], tuple[int, ...]]:
    """What the rollup must hold: the ledger's calls summed per hour and per day."""
    found: dict[tuple[Any, ...], tuple[int, ...]] = {}
    calls = sa.select(UsageLedgerRow).where(UsageLedgerRow.status.in_(metrics.CALL_STATUSES))
    for row in session.scalars(calls):
        moment = row.finished_at
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        values = (
            1,
            row.input_tokens,
            row.output_tokens,
            row.cost_micros,
            int(row.cost_source == "unpriced"),
        )
        for grain in (3600, 86400):
            key = (
                grain,
                int(moment.timestamp()) // grain,
                row.runtime,
                row.model or "",
                row.project_id or "",
                row.source,
                bool(row.simulated),
                row.status,
            )
            sums = found.get(key, (0,) * 5)
            found[key] = tuple(a + b for a, b in zip(sums, values, strict=True))
    return found
