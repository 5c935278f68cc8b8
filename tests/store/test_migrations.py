"""The migrations: one linear chain with one head, every revision goes down and comes back up,
and a database written by an older Stagent keeps its data when it is upgraded (read back through
the repositories of today). On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from migrationtools import T0, at, at_head, down_to, seed, upgraded

from stagent.domain.schedules import FiringStatus
from stagent.domain.tasks import TaskStatus
from stagent.domain.workflow_runs import StepStatus, WorkflowStatus
from stagent.store import events as event_repo
from stagent.store import inbox as inbox_repo
from stagent.store import ledger as ledger_repo
from stagent.store import projects as project_repo
from stagent.store import schedules as schedule_repo
from stagent.store import tasks as task_repo
from stagent.store import workflows as workflow_repo
from stagent.store.migrate import VERSION_TABLE, alembic_config, current_revision, script_heads


def scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(sa.create_engine("sqlite://")))


# ------------------------------------------------------------------------------- the chain


def test_the_scripts_form_one_chain_with_one_head() -> None:
    directory = scripts()
    heads = directory.get_heads()
    assert len(heads) == 1, f"more than one head: {heads}; re-point a down_revision"
    assert script_heads() == frozenset(heads)  # the fast path reads the same head
    revisions = list(directory.walk_revisions())
    children: dict[str | None, list[str]] = {}
    for revision in revisions:
        down = revision.down_revision
        assert down is None or isinstance(down, str), f"{revision.revision} merges branches"
        children.setdefault(down, []).append(revision.revision)
    assert children[None] == ["0001"]  # one base
    assert all(len(kids) == 1 for kids in children.values()), children
    assert len(revisions) == len({r.revision for r in revisions})


def test_every_revision_has_a_downgrade_and_a_docstring() -> None:
    for revision in scripts().walk_revisions():
        module = revision.module
        assert callable(getattr(module, "downgrade", None)), revision.revision
        assert (revision.doc or "").strip(), f"{revision.revision} says nothing about itself"


def test_down_to_nothing_and_back_up_to_head(engine: sa.Engine) -> None:
    at(engine, "head")
    head = scripts().get_current_head()
    assert current_revision(engine) == head
    command.downgrade(alembic_config(engine), "base")
    left = set(sa.inspect(engine).get_table_names()) - {VERSION_TABLE}
    assert left == set()
    assert current_revision(engine) is None
    with at_head(engine) as store:
        assert current_revision(engine) == head
        with store.write() as session:
            task_repo.create(session, task_repo.NewTask(title="after the round trip"))
        with store.read() as session:
            assert [t.title for t in task_repo.list_tasks(session)] == ["after the round trip"]


def test_upgrading_twice_changes_nothing(engine: sa.Engine) -> None:
    with at_head(engine) as store:
        with store.write() as session:
            task_repo.create(session, task_repo.NewTask(title="kept"))
        store.upgrade()
        with store.read() as session:
            assert [t.title for t in task_repo.list_tasks(session)] == ["kept"]


# ------------------------------------------------------------------------------- old data


def test_a_first_version_database_keeps_its_projects_tasks_log_and_inbox(
    engine: sa.Engine,
) -> None:
    tables = at(engine, "0001")
    with engine.begin() as conn:
        seed(
            conn,
            tables["projects"],
            {
                "id": "prj_old",
                "name": "legacy",
                "description": "from the first version",
                "working_directory": "/srv/legacy",
            },
        )
        seed(
            conn,
            tables["tasks"],
            {
                "id": "tsk_old",
                "title": "an old task",
                "description": "still here?",
                "priority": 1,
                "project_id": "prj_old",
            },
        )
        seed(
            conn,
            tables["agent_events"],
            {"task_id": "tsk_old", "kind": "created", "payload": {"title": "an old task"}},
            {
                "task_id": "tsk_old",
                "payload": {"message": "remember me"},
                "created_at": T0 + timedelta(minutes=1),
            },
        )
        seed(conn, tables["inbox_items"], {"id": "inb_old", "title": "hello from before"})
    with at_head(engine) as store:
        with store.read() as session:
            project = project_repo.get(session, "legacy")
            task = task_repo.get(session, "tsk_old")
            log = event_repo.for_task(session, "tsk_old")
            [item] = inbox_repo.list_items(session)
        assert project.id == "prj_old" and project.working_directory == "/srv/legacy"
        assert task.title == "an old task" and task.description == "still here?"
        assert task.status is TaskStatus.PLANNED and task.project_id == "prj_old"
        assert task.priority == 1 and task.created_at == T0
        assert [(e.kind, e.payload) for e in log] == [
            ("created", {"title": "an old task"}),
            ("note", {"message": "remember me"}),
        ]
        assert all(e.subject.kind == "task" and e.subject.id == "tsk_old" for e in log)
        assert item.title == "hello from before" and not item.read
        with store.write() as session:  # and it is a working database
            from stagent.domain.run_options import RunOptions
            from stagent.store import lifecycle

            _, run = lifecycle.queue_run(session, "tsk_old", RunOptions(runtime="scripted"))
        assert run is not None and run.number == 1


def test_ledger_rows_written_before_the_running_totals_are_counted_after(
    engine: sa.Engine,
) -> None:
    """0018 adds ``spend_totals``: spend booked before it must still count toward budgets."""
    tables = at(engine, "0016")
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [
        ("use_a", "claude", 1_000, now - timedelta(minutes=5), "run", False),
        ("use_b", "codex", 2_000, now - timedelta(hours=1), "run", False),
        ("use_c", "claude", 40_000, now - timedelta(minutes=3), "run", True),  # simulated
        ("use_d", "claude", 80_000, now - timedelta(minutes=2), "import:codex", False),
        ("use_e", "claude", 500, now - timedelta(days=40), "run", False),  # long ago
    ]
    with engine.begin() as conn:
        for ident, runtime, cost, when, source, simulated in rows:
            row = {"id": ident, "runtime": runtime, "cost_micros": cost, "at": when}
            seed(conn, tables["usage_ledger"], {**row, "source": source, "simulated": simulated})
    with at_head(engine) as store:
        day = now.replace(hour=0, minute=0, second=0) - timedelta(days=1)
        queries = [
            ledger_repo.SpendQuery("overall", "", day),
            ledger_repo.SpendQuery("runtime", "claude", day),
            ledger_repo.SpendQuery("runtime", "codex", day),
            ledger_repo.SpendQuery("overall", "", now - timedelta(days=60)),
        ]
        with store.read() as session:
            totals = [s.total for s in ledger_repo.spend(session, queries)]
        assert totals == [3_000, 1_000, 2_000, 3_500]
        with store.write() as session:  # and new rows keep them
            ledger_repo.insert(
                session, ledger_repo.NewLedgerEntry(runtime="claude", cost_micros=7, at=now)
            )
        with store.read() as session:
            assert ledger_repo.spend(session, queries[:1])[0].total == 3_007


def test_going_back_below_the_running_totals_and_up_again_rebuilds_them(
    engine: sa.Engine,
) -> None:
    store = upgraded(engine)
    now = datetime.now(UTC).replace(microsecond=0)
    day = now.replace(hour=0, minute=0, second=0)
    try:
        with store.write() as session:
            for cost in (10, 20, 30):
                ledger_repo.insert(
                    session, ledger_repo.NewLedgerEntry(runtime="claude", cost_micros=cost, at=now)
                )
    finally:
        store.dispose()
    command.downgrade(alembic_config(engine), "0016")
    assert "spend_totals" not in sa.inspect(engine).get_table_names()
    with at_head(engine) as store:
        with store.read() as session:
            [spent] = ledger_repo.spend(session, [ledger_repo.SpendQuery("overall", "", day)])
            kept = ledger_repo.list_entries(session, ledger_repo.LedgerFilter())
        assert spent.total == 60 and len(kept) == 3


def test_schedules_and_firings_from_before_the_workflow_link_are_kept(engine: sa.Engine) -> None:
    tables = at(engine, "0015")
    with engine.begin() as conn:
        seed(
            conn,
            tables["schedules"],
            {
                "id": "sch_old",
                "name": "nightly",
                "prompt": "tidy up",
                "cron": "0 3 * * *",
                "timing_source": "at 3am",
                "firing_count": 1,
                "next_fire_at": T0 + timedelta(days=1),
            },
        )
        seed(
            conn,
            tables["schedule_firings"],
            {
                "id": "fir_old_1",
                "schedule_id": "sch_old",
                "occurrence_at": T0,
                "status": "skipped",
                "reason": "an earlier run was busy",
                "decided_at": T0,
            },
        )
    with at_head(engine) as store:
        with store.read() as session:
            sched = schedule_repo.get(session, "nightly")
            [firing] = schedule_repo.firings(session, "sch_old")
        assert sched.timing.cron == "0 3 * * *" and sched.target.prompt == "tidy up"
        assert sched.firing_count == 1 and sched.next_fire_at == T0 + timedelta(days=1)
        assert firing.status is FiringStatus.SKIPPED and firing.reason == "an earlier run was busy"
        assert firing.workflow_id is None and firing.workflow_run is None


def seed_built_release(
    conn: sa.Connection, tables: dict[str, sa.Table], definition: dict[str, Any]
) -> None:
    """An old schema's workflow ``wf_old`` ("release") whose step ``build`` output "built"."""
    seed(conn, tables["workflows"], {"id": "wf_old", "name": "release", "definition": definition})
    seed(
        conn,
        tables["workflow_steps"],
        {"id": "wfs_old", "workflow_id": "wf_old", "step_key": "build", "output": "built"},
    )


