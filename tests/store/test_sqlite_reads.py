"""Plain-sqlite3 reads give exactly what the repositories give, and step aside when they cannot.

``stagent task list``/``show``/``runs`` read through `stagent.store.sqlite_reads` on a SQLite file
at the newest migration; a field mapped differently there would show a user different tasks
than the Board (which reads through the ORM), so every value is compared on one database.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from stagent.domain.errors import NotFoundError
from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.governance.approvals import ApprovalDraft
from stagent.reads import WorkspaceReader
from stagent.store.sqlite_reads import SqliteReads, open_sqlite_reads
from stagent.workspace import Workspace

SCENARIO = {
    "name": "two steps",
    "steps": [
        {"text": "Looking."},
        {"usage": {"model": "scripted-1", "input_tokens": 10, "output_tokens": 5}},
    ],
    "result": "Done.",
}


def fast(ws: Workspace) -> SqliteReads:
    reads = open_sqlite_reads(ws.store.url)
    assert reads is not None, "a migrated SQLite file must be readable without SQLAlchemy"
    return reads


def test_every_task_run_event_and_project_field_matches_the_orm(worker: Workspace) -> None:
    project = worker.projects.create("site", description="the web site", directory="/tmp")
    done = worker.tasks.create(
        TaskDraft(
            title="ran",
            description="a task that ran",
            project=project.name,
            priority=1,
            scenario=SCENARIO,
            options={"model": "m-1", "limits": {"max_turns": 3}},
        )
    )
    worker.tasks.run(done.id)
    assert worker.tasks.wait(done.id, timeout=30).status is TaskStatus.COMPLETED
    worker.tasks.create(TaskDraft(title="planned, no project"))
    deleted = worker.tasks.create(TaskDraft(title="gone"))
    worker.tasks.delete(deleted.id)

    orm, plain = WorkspaceReader(worker), fast(worker)
    assert plain.tasks() == orm.tasks() and len(plain.tasks()) == 2
    assert plain.tasks(project="site") == orm.tasks(project="site") == [orm.task(done.id)]
    assert plain.tasks(project=project.id) == orm.tasks(project=project.id)
    for status in TaskStatus:
        assert plain.tasks(status=status) == orm.tasks(status=status)
    assert plain.task(done.id) == orm.task(done.id)
    assert plain.runs(done.id) == orm.runs(done.id) and plain.runs(done.id)[0].ended_at
    assert plain.events(done.id) == orm.events(done.id) and len(plain.events(done.id)) > 3
    assert plain.projects() == orm.projects() == [project]
    assert plain.project("site") == orm.project(project.id)
    assert plain.task_counts() == orm.task_counts() == {project.id: {"completed": 1}}


def test_pending_cards_match_the_approval_service(workspace: Workspace) -> None:
    task = workspace.tasks.create(TaskDraft(title="asks"))
    for command in ("npm test", "rm -rf build"):
        workspace.approvals.open(
            ApprovalDraft(
                task_id=task.id,
                runtime="scripted",
                tool="Bash",
                input={"command": command},
                suggested_rule=f"Bash({command})",
                why_asked="no rule matched",
            )
        )
    first = workspace.approvals.list_pending()[0]
    workspace.approvals.deny(first.id, by="tester", message="not now")
    pending = fast(workspace).pending_approvals()
    assert pending == workspace.approvals.list_pending()
    assert [card.input["command"] for card in pending] == ["rm -rf build"]
    assert pending[0].decision == {"why_asked": "no rule matched"} and pending[0].expires_at


def test_unknown_ids_fail_the_same_way(workspace: Workspace) -> None:
    gone = workspace.tasks.create(TaskDraft(title="gone"))
    workspace.tasks.delete(gone.id)
    plain = fast(workspace)
    for task_id in ("tsk_nope", gone.id):
        with pytest.raises(NotFoundError) as orm_error:
            WorkspaceReader(workspace).task(task_id)
        with pytest.raises(NotFoundError) as plain_error:
            plain.runs(task_id)
        assert str(plain_error.value) == str(orm_error.value)
    with pytest.raises(NotFoundError, match="no project with id or name 'nope'"):
        plain.tasks(project="nope")


def test_a_database_it_cannot_vouch_for_is_left_to_the_workspace(tmp_path: Path) -> None:
    assert open_sqlite_reads(f"sqlite:///{tmp_path / 'missing.sqlite'}") is None
    assert not (tmp_path / "missing.sqlite").exists()  # reading never creates the file
    assert open_sqlite_reads("postgresql+psycopg://127.0.0.1/test") is None
    assert open_sqlite_reads("sqlite://") is None
    older = tmp_path / "older.sqlite"
    with sqlite3.connect(older) as conn:  # a file an older Stagent left: migrations pending
        conn.execute("CREATE TABLE stagent_alembic_version (version_num VARCHAR(32))")
        conn.execute("INSERT INTO stagent_alembic_version VALUES ('0001')")
    assert open_sqlite_reads(f"sqlite:///{older}") is None


def test_the_plain_path_loads_no_sqlalchemy(workspace: Workspace) -> None:
    workspace.tasks.create(TaskDraft(title="listed"))
    probe = (
        "import sys\n"
        "from stagent.store.sqlite_reads import open_sqlite_reads\n"
        f"reads = open_sqlite_reads({workspace.store.url!r})\n"
        "print([t.title for t in reads.tasks()], 'sqlalchemy' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.strip() == "['listed'] False", done.stderr
