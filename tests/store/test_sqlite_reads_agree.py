"""The plain-``sqlite3`` reads behind ``task list``/``show``/``runs`` and ``inbox`` answer exactly
what the repositories answer, for tasks in every state (filters, deleted tasks, runs with holds
and costs, events about other subjects, decided cards), never write, and step aside for a
database they cannot vouch for. SQLite only: that is what they read."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from storetools import claimed_run, new_task, queued_run

from stagent.domain.errors import NotFoundError
from stagent.domain.runs import RunStatus, Subject
from stagent.domain.tasks import TaskStatus
from stagent.store import approvals as approval_repo
from stagent.store import events as event_repo
from stagent.store import ledger as ledger_repo
from stagent.store import lifecycle
from stagent.store import owner as owner_repo
from stagent.store import projects as project_repo
from stagent.store import runs as run_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store
from stagent.store.migrate import VERSION_TABLE
from stagent.store.sqlite_reads import SqliteReads, open_sqlite_reads, sqlite_file


@pytest.fixture
def lite(sqlite_template: Path, tmp_path: Path) -> Iterator[Store]:
    """A store on a SQLite file at head with its owner enrolled."""
    path = tmp_path / "reads.sqlite"
    shutil.copyfile(sqlite_template, path)
    store = Store(f"sqlite:///{path}")
    with store.write() as session:
        owner_repo.enrol_owner(session, owner_repo.fingerprint("the person"))
    yield store
    store.dispose()


def reads(store: Store) -> SqliteReads:
    opened = open_sqlite_reads(store.url)
    assert opened is not None
    return opened


def populated(store: Store) -> dict[str, str]:
    """Tasks in every state, in two projects, with a deleted one: their ids by name."""
    with store.write() as session:
        web = project_repo.create(session, name="web", working_directory="/srv/web")
        project_repo.create(session, name="api", description="the API")
    ids = {"planned": new_task(store, "planned ✓", project_id=web.id)}
    ids["queued"] = queued_run(store, "queued")[0]
    running = claimed_run(store, "running")
    ids["running"] = running.task.id
    waiting = claimed_run(store, "waiting")
    ids["waiting"] = waiting.task.id
    with store.write() as session:
        lifecycle.suspend(session, waiting.run.id, "approval:a", reason="ask")
        lifecycle.suspend(session, waiting.run.id, "budget:b", reason="cap")
    for ending in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED):
        claim = claimed_run(store, ending.value)
        with store.write() as session:
            ledger_repo.insert(
                session,
                ledger_repo.NewLedgerEntry(
                    runtime="scripted",
                    task_id=claim.task.id,
                    run_id=claim.run.id,
                    cost_micros=1234,
                ),
            )
            lifecycle.finish(
                session, claim.run.id, ending, attempt=1, result="r", error="e", reason="why"
            )
        ids[ending.value] = claim.task.id
    with store.write() as session:  # run twice: two runs in its history
        lifecycle.queue_run(session, ids["failed"], running.run.options)
    gone = new_task(store, "deleted")
    with store.write() as session:
        task_repo.delete(session, gone)
        event_repo.append(
            session, None, "notice", {"message": "budget"}, subject=Subject("budget", "overall")
        )
        event_repo.append(session, ids["running"], "text", {"text": '日本語 "quoted"'})
    ids["deleted"] = gone
    return ids


def test_tasks_match_the_repository_field_for_field_with_every_filter(lite: Store) -> None:
    ids = populated(lite)
    fast = reads(lite)
    try:
        with lite.read() as session:
            assert fast.tasks() == task_repo.list_tasks(session)
            for status in TaskStatus:
                assert fast.tasks(status=status) == task_repo.list_tasks(session, status=status)
            web = project_repo.get(session, "web")
            by_project = task_repo.list_tasks(session, project_id=web.id)
        assert fast.tasks(project="web") == by_project == fast.tasks(project=web.id)
        assert [t.id for t in by_project] == [ids["planned"]]
        assert ids["deleted"] not in {t.id for t in fast.tasks()}
    finally:
        fast.close()


def test_each_task_its_runs_and_its_events_match(lite: Store) -> None:
    ids = populated(lite)
    fast = reads(lite)
    try:
        for name, task_id in ids.items():
            if name == "deleted":
                continue
            with lite.read() as session:
                assert fast.task(task_id) == task_repo.get(session, task_id), name
                assert fast.runs(task_id) == run_repo.for_task(session, task_id), name
                assert fast.events(task_id) == event_repo.for_task(session, task_id), name
        waiting = fast.runs(ids["waiting"])[0]
        assert waiting.waiting_on == ("approval:a", "budget:b")
        assert [r.status for r in fast.runs(ids["failed"])] == [
            RunStatus.FAILED,
            RunStatus.QUEUED,
        ]
        assert fast.runs(ids["completed"])[0].cost_micros == 1234
        assert fast.events(ids["running"])[-1].payload == {"text": '日本語 "quoted"'}
    finally:
        fast.close()


def test_a_deleted_or_unknown_task_is_not_found_as_in_the_repository(lite: Store) -> None:
    ids = populated(lite)
    fast = reads(lite)
    try:
        for task_id in (ids["deleted"], "tsk_unknown"):
            for read in (fast.task, fast.runs, fast.events):
                with pytest.raises(NotFoundError) as caught:
                    read(task_id)
                with lite.read() as session, pytest.raises(NotFoundError) as expected:
                    task_repo.get(session, task_id)
                assert caught.value.message == expected.value.message
                assert caught.value.hint == expected.value.hint
    finally:
        fast.close()


def test_pending_cards_and_projects_match(lite: Store) -> None:
    claim = claimed_run(lite)
    made = []
    for i in range(3):
        with lite.write() as session:
            made.append(
                approval_repo.create(
                    session,
                    task_id=claim.task.id,
                    run_id=claim.run.id,
                    project_id=None,
                    runtime="scripted",
                    profile=None,
                    tool="Bash",
                    tool_input={"command": f"step {i}"},
                    kind="permission",
                    risk="medium",
                    suggested_rule=f"Bash(step {i})",
                    why_asked="no rule",
                    expires_at=None,
                )
            )
    with lite.write() as session:
        approval_repo.decide(session, made[1].id, status="allowed", decided_by="me", decision={})
        project_repo.create(session, name="zeta")
        project_repo.create(session, name="alpha")
    fast = reads(lite)
    try:
        with lite.read() as session:
            assert fast.pending_approvals() == approval_repo.list_pending(session)
            assert fast.projects() == project_repo.list_all(session)
            assert fast.project("alpha") == project_repo.get(session, "alpha")
        assert [c.id for c in fast.pending_approvals()] == [made[0].id, made[2].id]
        with pytest.raises(NotFoundError, match="'nope'"):
            fast.project("nope")
        with pytest.raises(NotFoundError):
            fast.tasks(project="nope")
    finally:
        fast.close()


def test_the_plain_reads_cannot_write(lite: Store) -> None:
    task_id = new_task(lite)
    fast = reads(lite)
    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            fast._conn.execute("DELETE FROM tasks")  # pyright: ignore[reportPrivateUsage]
    finally:
        fast.close()
    with lite.read() as session:
        assert task_repo.get(session, task_id).title == "t"


def test_the_plain_reads_see_what_a_writer_committed_meanwhile(lite: Store) -> None:
    fast = reads(lite)
    try:
        assert fast.tasks() == []
        task_id = new_task(lite, "written after opening")
        assert [t.id for t in fast.tasks()] == [task_id]
    finally:
        fast.close()


def test_a_database_without_an_enrolled_owner_is_left_to_the_workspace(
    sqlite_template: Path, tmp_path: Path
) -> None:
    path = tmp_path / "nobody.sqlite"
    shutil.copyfile(sqlite_template, path)
    assert open_sqlite_reads(f"sqlite:///{path}") is None


def test_a_database_at_another_revision_is_left_to_the_workspace(lite: Store) -> None:
    with lite.write() as session:
        from sqlalchemy import text

        session.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '0016'"))
    assert open_sqlite_reads(lite.url) is None


def test_a_missing_or_foreign_file_is_left_to_the_workspace(tmp_path: Path) -> None:
    assert open_sqlite_reads(f"sqlite:///{tmp_path / 'absent.sqlite'}") is None
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE unrelated (x)")
    assert open_sqlite_reads(f"sqlite:///{other}") is None
    assert not (tmp_path / "absent.sqlite").exists()  # opening never creates the file


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:////home/me/ws.sqlite", "/home/me/ws.sqlite"),
        ("sqlite+pysqlite:////tmp/x.db", "/tmp/x.db"),
        ("sqlite:///relative.db", "relative.db"),
        ("sqlite:///:memory:", None),
        ("sqlite://", None),
        ("sqlite:////tmp/x.db?mode=ro", None),
        ("postgresql+psycopg://me@localhost/db", None),
    ],
)
def test_only_a_plain_sqlite_file_url_is_read_directly(url: str, expected: str | None) -> None:
    assert sqlite_file(url) == expected
