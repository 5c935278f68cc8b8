"""The store behaves the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from stagent.domain.errors import (
    ConflictError,
    DatabaseUnavailableError,
    InvalidTransitionError,
    NotFoundError,
)
from stagent.domain.run_options import parse_run_options
from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.store import events as event_repo
from stagent.store import lifecycle
from stagent.store import projects as project_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store
from stagent.store.migrate import alembic_config, current_revision


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
    store = Store(url)
    store.upgrade()
    yield store
    store.dispose()


def test_migrations_are_idempotent_and_reach_head(store: Store) -> None:
    store.upgrade()
    head = ScriptDirectory.from_config(alembic_config(store.engine)).get_current_head()
    assert head is not None
    assert current_revision(store.engine) == head


def test_project_names_are_unique(store: Store) -> None:
    with store.write() as session:
        project_repo.create(session, name="alpha")
    with pytest.raises(ConflictError, match="alpha"), store.write() as session:
        project_repo.create(session, name="alpha")


def test_project_found_by_id_or_name(store: Store) -> None:
    with store.write() as session:
        created = project_repo.create(session, name="beta", working_directory="/tmp")
    with store.read() as session:
        assert project_repo.get(session, "beta").id == created.id
        assert project_repo.get(session, created.id).working_directory == "/tmp"
        with pytest.raises(NotFoundError):
            project_repo.get(session, "gamma")


def test_task_round_trip_keeps_fields_and_aware_timestamps(store: Store) -> None:
    with store.write() as session:
        project = project_repo.create(session, name="p")
        task = task_repo.create(
            session,
            task_repo.NewTask(
                title="write docs",
                description="all of them",
                project_id=project.id,
                priority=1,
                options=parse_run_options({"scripted": {"scenario": {"steps": [{"text": "x"}]}}}),
            ),
        )
    with store.read() as session:
        loaded = task_repo.get(session, task.id)
    assert loaded.title == "write docs"
    assert loaded.status is TaskStatus.PLANNED
    assert loaded.options.scripted is not None
    assert loaded.options.scripted.scenario == {"steps": [{"text": "x"}]}
    assert loaded.created_at is not None and loaded.created_at.tzinfo is not None
    with store.read() as session:
        assert project_repo.task_counts(session) == {project.id: {"planned": 1}}


def test_transitions_are_checked_and_logged_in_the_same_transaction(store: Store) -> None:
    with store.write() as session:
        task = task_repo.create(session, task_repo.NewTask(title="t"))
    with store.write() as session:
        _, run = lifecycle.queue_run(session, task.id, task.options)
    assert run is not None
    with pytest.raises(InvalidTransitionError), store.write() as session:
        lifecycle.finish(session, run.id, RunStatus.WAITING)
    with store.read() as session:
        logged = event_repo.for_task(session, task.id)
        assert task_repo.get(session, task.id).status is TaskStatus.QUEUED
    assert [e.kind for e in logged] == ["created", "status"]
    assert logged[1].payload == {"from": "planned", "to": "queued", "run": 1}
    assert logged[1].run_id == run.id


def test_event_seq_is_a_workspace_wide_change_feed(store: Store) -> None:
    with store.write() as session:
        first = task_repo.create(session, task_repo.NewTask(title="a"))
        second = task_repo.create(session, task_repo.NewTask(title="b"))
        event_repo.append(session, first.id, "text", {"text": "hello"})
    with store.read() as session:
        feed = event_repo.since(session, 0)
        assert [e.task_id for e in feed] == [first.id, second.id, first.id]
        seqs = [e.seq for e in feed]
        assert seqs == sorted(seqs) and len(set(seqs)) == 3
        assert event_repo.last_seq(session) == seqs[-1]
        assert [e.kind for e in event_repo.since(session, seqs[0])] == ["created", "text"]


def test_deleting_a_task_hides_it_and_leaves_a_tombstone_in_the_feed(store: Store) -> None:
    with store.write() as session:
        task = task_repo.create(session, task_repo.NewTask(title="a"))
    with store.write() as session:
        task_repo.delete(session, task.id)
    with store.read() as session:
        assert task_repo.list_tasks(session) == []
        with pytest.raises(NotFoundError):
            task_repo.get(session, task.id)
        feed = event_repo.since(session, 0)
    assert [e.kind for e in feed] == ["created", "deleted"]
    assert feed[-1].payload == {"title": "a"}


def test_write_rings_the_change_signal(store: Store) -> None:
    before = store.changes.version
    with store.write() as session:
        task_repo.create(session, task_repo.NewTask(title="a"))
    assert store.changes.version == before + 1


def test_sqlite_pragmas_are_set_on_every_connection(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'p.sqlite'}")
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1
    store.dispose()


def test_unreachable_database_is_one_clear_line() -> None:
    store = Store("postgresql://nobody:secret@127.0.0.1:1/nothing")
    with pytest.raises(DatabaseUnavailableError) as caught:
        store.check_connection()
    message = caught.value.message
    assert message.startswith("cannot open database postgresql+psycopg://nobody:***@127.0.0.1:1")
    assert "secret" not in message
    assert "\n" not in message


def test_a_commit_by_another_process_wakes_waiters(store: Store) -> None:
    """Nothing but the watcher rings this store's notifier here, and watching has begun by the
    time `watch_other_processes` returns: a commit made right after is heard, with no sleep."""
    other = Store(store.url)
    store.watch_other_processes()
    seen = store.changes.version
    with other.write() as session:
        task_repo.create(session, task_repo.NewTask(title="from elsewhere"))
    woke = store.changes.wait(seen, timeout=30)
    other.dispose()
    assert woke != seen
