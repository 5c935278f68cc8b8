"""Tasks and projects as the store keeps them: created, found, edited, listed, counted and
deleted, with the change feed recording each; bad references are clear errors. On SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from storetools import claimed_run, new_task, queued_run

from stagent.domain.errors import ConflictError, NotFoundError
from stagent.domain.events import TextEvent
from stagent.domain.run_options import RunOptions
from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.engine.run_writer import RunWriter
from stagent.store import events as event_repo
from stagent.store import lifecycle
from stagent.store import projects as project_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store


def feed_kinds(store: Store, task_id: str) -> list[str]:
    with store.read() as session:
        return [e.kind for e in event_repo.for_task(session, task_id)]


# ------------------------------------------------------------------------------- tasks


def test_a_new_task_is_planned_with_its_fields_and_a_created_event(store: Store) -> None:
    with store.write() as session:
        task = task_repo.create(
            session,
            task_repo.NewTask(
                title="fix the login bug",
                description="users see a 500",
                runtime="claude",
                profile="code-reviewer",
                priority=0,
            ),
        )
    assert task.id.startswith("tsk_")
    with store.read() as session:
        loaded = task_repo.get(session, task.id)
        [created] = event_repo.for_task(session, task.id)
    assert (loaded.title, loaded.description) == ("fix the login bug", "users see a 500")
    assert (loaded.runtime, loaded.profile, loaded.priority) == ("claude", "code-reviewer", 0)
    assert loaded.status is TaskStatus.PLANNED and loaded.run_count == 0
    assert loaded.options.runtime == "claude"
    assert loaded.started_at is None and loaded.finished_at is None
    assert created.kind == "created"
    assert created.payload == {"title": "fix the login bug", "runtime": "claude"}
    assert created.subject.kind == "task" and created.subject.id == task.id


def test_text_a_person_typed_comes_back_exactly(store: Store) -> None:
    title = "Ünïcödé ✓ 'quotes' \"double\" -- ; DROP TABLE tasks; 日本語"
    description = "line one\nline two\n\ttabbed\n" + "x" * 5000
    with store.write() as session:
        task = task_repo.create(session, task_repo.NewTask(title=title, description=description))
    with store.read() as session:
        loaded = task_repo.get(session, task.id)
        assert task_repo.list_tasks(session)[0].title == title
    assert loaded.title == title and loaded.description == description


def test_a_missing_task_is_a_not_found_error_with_a_hint(store: Store) -> None:
    with store.read() as session:
        with pytest.raises(NotFoundError, match="tsk_nothing") as caught:
            task_repo.get(session, "tsk_nothing")
        assert caught.value.hint == "list tasks with `stagent task list`"
        with pytest.raises(NotFoundError):
            task_repo.runtime_of(session, "tsk_nothing")
        assert task_repo.status_of(session, "tsk_nothing") is None


def test_tasks_list_newest_first_and_filter_by_status_and_project(store: Store) -> None:
    with store.write() as session:
        project = project_repo.create(session, name="web")
    first = new_task(store, "first", project_id=project.id)
    second = new_task(store, "second")
    third = new_task(store, "third", project_id=project.id)
    with store.write() as session:
        lifecycle.queue_run(session, third, RunOptions(runtime="scripted"))
    with store.read() as session:
        everything = [t.id for t in task_repo.list_tasks(session)]
        in_project = [t.id for t in task_repo.list_tasks(session, project_id=project.id)]
        planned = [t.id for t in task_repo.list_tasks(session, status=TaskStatus.PLANNED)]
        queued = task_repo.list_tasks(session, status=TaskStatus.QUEUED, project_id=project.id)
        limited = task_repo.list_tasks(session, limit=2)
    assert set(everything) == {first, second, third} and len(everything) == 3
    assert set(in_project) == {first, third}
    assert set(planned) == {first, second}
    assert [t.id for t in queued] == [third]
    assert len(limited) == 2


def test_a_list_orders_tasks_created_together_stably(store: Store) -> None:
    with store.write() as session:
        ids = [task_repo.create(session, task_repo.NewTask(title=f"t{i}")).id for i in range(6)]
    with store.read() as session:
        once = [t.id for t in task_repo.list_tasks(session)]
        twice = [t.id for t in task_repo.list_tasks(session)]
    assert sorted(once) == sorted(ids) and once == twice


def test_editing_logs_only_the_fields_that_changed(store: Store) -> None:
    task_id = new_task(store, "old title")
    with store.write() as session:
        edited = task_repo.update_fields(
            session, task_id, {"title": "new title", "priority": 2, "description": "more"}
        )
    assert edited.title == "new title" and edited.description == "more"
    with store.read() as session:
        last = event_repo.for_task(session, task_id)[-1]
    assert last.kind == "updated"
    assert sorted(last.payload["fields"]) == ["description", "title"]  # priority was already 2


def test_an_edit_that_changes_nothing_logs_nothing(store: Store) -> None:
    task_id = new_task(store, "same")
    with store.write() as session:
        task_repo.update_fields(session, task_id, {"title": "same", "priority": 2})
    assert feed_kinds(store, task_id) == ["created"]


def test_editing_options_stores_them_for_the_next_run(store: Store) -> None:
    task_id = new_task(store)
    options = RunOptions.model_validate(
        {"runtime": "scripted", "model": "m-9", "instructions": "be brief"}
    )
    with store.write() as session:
        task_repo.update_fields(session, task_id, {"options": options})
    with store.read() as session:
        loaded = task_repo.get(session, task_id)
    assert loaded.options.model == "m-9" and loaded.options.instructions == "be brief"
    assert feed_kinds(store, task_id)[-1] == "updated"


def test_editing_a_missing_task_is_not_found_and_writes_nothing(store: Store) -> None:
    with pytest.raises(NotFoundError), store.write() as session:
        task_repo.update_fields(session, "tsk_missing", {"title": "x"})
    with store.read() as session:
        assert event_repo.last_seq(session) == 0


def test_a_deleted_task_disappears_everywhere_but_its_log(store: Store) -> None:
    task_id = new_task(store, "to delete")
    with store.write() as session:
        task_repo.delete(session, task_id)
    with store.read() as session:
        assert task_repo.list_tasks(session) == []
        assert task_repo.active_refs(session) == []
        with pytest.raises(NotFoundError):
            task_repo.get(session, task_id)
        with pytest.raises(NotFoundError):
            task_repo.runtime_of(session, task_id)
        assert task_repo.get_row(session, task_id, deleted=True).title == "to delete"
    assert feed_kinds(store, task_id) == ["created", "deleted"]
    with pytest.raises(NotFoundError), store.write() as session:
        task_repo.delete(session, task_id)  # deleting twice: it is gone


def test_deleting_tasks_and_projects_leaves_no_event_naming_a_missing_task(store: Store) -> None:
    """``agent_events.task_id`` has no foreign key on PostgreSQL (0024): no delete may remove
    a task row its events name. A deleted task keeps its row and its whole log, the run's
    batches (written on the hot path) included; a deleted project keeps its tasks."""
    with store.write() as session:
        project = project_repo.create(session, name="doomed")
    task_id = new_task(store, "with a log", project_id=project.id)
    with store.write() as session:
        lifecycle.queue_run(session, task_id, RunOptions(runtime="scripted"))
    with store.write() as session:
        claim = lifecycle.claim(session, task_id, 1)
    assert claim is not None
    assert RunWriter(store, task_id, claim.run).record(TextEvent(text="streamed"))
    with store.write() as session:
        lifecycle.finish(session, claim.run.id, RunStatus.COMPLETED, attempt=1, task_id=task_id)
    with store.write() as session:
        project_repo.delete(session, "doomed")
        task_repo.delete(session, task_id)
    kinds = feed_kinds(store, task_id)
    assert "text" in kinds and kinds[-1] == "deleted"
    with store.read() as session:
        orphans = session.execute(
            text(
                "SELECT count(*) FROM agent_events AS e LEFT JOIN tasks AS t ON t.id = e.task_id"
                " WHERE e.task_id IS NOT NULL AND t.id IS NULL"
            )
        ).scalar_one()
    assert orphans == 0


def test_runtime_and_status_reads_answer_from_one_column(store: Store) -> None:
    claim = claimed_run(store)
    planned = new_task(store)
    with store.read() as session:
        assert task_repo.runtime_of(session, claim.task.id) == "scripted"
        assert task_repo.status_of(session, claim.task.id) is TaskStatus.RUNNING
        assert task_repo.statuses(session, [planned, claim.task.id, "tsk_x"]) == {
            planned: TaskStatus.PLANNED,
            claim.task.id: TaskStatus.RUNNING,
        }
        assert task_repo.statuses(session, []) == {}


def test_active_refs_name_every_queued_running_and_waiting_task(store: Store) -> None:
    queued_id, queued = queued_run(store, "q")
    running = claimed_run(store, "r")
    waiting = claimed_run(store, "w")
    ended = claimed_run(store, "e")
    new_task(store, "p")
    with store.write() as session:
        lifecycle.suspend(session, waiting.run.id, "approval:a", reason="ask")
        lifecycle.finish(session, ended.run.id, RunStatus.COMPLETED, attempt=1)
    with store.read() as session:
        refs = {r.task_id: r for r in task_repo.active_refs(session)}
    assert set(refs) == {queued_id, running.task.id, waiting.task.id}
    assert refs[queued_id].status is TaskStatus.QUEUED
    assert refs[queued_id].workflow_id == queued.workflow_id and refs[queued_id].run_count == 1
    assert refs[waiting.task.id].status is TaskStatus.WAITING


def test_session_id_is_cleared_when_a_new_run_is_queued(store: Store) -> None:
    from stagent.store import run_writes

    claim = claimed_run(store)
    with store.write_connection() as conn:
        run_writes.set_session(conn, claim.task.id, "sess-1")
    with store.read() as session:
        assert task_repo.get(session, claim.task.id).session_id == "sess-1"
    with store.write() as session:
        lifecycle.finish(session, claim.run.id, RunStatus.COMPLETED, attempt=1)
        task, _ = lifecycle.queue_run(session, claim.task.id, RunOptions(runtime="scripted"))
    assert task.session_id is None


def test_timestamps_come_back_timezone_aware(store: Store) -> None:
    claim = claimed_run(store)
    with store.write() as session:
        lifecycle.finish(session, claim.run.id, RunStatus.COMPLETED, attempt=1)
    with store.read() as session:
        task = task_repo.get(session, claim.task.id)
    for value in (task.created_at, task.updated_at, task.started_at, task.finished_at):
        assert value is not None and value.utcoffset() is not None


# ------------------------------------------------------------------------------- projects


def test_a_project_keeps_its_fields_and_is_found_by_id_or_name(store: Store) -> None:
    with store.write() as session:
        created = project_repo.create(
            session, name="site", description="the website", working_directory="/srv/site"
        )
    assert created.id.startswith("prj_")
    with store.read() as session:
        by_id = project_repo.get(session, created.id)
        by_name = project_repo.get(session, "site")
    assert by_id == by_name
    assert (by_id.description, by_id.working_directory) == ("the website", "/srv/site")
    assert by_id.created_at.utcoffset() is not None


def test_a_duplicate_project_name_is_a_conflict_and_the_first_stays(store: Store) -> None:
    with store.write() as session:
        first = project_repo.create(session, name="dup", description="one")
    with (
        pytest.raises(ConflictError, match="'dup' already exists") as caught,
        store.write() as session,
    ):
        project_repo.create(session, name="dup", description="two")
    assert caught.value.hint == "pick another name"
    with store.read() as session:
        assert [p.id for p in project_repo.list_all(session)] == [first.id]
        assert project_repo.get(session, "dup").description == "one"


def test_project_names_differing_in_case_are_distinct(store: Store) -> None:
    with store.write() as session:
        project_repo.create(session, name="api")
        project_repo.create(session, name="API")
    with store.read() as session:
        assert sorted(p.name for p in project_repo.list_all(session)) == ["API", "api"]


def test_projects_list_by_name(store: Store) -> None:
    with store.write() as session:
        for name in ("zeta", "alpha", "mid"):
            project_repo.create(session, name=name)
    with store.read() as session:
        assert [p.name for p in project_repo.list_all(session)] == ["alpha", "mid", "zeta"]


def test_task_counts_group_live_tasks_by_project_and_status(store: Store) -> None:
    with store.write() as session:
        a = project_repo.create(session, name="a")
        b = project_repo.create(session, name="b")
    for _ in range(2):
        new_task(store, project_id=a.id)
    gone = new_task(store, project_id=a.id)
    queued = new_task(store, project_id=b.id)
    new_task(store)  # no project: not counted
    with store.write() as session:
        task_repo.delete(session, gone)
        lifecycle.queue_run(session, queued, RunOptions(runtime="scripted"))
    with store.read() as session:
        assert project_repo.task_counts(session) == {a.id: {"planned": 2}, b.id: {"queued": 1}}


def test_deleting_a_project_keeps_its_tasks_detached(store: Store) -> None:
    with store.write() as session:
        project = project_repo.create(session, name="old")
    task_id = new_task(store, project_id=project.id)
    with store.write() as session:
        project_repo.delete(session, "old")
    with store.read() as session:
        assert project_repo.list_all(session) == []
        assert task_repo.get(session, task_id).project_id is None
        assert project_repo.task_counts(session) == {}


def test_deleting_a_missing_project_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="'nope'") as caught, store.write() as session:
        project_repo.delete(session, "nope")
    assert "project list" in (caught.value.hint or "")


def test_a_task_cannot_name_a_project_that_does_not_exist(store: Store) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), store.write() as session:
        task_repo.create(session, task_repo.NewTask(title="t", project_id="prj_missing"))
    with store.read() as session:
        assert task_repo.list_tasks(session) == []
        assert event_repo.last_seq(session) == 0
