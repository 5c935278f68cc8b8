"""The feed's order guarantee with concurrent writers: on PostgreSQL a running agent's events go
through the outbox and get their ``seq`` where order is assigned (`stagent.store.feed`); a
reader tailing by ``seq`` never skips one. On SQLite they are written directly."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import func, select, text

from stagent.domain.events import TextEvent
from stagent.engine.executor import RunWriter
from stagent.engine.options import resolve
from stagent.engine.services import TaskDraft
from stagent.store import events, lifecycle, run_writes
from stagent.store.lifecycle import Claim
from stagent.store.tables import FeedOutboxRow
from stagent.workspace import Workspace


@pytest.fixture(params=["sqlite", "postgresql"])
def ws(request: pytest.FixtureRequest) -> Iterator[Workspace]:
    name = "workspace" if request.param == "sqlite" else "pg_workspace"
    yield request.getfixturevalue(name)


def claimed(ws: Workspace, title: str) -> Claim:
    task = ws.tasks.create(TaskDraft(title=title))
    with ws.store.write() as session:
        lifecycle.queue_run(session, task.id, resolve(task, None))
    with ws.store.write() as session:
        claim = lifecycle.claim(session, task.id, 1)
    assert claim is not None
    return claim


def outbox_size(ws: Workspace) -> int:
    with ws.store.read() as session:
        return int(session.scalar(select(func.count()).select_from(FeedOutboxRow)) or 0)


def test_an_event_is_in_the_feed_when_its_write_returns(ws: Workspace) -> None:
    claim = claimed(ws, "visible")
    before = ws.tasks.last_seq()
    assert RunWriter(ws.store, claim.task.id, claim.run).record(TextEvent(text="now"))
    feed = ws.tasks.feed(after=before)
    assert [(e.kind, e.payload["text"]) for e in feed] == [("text", "now")]
    assert feed[0].task_id == claim.task.id and feed[0].run_id == claim.run.id
    assert outbox_size(ws) == 0


def test_events_a_crashed_writer_left_in_the_outbox_are_published_by_the_next_writer(
    pg_workspace: Workspace,
) -> None:
    ws = pg_workspace
    claim = claimed(ws, "stranded")
    with ws.store.engine.begin() as conn:  # committed, never published (the writer died)
        conn.execute(
            text(
                "INSERT INTO feed_outbox (task_id, run_id, subject_kind, subject_id, kind,"
                " payload, created_at) VALUES (:t, :r, 'task', :t, 'text', '{\"text\": \"lost?\"}',"
                " now())"
            ),
            {"t": claim.task.id, "r": claim.run.id},
        )
    before = ws.tasks.last_seq()
    assert ws.tasks.feed(after=before) == []
    ws.housekeeping()
    published = [e for e in ws.tasks.feed(after=before) if e.kind == "text"]
    assert [e.payload["text"] for e in published] == ["lost?"]
    assert outbox_size(ws) == 0


def seqs_seen_while(ws: Workspace, start: int, writers: list[threading.Thread]) -> list[int]:
    """Every ``seq`` a reader tailing the feed from ``start`` saw while ``writers`` ran (it reads
    once more after they ended), in the order it saw them."""
    done = threading.Event()
    seen: list[int] = []

    def tail() -> None:
        after = start
        while True:
            finished = done.is_set()
            for event in ws.tasks.feed(after=after):
                seen.append(event.seq)
                after = event.seq
            if finished:
                return

    reader = threading.Thread(target=tail)
    reader.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    reader.join()
    return seen


def test_concurrent_writers_never_make_a_tailing_reader_skip_an_event(ws: Workspace) -> None:
    claims = [claimed(ws, f"writer {i}") for i in range(4)]
    start = ws.tasks.last_seq()
    per_writer = 40

    def write(claim: Claim) -> None:
        writer = RunWriter(ws.store, claim.task.id, claim.run)
        for i in range(per_writer):
            assert writer.record(TextEvent(text=f"{claim.task.id} {i}"))

    writers = [threading.Thread(target=write, args=(c,)) for c in claims]
    seen = seqs_seen_while(ws, start, writers)

    stored = [e.seq for e in ws.tasks.feed(after=start, limit=10_000) if e.kind == "text"]
    assert len(stored) == 4 * per_writer
    assert seen == sorted(set(seen))
    assert set(stored) <= set(seen)
    for claim in claims:  # each writer's events are in its own order
        texts = [e.payload["text"] for e in ws.tasks.events(claim.task.id) if e.kind == "text"]
        assert texts == [f"{claim.task.id} {i}" for i in range(per_writer)]


def test_a_write_transaction_does_not_wait_for_another_writers_open_transaction(
    pg_workspace: Workspace,
) -> None:
    """No workspace-wide lock: while one transaction that appended an event stays open, another
    writer appends, commits and is in the feed; the first one's event follows when it commits."""
    ws = pg_workspace
    first, second = (ws.tasks.create(TaskDraft(title=t)) for t in ("held", "free"))
    before = ws.tasks.last_seq()
    appended, release = threading.Event(), threading.Event()

    def slow_writer() -> None:
        with ws.store.write() as session:
            events.append(session, first.id, "note", {"message": "slow"})
            appended.set()
            assert release.wait(20)

    holder = threading.Thread(target=slow_writer)
    holder.start()
    try:
        assert appended.wait(20)
        other = threading.Thread(target=lambda: ws.tasks.update(second.id, {"title": "renamed"}))
        other.start()
        other.join(timeout=10)
        assert not other.is_alive(), "the second writer waited for the first one's lock"
        assert [e.task_id for e in ws.tasks.feed(after=before)] == [second.id]
    finally:
        release.set()
        holder.join()
    feed = ws.tasks.feed(after=before)
    assert [(e.task_id, e.kind) for e in feed] == [(second.id, "updated"), (first.id, "note")]
    assert feed[0].seq < feed[1].seq
    assert outbox_size(ws) == 0


