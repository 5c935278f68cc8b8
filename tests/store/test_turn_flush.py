"""Runs streaming on one event loop share their waits for the disk on PostgreSQL
(`stagent.engine.turn_flush`): the first batch of a turn of the loop waits for its own flush,
the batches other runs write in the same turn wait for one flush together; a run streaming alone
still costs one round trip a batch; should the shared flush fail, nothing is lost (the batches it
covered are written again and the run hears of the failure)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from storetools import claimed_run

from stagent.domain.events import TextEvent
from stagent.engine.run_writer import RunWriter
from stagent.store import events as event_repo
from stagent.store import run_writes
from stagent.store.database import Store
from stagent.store.lifecycle import Claim

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("db_url", ["postgres"], indirect=True),
]


def texts(store: Store, claim: Claim) -> list[str]:
    with store.read() as session:
        events = event_repo.for_run(session, claim.run.id)
    return [e.payload["text"] for e in events if e.kind == "text"]


class DiskWaits:
    """Counts what waits for the disk: a batch sent with its flush, or a turn's shared flush;
    and the batches sent without one. (Wraps the real functions.)"""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.own = self.shared = self.unflushed = 0
        append, wait = run_writes.append_hot_events, run_writes.wait_for_flush
        self.turn_backends: list[int] = []

        def counted_append(*args: Any, flush: bool = True, **kwargs: Any) -> int:
            if flush:
                self.own += 1
            else:
                self.unflushed += 1
                self.turn_backends.append(args[0].driver.info.backend_pid)
            return append(*args, flush=flush, **kwargs)

        def counted_wait(*args: Any, **kwargs: Any) -> None:
            self.shared += 1
            wait(*args, **kwargs)

        monkeypatch.setattr(run_writes, "append_hot_events", counted_append)
        monkeypatch.setattr(run_writes, "wait_for_flush", counted_wait)


def play(body: Callable[[], Any]) -> None:
    asyncio.run(body())


async def turns(count: int) -> None:
    """Let the loop run ``count`` turns (the writers' scheduled batches and turn ends)."""
    for _ in range(count):
        await asyncio.sleep(0)


def test_runs_writing_in_one_turn_wait_for_the_disk_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    claims = [claimed_run(store, f"run {i}") for i in range(4)]
    waits = DiskWaits(monkeypatch)

    async def body() -> None:
        writers = [RunWriter(store, claim.task.id, claim.run) for claim in claims]
        for round_ in range(3):
            for i, writer in enumerate(writers):
                assert writer.record(TextEvent(text=f"{i}.{round_}"))
            await turns(3)

    play(body)

    for i, claim in enumerate(claims):
        assert texts(store, claim) == [f"{i}.{round_}" for round_ in range(3)]
    # each turn: the first batch flushed itself, the other three shared one flush
    assert (waits.own, waits.unflushed, waits.shared) == (3, 9, 3)


def test_a_run_streaming_alone_waits_for_its_own_flush_in_its_one_round_trip(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    claim = claimed_run(store)
    waits = DiskWaits(monkeypatch)

    async def body() -> None:
        writer = RunWriter(store, claim.task.id, claim.run)
        for n in range(5):
            assert writer.record(TextEvent(text=f"chunk {n}"))
            await turns(2)

    play(body)

    assert texts(store, claim) == [f"chunk {n}" for n in range(5)]
    assert (waits.own, waits.unflushed, waits.shared) == (5, 0, 0)


def test_a_run_writing_on_its_own_first_waits_for_the_turn_its_batch_is_in(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = claimed_run(store, "first"), claimed_run(store, "second")
    waits = DiskWaits(monkeypatch)

    async def body() -> None:
        one = RunWriter(store, first.task.id, first.run)
        two = RunWriter(store, second.task.id, second.run)
        assert one.record(TextEvent(text="one said"))
        assert two.record(TextEvent(text="two said"))
        await turns(1)  # one flushed its batch; two's waits for the turn's flush
        assert waits.unflushed == 1 and waits.shared == 0
        assert two.record(TextEvent(text="two asks for a tool"))
        assert two.flush()  # before the gate decides: the turn's flush first, then this
        assert waits.shared == 1
        await turns(2)

    play(body)

    assert texts(store, second) == ["two said", "two asks for a tool"]
    assert waits.shared == 1  # the turn ended early: nothing left for its scheduled end


def test_a_failed_shared_flush_loses_nothing_and_the_run_hears_of_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = claimed_run(store, "first"), claimed_run(store, "second")
    waits = DiskWaits(monkeypatch)
    admin = store.url.replace("postgresql+psycopg://", "postgresql://")

    async def body() -> None:
        one = RunWriter(store, first.task.id, first.run)
        two = RunWriter(store, second.task.id, second.run)
        assert one.record(TextEvent(text="one said"))
        assert two.record(TextEvent(text="two said"))
        await turns(1)  # two's batch is committed, its flush not sent yet
        with psycopg.connect(admin, autocommit=True) as conn:  # the connection dies
            conn.execute("SELECT pg_terminate_backend(%s)", (waits.turn_backends[0],))
        await turns(2)  # the turn's flush fails: two's batch is queued again
        with pytest.raises(psycopg.OperationalError):
            two.record(TextEvent(text="two goes on"))
        assert two.flush()  # written again (it may have reached the disk: then twice)

    play(body)

    assert texts(store, first) == ["one said"]
    # committed but never confirmed on disk: written again -- twice in the log, never lost
    assert texts(store, second) == ["two said", "two said"]