def test_workflows_from_before_run_time_steps_keep_their_step_rows(engine: sa.Engine) -> None:
    tables = at(engine, "0014")
    definition: dict[str, Any] = {
        "name": "release",
        "pattern": "sequence",
        "steps": [{"id": "build", "name": "Build", "prompt": "build it"}],
    }
    with engine.begin() as conn:
        seed_built_release(conn, tables, definition)
    with at_head(engine) as store:
        with store.read() as session:
            flow = workflow_repo.get(session, "wf_old")
        [step] = flow.steps
        assert flow.name == "release" and flow.run_count == 1
        assert (step.key, step.status, step.output, step.name) == (
            "build",
            StepStatus.COMPLETED,
            "built",
            None,
        )


def test_foreign_keys_are_enforced_again_once_migrations_ran(tmp_path: Path) -> None:
    """Migrations run with SQLite's foreign keys off (a table rebuild must not cascade);
    the connection goes back to the pool with them on."""
    from stagent.store.engine import build_engine

    engine = build_engine(f"sqlite:///{tmp_path / 'fk.sqlite'}")
    try:
        command.upgrade(alembic_config(engine), "head")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            with pytest.raises(sa.exc.IntegrityError):
                conn.exec_driver_sql(
                    "INSERT INTO runs (id, subject_kind, subject_id, task_id, number, runtime,"
                    " options, status, attempt, waiting_on, cost_micros, created_at) VALUES"
                    " ('run_x', 'task', 'tsk_none', 'tsk_none', 1, 'scripted', '{}', 'queued',"
                    " 0, '[]', 0, '2026-12-01 00:00:00')"
                )
    finally:
        engine.dispose()