# ------------------------------------------------------------------ the hot path's batches


def record_batch(writer: RunWriter, texts: list[str]) -> bool:
    """Queue ``texts`` as one batch (inside an event loop they wait for the runtime's pause),
    then write it; what `RunWriter.flush` returned."""

    async def burst() -> bool:
        for said in texts:
            assert writer.record(TextEvent(text=said))
        return writer.flush()

    return asyncio.run(burst())


def test_a_batch_reaches_the_feed_whole_and_in_order(ws: Workspace) -> None:
    claim = claimed(ws, "burst")
    before = ws.tasks.last_seq()
    texts = [f"part {i}" for i in range(60)]
    assert record_batch(RunWriter(ws.store, claim.task.id, claim.run), texts)
    feed = [e for e in ws.tasks.feed(after=before) if e.kind == "text"]
    assert [e.payload["text"] for e in feed] == texts
    assert {e.run_id for e in feed} == {claim.run.id}
    assert outbox_size(ws) == 0


def test_a_batch_for_a_run_taken_over_writes_none_of_it(ws: Workspace) -> None:
    claim = claimed(ws, "taken over")
    writer = RunWriter(ws.store, claim.task.id, claim.run)
    with ws.store.write() as session:
        assert lifecycle.claim(session, claim.task.id, 1) is not None  # attempt 2
    before = ws.tasks.last_seq()
    assert not record_batch(writer, ["late 1", "late 2", "late 3"])
    assert writer.lost
    assert [e.kind for e in ws.tasks.feed(after=before) if e.kind == "text"] == []
    assert outbox_size(ws) == 0


def test_a_batch_the_server_refuses_leaves_nothing_and_the_next_one_is_written(
    pg_workspace: Workspace,
) -> None:
    ws = pg_workspace
    claim = claimed(ws, "refused")
    before = ws.tasks.last_seq()
    too_long = [("text", {"text": "fine"}), ("k" * 100, {"text": "kind too long"})]
    with (
        pytest.raises(psycopg.errors.StringDataRightTruncation),
        ws.store.write_connection() as conn,
    ):
        run_writes.append_events(
            conn,
            task_id=claim.task.id,
            run_id=claim.run.id,
            attempt=claim.attempt,
            events=too_long,
        )
    assert RunWriter(ws.store, claim.task.id, claim.run).record(TextEvent(text="next"))
    feed = [e for e in ws.tasks.feed(after=before) if e.kind == "text"]
    assert [e.payload["text"] for e in feed] == ["next"]
    assert outbox_size(ws) == 0


def test_a_writer_whose_server_connection_dropped_writes_again_on_a_new_one(
    pg_workspace: Workspace,
) -> None:
    ws = pg_workspace
    claim = claimed(ws, "dropped")
    writer = RunWriter(ws.store, claim.task.id, claim.run)
    assert writer.record(TextEvent(text="before"))
    with ws.store.engine.connect() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    # a connection used in the last seconds is not pinged: its statement may fail once
    with contextlib.suppress(psycopg.OperationalError):
        writer.record(TextEvent(text="maybe"))
    assert writer.record(TextEvent(text="after"))
    texts = [e.payload["text"] for e in ws.tasks.events(claim.task.id) if e.kind == "text"]
    assert texts[0] == "before" and texts[-1] == "after"


def test_the_hot_path_writes_after_psycopg_deallocated_its_statements(
    pg_workspace: Workspace,
) -> None:
    """psycopg deallocates all prepared statements of a connection on a ROLLBACK once it has
    prepared some of its own (a query run five times): the hot path prepares its own again."""
    ws = pg_workspace
    claim = claimed(ws, "deallocated")
    writer = RunWriter(ws.store, claim.task.id, claim.run)
    assert writer.record(TextEvent(text="first"))
    for _ in range(2):
        with ws.store.read() as session:  # the pooled connection: prepared, then rolled back
            for _ in range(6):
                session.execute(text("SELECT 1 WHERE 1 = :one"), {"one": 1})
        assert writer.record(TextEvent(text="again"))
    texts = [e.payload["text"] for e in ws.tasks.events(claim.task.id) if e.kind == "text"]
    assert texts == ["first", "again", "again"]


