"""PostgreSQL connections and commits: a pooled connection that died while idle is replaced
before anyone uses it, one that is busy is not pinged; a write's commit, feed publish and
notification go together and wake other processes."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from sqlalchemy import text
from storetools import new_task

from stagent.store import engine as engine_module
from stagent.store import events as event_repo
from stagent.store import feed
from stagent.store import tasks as task_repo
from stagent.store.database import Store

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("db_url", ["postgres"], indirect=True),
]


@pytest.fixture
def pg_store(store: Store) -> Store:
    """The store, on PostgreSQL only."""
    return store


def _backend_pid(store: Store) -> int:
    with store.read() as session:
        return int(session.scalar(text("SELECT pg_backend_pid()")) or 0)


def _terminate(store: Store, pid: int) -> None:
    admin = store.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 60
        while conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            assert time.monotonic() < deadline, "the backend did not go away"
            time.sleep(0.05)


def test_a_pooled_connection_the_server_closed_while_idle_is_replaced_unnoticed(
    pg_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    first = _backend_pid(pg_store)
    _terminate(pg_store, first)  # e.g. the server restarted, or an idle timeout closed it

    task_id = new_task(pg_store, "after the restart")

    assert _backend_pid(pg_store) != first
    with pg_store.read() as session:
        assert task_repo.get(session, task_id).title == "after the restart"


def test_a_connection_back_in_the_pool_moments_ago_is_not_pinged_again(
    pg_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 3600.0)
    pings: list[object] = []
    dialect = pg_store.engine.dialect
    real_ping = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda conn: pings.append(conn) or real_ping(conn))

    for n in range(5):
        new_task(pg_store, f"busy {n}")
        _backend_pid(pg_store)

    assert pings == []


def test_a_write_that_logs_nothing_still_wakes_another_process(pg_store: Store) -> None:
    task_id = new_task(pg_store, "watched")
    other = Store(pg_store.url)
    other.watch_other_processes()
    try:
        seen = other.changes.version  # `watch_other_processes` returned: its thread listens
        woke = threading.Event()

        def wait() -> None:
            other.changes.wait(seen, 90)
            woke.set()

        waiter = threading.Thread(target=wait)
        waiter.start()
        with pg_store.write() as session:
            task_repo.get_row(session, task_id, for_update=True).title = "renamed"
        waiter.join(120)
        assert woke.is_set()
        with other.read() as session:
            assert task_repo.get(session, task_id).title == "renamed"
    finally:
        other.dispose()


def test_events_of_a_write_are_in_the_feed_in_order_when_it_returns(pg_store: Store) -> None:
    task_id = new_task(pg_store, "logged")
    with pg_store.write() as session:
        for n in range(3):
            event_repo.append(session, task_id, "note", {"message": f"note {n}"})

    with pg_store.read() as session:
        notes = [e for e in event_repo.for_task(session, task_id) if e.kind == "note"]
        outbox = session.scalar(text("SELECT count(*) FROM feed_outbox"))
    assert [e.payload["message"] for e in notes] == ["note 0", "note 1", "note 2"]
    assert outbox == 0


def test_events_with_awkward_text_are_logged_exactly_as_written(pg_store: Store) -> None:
    task_id = new_task(pg_store, 'it\'s 100% \\ "quoted"')
    awkward = [
        {"message": "it's 100% done; DROP TABLE tasks; --", "path": "C:\\temp\\x"},
        {"message": "naïve café ✓ 日本", "nested": {"list": [1, 2.5, None, True], "e": ""}},
        {"message": "%s %(name)s $1 ? :param", "quote": "'\"'"},
    ]
    with pg_store.write() as session:
        for payload in awkward:
            event_repo.append(session, task_id, "note", payload, run_id="run_o'brien")

    with pg_store.read() as session:
        notes = [e for e in event_repo.for_task(session, task_id) if e.kind == "note"]
    assert [e.payload for e in notes] == awkward
    assert {e.run_id for e in notes} == {"run_o'brien"}
    assert all(e.created_at.tzinfo is not None for e in notes)


def test_a_publish_that_moves_nothing_wakes_no_one(pg_store: Store) -> None:
    """Only a publish that moved events notifies: listeners (every worker, every web process)
    are not woken by each writer whose rows another publish already moved."""
    admin = pg_store.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as listener:
        listener.execute(f"LISTEN {feed.CHANNEL}")
        pg_store.publish()  # nothing waiting in the outbox
        new_task(pg_store, "one event, one notification")
        with psycopg.connect(admin, autocommit=True) as marker:
            marker.execute(f"NOTIFY {feed.CHANNEL}, 'marker'")
        payloads: list[str] = []
        for note in listener.notifies(timeout=120):
            if note.payload == "marker":
                break
            payloads.append(note.payload)
    assert payloads == [""]  # the write's publish; none from the empty one
