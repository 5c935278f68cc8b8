"""The event log is the change feed: every change is an event in the same transaction, ``seq`` is
workspace-wide, gap-free for a reader tailing it, and in commit order; a run's hot-path events are
fenced by its attempt; secrets never reach a payload. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from storetools import claimed_run, new_task

from stagent.domain.events import MAX_SEQ
from stagent.domain.runs import RunStatus, Subject
from stagent.store import events as event_repo
from stagent.store import lifecycle, run_writes
from stagent.store import tasks as task_repo
from stagent.store.database import Store
from stagent.store.tables import FeedOutboxRow


def feed(store: Store, after: int = 0) -> list[tuple[str | None, str]]:
    with store.read() as session:
        return [(e.task_id, e.kind) for e in event_repo.since(session, after, limit=10_000)]


def append(store: Store, task_id: str, text: str) -> None:
    with store.write() as session:
        event_repo.append(session, task_id, "text", {"text": text})


# ------------------------------------------------------------------------------- the log


def test_an_event_names_its_task_run_and_subject(store: Store) -> None:
    claim = claimed_run(store)
    with store.write() as session:
        event_repo.append(
            session, claim.task.id, "tool_call", {"name": "Bash"}, run_id=claim.run.id
        )
    with store.read() as session:
        [event] = [e for e in event_repo.for_run(session, claim.run.id) if e.kind == "tool_call"]
    assert event.task_id == claim.task.id and event.run_id == claim.run.id
    assert event.subject == Subject("task", claim.task.id)
    assert event.payload == {"name": "Bash"} and event.created_at.utcoffset() is not None


def test_an_event_about_no_task_names_another_subject(store: Store) -> None:
    with store.write() as session:
        event_repo.append(
            session,
            None,
            "notice",
            {"message": "80% of the daily budget"},
            subject=Subject("budget", "overall"),
        )
    with store.read() as session:
        [event] = event_repo.since(session, 0)
    assert event.task_id is None and event.subject == Subject("budget", "overall")


def test_an_event_with_neither_task_nor_subject_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="names its task or its subject"), store.write() as s:
        event_repo.append(s, None, "notice", {"message": "orphan"})
    assert feed(store) == []


def test_seq_is_strictly_increasing_across_tasks(store: Store) -> None:
    a = new_task(store, "a")
    b = new_task(store, "b")
    for i in range(5):
        append(store, a if i % 2 else b, f"m{i}")
    with store.read() as session:
        events = event_repo.since(session, 0)
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) == 7
    assert [e.task_id for e in events] == [a, b, b, a, b, a, b]


def test_tailing_from_a_seq_returns_only_what_came_after(store: Store) -> None:
    task_id = new_task(store)
    with store.read() as session:
        mark = event_repo.last_seq(session)
    append(store, task_id, "one")
    append(store, task_id, "two")
    with store.read() as session:
        after = event_repo.since(session, mark)
        tail = event_repo.for_task(session, task_id, after=after[0].seq)
    assert [e.payload["text"] for e in after] == ["one", "two"]
    assert [e.payload["text"] for e in tail] == ["two"]


def test_a_cursor_beyond_the_column_range_reads_nothing_instead_of_failing(store: Store) -> None:
    task_id = new_task(store)
    with store.read() as session:
        assert event_repo.since(session, MAX_SEQ * 10) == []
        assert event_repo.for_task(session, task_id, after=2**70) == []


def test_limits_cut_the_feed_at_the_oldest_events(store: Store) -> None:
    task_id = new_task(store)
    for i in range(6):
        append(store, task_id, str(i))
    with store.read() as session:
        page = event_repo.since(session, 0, limit=3)
        task_page = event_repo.for_task(session, task_id, limit=2)
    assert [e.kind for e in page] == ["created", "text", "text"]
    assert [e.payload.get("text") for e in task_page] == [None, "0"]


def test_count_by_task_and_kind(store: Store) -> None:
    task_id = new_task(store)
    other = new_task(store)
    for i in range(3):
        append(store, task_id, str(i))
    with store.read() as session:
        assert event_repo.count(session, task_id) == 4
        assert event_repo.count(session, task_id, "text") == 3
        assert event_repo.count(session, other, "text") == 0
        assert event_repo.last_seq(session) == event_repo.since(session, 0)[-1].seq


def test_an_empty_feed_has_seq_zero(store: Store) -> None:
    with store.read() as session:
        assert event_repo.last_seq(session) == 0
        assert event_repo.since(session, 0) == []


def test_events_of_a_rolled_back_transaction_never_reach_the_feed(store: Store) -> None:
    task_id = new_task(store)
    with pytest.raises(RuntimeError), store.write() as session:
        event_repo.append(session, task_id, "text", {"text": "lost"})
        raise RuntimeError("the change failed")
    assert feed(store) == [(task_id, "created")]
    append(store, task_id, "kept")
    assert feed(store)[-1] == (task_id, "text")


def test_secrets_in_a_payload_are_redacted_at_any_depth(store: Store) -> None:
    store.scrub_secrets(["hunter2-secret-token"])
    task_id = new_task(store)
    with store.write() as session:
        event_repo.append(
            session,
            task_id,
            "tool_call",
            {
                "input": {
                    "command": "curl -H 'x: hunter2-secret-token'",
                    "list": ["hunter2-secret-token"],
                }
            },
        )
    with store.read() as session:
        [event] = [e for e in event_repo.for_task(session, task_id) if e.kind == "tool_call"]
    assert "hunter2-secret-token" not in repr(event.payload)
    assert event.payload["input"]["list"] == ["[redacted]"]


@pytest.mark.postgres
def test_a_database_password_is_scrubbed_too(pg_session_db: str) -> None:
    url = pg_session_db.replace("postgres@", "postgres:pa55w0rd-long@", 1)
    assert "pa55w0rd-long" in url  # trust authentication ignores it
    store = Store(url)
    store.scrub_secrets([])
    try:
        task_id = new_task(store)
        append(store, task_id, "connected with pa55w0rd-long")
        with store.read() as session:
            last = event_repo.for_task(session, task_id)[-1]
        assert last.payload == {"text": "connected with [redacted]"}
        assert "pa55w0rd-long" not in store.safe_url
    finally:
        store.dispose()


def test_the_feed_holds_many_events_in_one_transaction_in_order(store: Store) -> None:
    task_id = new_task(store)
    with store.write() as session:
        for i in range(200):
            event_repo.append(session, task_id, "text", {"text": str(i)})
    with store.read() as session:
        texts = [e.payload["text"] for e in event_repo.for_task(session, task_id)[1:]]
        left = int(session.scalar(select(func.count()).select_from(FeedOutboxRow)) or 0)
    assert texts == [str(i) for i in range(200)]
    assert left == 0  # on PostgreSQL every outbox row was published after the commit


# ------------------------------------------------------------------------------- the hot path


def test_the_owner_of_a_run_appends_its_events(store: Store) -> None:
    claim = claimed_run(store)
    with store.write_connection() as conn:
        for i in range(3):
            assert run_writes.append_event(
                conn,
                task_id=claim.task.id,
                run_id=claim.run.id,
                attempt=claim.attempt,
                kind="text",
                payload={"text": f"step {i}"},
            )
    with store.read() as session:
        texts = [e.payload.get("text") for e in event_repo.for_run(session, claim.run.id)]
    assert texts[-3:] == ["step 0", "step 1", "step 2"]


def test_a_superseded_attempt_appends_nothing(store: Store) -> None:
    claim = claimed_run(store)
    with store.write() as session:
        lifecycle.claim(session, claim.task.id, 1)  # taken over: attempt 2
    before = feed(store)
    with store.write_connection() as conn:
        wrote = run_writes.append_event(
            conn,
            task_id=claim.task.id,
            run_id=claim.run.id,
            attempt=1,
            kind="text",
            payload={"text": "from a frozen worker"},
        )
        assert run_writes.owns(conn, claim.run.id, 1) is False
        assert run_writes.owns(conn, claim.run.id, 2) is True
    assert wrote is False and feed(store) == before


@pytest.mark.parametrize("ending", [RunStatus.COMPLETED, RunStatus.CANCELLED])
def test_an_ended_run_takes_no_more_events(store: Store, ending: RunStatus) -> None:
    claim = claimed_run(store)
    with store.write() as session:
        if ending is RunStatus.CANCELLED:
            lifecycle.cancel_task(session, claim.task.id, reason="stop")
        else:
            lifecycle.finish(session, claim.run.id, ending, attempt=1)
    with store.write_connection() as conn:
        assert not run_writes.append_event(
            conn,
            task_id=claim.task.id,
            run_id=claim.run.id,
            attempt=claim.attempt,
            kind="text",
            payload={"text": "late"},
        )
        assert run_writes.owns(conn, claim.run.id, claim.attempt) is False
    with store.read() as session:
        assert event_repo.for_run(session, claim.run.id)[-1].kind == "status"


def test_run_state_reads_attempt_and_status_without_a_lock(store: Store) -> None:
    claim = claimed_run(store)
    with store.read() as session:
        assert run_writes.run_state(session, claim.run.id) == (1, "running")
        assert run_writes.run_state(session, "run_missing") is None
        assert run_writes.owns(session, "run_missing", 1) is False


def test_the_hot_path_scrubs_secrets_like_the_session_path(store: Store) -> None:
    store.scrub_secrets(["sk-ant-hot-path-secret"])
    claim = claimed_run(store)
    with store.write_connection() as conn:
        run_writes.append_event(
            conn,
            task_id=claim.task.id,
            run_id=claim.run.id,
            attempt=1,
            kind="text",
            payload={"text": "key=sk-ant-hot-path-secret"},
        )
    with store.read() as session:
        last = event_repo.for_run(session, claim.run.id)[-1]
    assert last.payload == {"text": "key=[redacted]"}


def test_hot_path_events_are_in_the_feed_once_the_block_ends(store: Store) -> None:
    claim = claimed_run(store)
    with store.read() as session:
        mark = event_repo.last_seq(session)
    with store.write_connection() as conn:
        run_writes.append_event(
            conn,
            task_id=claim.task.id,
            run_id=claim.run.id,
            attempt=1,
            kind="text",
            payload={"text": "a"},
        )
    with store.read() as session:
        events = event_repo.since(session, mark)
    assert [(e.kind, e.run_id) for e in events] == [("text", claim.run.id)]
    assert events[0].subject == Subject("task", claim.task.id)


def test_a_late_event_after_the_deleted_task_is_still_fenced(store: Store) -> None:
    claim = claimed_run(store)
    with store.write() as session:
        task_repo.delete(session, claim.task.id)
        lifecycle.finish(session, claim.run.id, RunStatus.CANCELLED, reason="deleted")
    with store.write_connection() as conn:
        assert not run_writes.append_event(
            conn,
            task_id=claim.task.id,
            run_id=claim.run.id,
            attempt=1,
            kind="text",
            payload={},
        )


# ------------------------------------------------------------------------------- concurrency


def test_concurrent_writers_never_leave_a_gap_a_reader_could_skip(store: Store) -> None:
    """Four threads append at once while a reader tails by seq: the reader sees every event
    exactly once, in seq order (on PostgreSQL through the outbox)."""
    tasks = [new_task(store, f"w{i}") for i in range(4)]
    with store.read() as session:
        start = event_repo.last_seq(session)
    per_writer = 25
    errors: list[BaseException] = []
    done = threading.Event()

    def write(task_id: str) -> None:
        try:
            for i in range(per_writer):
                append(store, task_id, f"{task_id}:{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    seen: list[int] = []

    def tail() -> None:
        cursor = start
        while True:
            finished = done.is_set()
            with store.read() as session:
                batch = event_repo.since(session, cursor)
            seen.extend(e.seq for e in batch)
            if batch:
                cursor = batch[-1].seq
            elif finished:
                return

    writers = [threading.Thread(target=write, args=(t,)) for t in tasks]
    reader = threading.Thread(target=tail)
    reader.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    done.set()
    reader.join(timeout=30)
    assert not errors
    with store.read() as session:
        final = [e.seq for e in event_repo.since(session, start, limit=10_000)]
    assert len(final) == 4 * per_writer
    assert seen == final  # nothing skipped, nothing twice, in order
    for task_id in tasks:
        with store.read() as session:
            texts = [e.payload["text"] for e in event_repo.for_task(session, task_id)[1:]]
        assert texts == [f"{task_id}:{i}" for i in range(per_writer)]  # each writer's order kept