# ------------------------------------------------- the hot path writes straight into the feed


def test_a_writer_waiting_for_a_take_over_holds_up_no_other_writer(
    pg_workspace: Workspace,
) -> None:
    """A batch takes the feed lock only once its fence holds the run: while a take-over of one
    run is still open, that run's writer waits for it, and another run's events keep coming."""
    ws = pg_workspace
    stuck, free = claimed(ws, "being taken over"), claimed(ws, "free")
    admin = ws.store.url.replace("postgresql+psycopg://", "postgresql://")
    with (
        psycopg.connect(admin) as taker,  # a take-over in progress holds the run row
        psycopg.connect(admin, autocommit=True) as watcher,
    ):
        taker.execute("SELECT 1 FROM runs WHERE id = %s FOR UPDATE", (stuck.run.id,))
        waiting = threading.Thread(
            target=lambda: RunWriter(ws.store, stuck.task.id, stuck.run).record(
                TextEvent(text="after the take-over let go")
            )
        )
        waiting.start()
        blocked = (
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        while not watcher.execute(blocked).fetchone()[0]:  # type: ignore[index]
            assert waiting.is_alive()
            time.sleep(0.01)
        before = ws.tasks.last_seq()
        other = threading.Thread(
            target=lambda: RunWriter(ws.store, free.task.id, free.run).record(
                TextEvent(text="meanwhile")
            )
        )
        other.start()
        other.join(timeout=60)
        assert not other.is_alive(), "another run's writer waited for the take-over"
        assert waiting.is_alive()
        assert [e.payload["text"] for e in ws.tasks.feed(after=before)] == ["meanwhile"]
        taker.rollback()  # the take-over gave up: the run is still the writer's
    waiting.join(timeout=60)
    assert not waiting.is_alive()
    texts = [e.payload["text"] for e in ws.tasks.feed(after=before)]
    assert texts == ["meanwhile", "after the take-over let go"]


def test_run_events_and_write_transactions_never_make_a_reader_skip_an_event(
    pg_workspace: Workspace,
) -> None:
    """Run batches (straight into the feed) and `Store.write` transactions (through the outbox)
    share one order: a reader tailing by ``seq`` while both kinds of writers commit sees every
    event, each once, in ``seq`` order."""
    ws = pg_workspace
    claims = [claimed(ws, f"run writer {i}") for i in range(2)]
    notes = [ws.tasks.create(TaskDraft(title=f"noted {i}")) for i in range(2)]
    start = ws.tasks.last_seq()
    per_writer = 40

    def run_writer(claim: Claim) -> None:
        writer = RunWriter(ws.store, claim.task.id, claim.run)
        for i in range(per_writer):
            assert writer.record(TextEvent(text=f"{claim.task.id} {i}"))

    def note_writer(task_id: str) -> None:
        for i in range(per_writer):
            with ws.store.write() as session:
                events.append(session, task_id, "note", {"message": f"{task_id} {i}"})

    writers = [threading.Thread(target=run_writer, args=(c,)) for c in claims]
    writers += [threading.Thread(target=note_writer, args=(t.id,)) for t in notes]
    seen = seqs_seen_while(ws, start, writers)

    feed = ws.tasks.feed(after=start, limit=10_000)
    kinds = [e.kind for e in feed]
    assert kinds.count("text") == kinds.count("note") == 2 * per_writer
    stored = [e.seq for e in feed]
    assert seen == sorted(set(seen))
    assert set(stored) <= set(seen)
    assert outbox_size(ws) == 0


def test_a_batch_waits_for_its_flush_with_a_statement_that_writes_wal(
    pg_workspace: Workspace,
) -> None:
    """A batch commits without waiting for the disk (under the feed lock), then waits for it
    in a transaction of its own: PostgreSQL makes a commit wait for the flush only when its
    transaction wrote WAL, so that statement must write a record under the transaction's id
    (``pg_current_xact_id()`` alone would return at once, the batch not yet on disk)."""
    ws = pg_workspace
    claim = claimed(ws, "flushed")
    assert RunWriter(ws.store, claim.task.id, claim.run).record(TextEvent(text="durable"))
    admin = ws.store.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
        start = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
        with conn.transaction():
            conn.execute(run_writes._FLUSH_SQL)  # pyright: ignore[reportPrivateUsage]
            xid = conn.execute("SELECT pg_current_xact_id_if_assigned()::text").fetchone()
        assert start is not None and xid is not None and xid[0] is not None
        records = conn.execute(
            "SELECT resource_manager FROM pg_get_wal_records_info(%s, pg_current_wal_flush_lsn())"
            " WHERE xid::text = %s",
            (start[0], xid[0]),
        ).fetchall()
    assert ("LogicalMessage",) in records  # WAL under this transaction's id
    assert ("Transaction",) in records  # its commit, flushed