def test_events_reference_their_task_on_sqlite_only_from_0024(engine: sa.Engine) -> None:
    """0024 drops ``agent_events``' foreign key to ``tasks`` on PostgreSQL (the hot path's
    check locked the task row once per batch); SQLite keeps it. Going down to 0023 brings it
    back, with ``ON DELETE CASCADE``."""

    def task_keys() -> list[Any]:
        keys = sa.inspect(engine).get_foreign_keys("agent_events")
        return [key for key in keys if key["referred_table"] == "tasks"]

    at(engine, "head")
    expected = 1 if engine.dialect.name == "sqlite" else 0
    assert len(task_keys()) == expected
    command.downgrade(alembic_config(engine), "0023")
    keys = task_keys()
    assert len(keys) == 1 and keys[0]["options"].get("ondelete") == "CASCADE"
    at(engine, "head")
    assert len(task_keys()) == expected


def test_runs_from_before_0025_show_the_stored_definition_and_later_runs_keep_theirs(
    engine: sa.Engine,
) -> None:
    """A run started before runs kept their definition has no copy: it shows (and a retry of it
    runs) the stored definition, as before. A run started at head keeps its copy through an
    edit; going below 0025 drops the copies (the stored definitions stay) and back up the
    workflow reads as before 0025; deleting a workflow deletes its copies."""
    from stagent.domain.workflows import WorkflowDefinition

    def flow(prompt: str) -> dict[str, Any]:
        steps = [{"id": "build", "name": "Build", "prompt": prompt}]
        return {"name": "release", "pattern": "sequence", "steps": steps}

    tables = at(engine, "0024")
    with engine.begin() as conn:
        seed_built_release(conn, tables, flow("a"))
    with at_head(engine) as store:
        with store.read() as session:
            old = workflow_repo.get(session, "wf_old")
        assert old.definition.steps[0].prompt == "a" and old.edited is None
        with store.write() as session:
            row = workflow_repo.get_row(session, "wf_old", for_update=True)
            workflow_repo.begin_run(session, row)  # run 2 keeps "a"
            edit = WorkflowDefinition.model_validate(flow("b"))
            workflow_repo.replace_definition(session, row, edit, None)
        with store.read() as session:
            kept = workflow_repo.get(session, "wf_old")
            assert workflow_repo.run_copy(session, "wf_old", 1) is None
        assert kept.run_count == 2 and kept.definition.steps[0].prompt == "a"
        assert kept.edited is not None and kept.edited.steps[0].prompt == "b"

    assert "workflow_run_definitions" not in down_to(engine, "0024")
    with at_head(engine) as store:
        with store.read() as session:
            back = workflow_repo.get(session, "wf_old")
        assert back.definition.steps[0].prompt == "b" and back.edited is None
        with store.write() as session:
            row = workflow_repo.get_row(session, "wf_old", for_update=True)
            workflow_repo.end(session, row, WorkflowStatus.COMPLETED, None)
            workflow_repo.begin_run(session, row)
        with store.write() as session:
            session.execute(sa.text("DELETE FROM workflows WHERE id = 'wf_old'"))
        with store.read() as session:
            left = session.scalar(sa.text("SELECT count(*) FROM workflow_run_definitions"))
        assert left == 0
