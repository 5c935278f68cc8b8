"""A running agent's event batches on PostgreSQL go over the store's hot connections
(`stagent.store.hot`: psycopg, outside SQLAlchemy's pool): a connection the server closed while
idle is replaced unnoticed, one that failed mid-batch loses nothing (the batch is written whole by
the next flush, once), the fence and the secret scrubbing hold there, and disposing of the store
closes them."""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg
import pytest
from storetools import claimed_run

from pgtrace import round_trips
from stagent.domain.events import TextEvent
from stagent.engine.run_writer import RunWriter
from stagent.store import engine as engine_module
from stagent.store import events as event_repo
from stagent.store import lifecycle
from stagent.store.database import Store
from stagent.store.lifecycle import Claim
from stagent.store.watcher import CHANNEL

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("db_url", ["postgres"], indirect=True),
]


def writer(store: Store, claim: Claim) -> RunWriter:
    return RunWriter(store, claim.task.id, claim.run)


def texts(store: Store, claim: Claim) -> list[str]:
    with store.read() as session:
        events = event_repo.for_run(session, claim.run.id)
    return [e.payload["text"] for e in events if e.kind == "text"]


def hot_backend(store: Store) -> int:
    """The backend of the idle hot connection the next batch of this thread will use."""
    with store.hot_connection() as hot:
        return hot.driver.info.backend_pid


def admin_url(store: Store) -> str:
    return store.url.replace("postgresql+psycopg://", "postgresql://")


def backend_alive(store: Store, pid: int) -> bool:
    with psycopg.connect(admin_url(store), autocommit=True) as conn:
        return (
            conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
            is not None
        )


def terminate(store: Store, pid: int) -> None:
    with psycopg.connect(admin_url(store), autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    deadline = time.monotonic() + 60
    while backend_alive(store, pid):
        assert time.monotonic() < deadline, "the backend did not go away"
        time.sleep(0.05)


def test_batches_reuse_one_connection(store: Store) -> None:
    claim = claimed_run(store)
    run = writer(store, claim)
    assert run.record(TextEvent(text="first"))
    pid = hot_backend(store)
    assert run.record(TextEvent(text="second"))
    assert hot_backend(store) == pid
    assert texts(store, claim) == ["first", "second"]


def test_a_hot_connection_the_server_closed_while_idle_is_replaced_unnoticed(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    claim = claimed_run(store)
    run = writer(store, claim)
    assert run.record(TextEvent(text="before"))
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    first = hot_backend(store)
    terminate(store, first)  # e.g. the server restarted, or an idle timeout closed it

    assert run.record(TextEvent(text="after the restart"))

    assert hot_backend(store) != first
    assert texts(store, claim) == ["before", "after the restart"]


def test_a_batch_whose_connection_died_is_written_whole_by_the_next_flush(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_SECONDS", 3600.0)  # not pinged
    claim = claimed_run(store)
    run = writer(store, claim)
    assert run.record(TextEvent(text="one"))
    terminate(store, hot_backend(store))

    with pytest.raises(psycopg.OperationalError):
        run.record(TextEvent(text="two"))  # its connection is gone: nothing written
    assert texts(store, claim) == ["one"]

    assert run.record(TextEvent(text="three"))  # a new connection; "two" goes with it
    assert texts(store, claim) == ["one", "two", "three"]


def test_a_batch_larger_than_the_sockets_buffers_is_written_whole(store: Store) -> None:
    """A batch's query goes through libpq's non-blocking sends (`feed._row_count` flushes what
    the socket did not take): 200 events of 32 KiB each (6 MiB) arrive whole, in order."""
    claim = claimed_run(store)
    run = writer(store, claim)
    sent = [f"{i:03d}" + "x" * 32_768 for i in range(200)]
    run._pending.extend(TextEvent(text=text) for text in sent)  # pyright: ignore[reportPrivateUsage]
    assert run.flush()
    assert texts(store, claim) == sent


def test_a_superseded_attempt_writes_nothing_on_a_hot_connection(store: Store) -> None:
    claim = claimed_run(store)
    stale = writer(store, claim)
    assert stale.record(TextEvent(text="mine"))
    with store.write() as session:  # another worker takes the run over (a newer attempt)
        assert lifecycle.claim(session, claim.task.id, 1) is not None

    assert not stale.record(TextEvent(text="too late"))
    assert stale.lost
    assert texts(store, claim) == ["mine"]


def test_a_batch_is_one_round_trip_of_five_statements(store: Store) -> None:
    """A batch on a hot connection is one simple query: ``BEGIN``, the fence that then takes
    the feed lock (one prepared statement), the insert that notifies (one), ``COMMIT``, the
    flush. Each statement of a simple query is parsed, planned and answered on its own: the
    ``SET LOCAL``, the lock and the ``pg_notify`` that were statements of their own cost the
    backend ~7 % of its CPU per event."""
    claim = claimed_run(store)
    run = writer(store, claim)
    assert run.record(TextEvent(text="prepares the statements"))
    with store.hot_connection() as hot:  # the idle one the next batch of this thread takes
        driver = hot.driver
    with round_trips(driver) as trips:
        assert run.record(TextEvent(text="one round trip"))
    assert trips == [["BEGIN", "EXECUTE", "EXECUTE", "COMMIT", "EXECUTE"]]
    assert texts(store, claim) == ["prepares the statements", "one round trip"]


def notifications_during(store: Store, write: Callable[[], object]) -> list[str]:
    """The payloads of the change notifications sent while ``write`` ran (a marker sent after
    it ends the wait)."""
    with psycopg.connect(admin_url(store), autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        write()
        with psycopg.connect(admin_url(store), autocommit=True) as marker:
            marker.execute(f"NOTIFY {CHANNEL}, 'marker'")
        payloads: list[str] = []
        for note in listener.notifies(timeout=120):
            if note.payload == "marker":
                return payloads
            payloads.append(note.payload)
    raise AssertionError("the marker never came")


def test_a_batch_wakes_listeners_once_and_a_fenced_out_one_wakes_no_one(store: Store) -> None:
    """Every worker and web process listens for changes: a batch that reached the feed
    notifies once; one its fence refused (the run was taken over) wrote nothing and wakes no
    one."""
    claim = claimed_run(store)
    stale = writer(store, claim)
    assert notifications_during(store, lambda: stale.record(TextEvent(text="mine"))) == [""]
    with store.write() as session:  # another worker takes the run over (a newer attempt)
        assert lifecycle.claim(session, claim.task.id, 1) is not None

    refused: list[bool] = []
    write = lambda: refused.append(stale.record(TextEvent(text="too late")))  # noqa: E731
    assert notifications_during(store, write) == []
    assert refused == [False]
    assert texts(store, claim) == ["mine"]


def test_secrets_named_after_a_connection_was_opened_are_scrubbed_on_it(store: Store) -> None:
    claim = claimed_run(store)
    run = writer(store, claim)
    assert run.record(TextEvent(text="plain"))  # the hot connection is open and idle now
    store.scrub_secrets(["sk-ant-late-secret"])

    assert run.record(TextEvent(text="key=sk-ant-late-secret"))

    assert texts(store, claim) == ["plain", "key=[redacted]"]


def test_disposing_of_the_store_closes_its_hot_connections(store: Store) -> None:
    claim = claimed_run(store)
    assert writer(store, claim).record(TextEvent(text="x"))
    pid = hot_backend(store)

    store.dispose()

    deadline = time.monotonic() + 60
    while backend_alive(store, pid):
        assert time.monotonic() < deadline, "the hot connection was left open"
        time.sleep(0.05)
