"""Runs' event batches written in one turn of the run loop share one wait for the disk
(PostgreSQL).

Every run of a worker executes on one event loop (`stagent.engine.run_loop`), and a run's
batches are written there synchronously (`stagent.engine.run_writer.RunWriter`). Each batch
used to wait for its own flush, so when many runs streamed at once the loop waited for the disk
once per batch, one run after another. Now the first batch written in a turn of the loop waits
for its flush as before (a run streaming alone costs what it did: one round trip a batch); the
batches other runs write later in the same turn are only committed, on the connection the
turn holds, and one flush sent on that connection when the turn ends makes them all durable
(`stagent.store.run_writes.wait_for_flush`). A reader may see them a moment before they are on
disk, as it may any batch (`stagent.store.feed.append_in_order`).

Should that flush fail (the connection broke: the server may have lost them), each run whose
batches it covered queues them again: its next batch or its end writes them (under new
``seq``s), and its next event raises the failure, as a failed background batch does. A run
that writes a batch of its own before the turn ends (the gate, usage, its end) has the turn's
flush sent first, so its events stay in order.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from contextlib import ExitStack
from typing import Protocol

from stagent.store import run_writes
from stagent.store.database import Store
from stagent.store.hot import HotConnection

log = logging.getLogger(__name__)


class Covered(Protocol):
    """A writer whose committed batches wait for the turn's flush."""

    task_id: str

    def confirmed(self) -> None:
        """Its batches are on disk."""

    def unconfirmed(self, failure: Exception) -> None:
        """The flush failed: its batches may be lost (it writes them again)."""


class TurnFlush:
    """One turn of one event loop, for one store: whether a batch was written in it, the hot
    connection it holds and the writers whose batches wait for its flush."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.open = False
        self._hold: ExitStack | None = None
        self._hot: HotConnection | None = None
        self._covered: list[Covered] = []

    def begin(self, loop: asyncio.AbstractEventLoop) -> None:
        """A batch was written (and flushed) in this turn: the next ones in it share a flush,
        sent when the callbacks ready now have run."""
        if not self.open:
            self.open = True
            loop.call_soon(self.end)

    def connection(self) -> HotConnection:
        """The hot connection the turn's batches are committed on (checked out until it ends)."""
        if self._hot is None:
            hold = ExitStack()
            self._hot = hold.enter_context(self.store.hot_connection())
            self._hold = hold
        return self._hot

    def cover(self, writer: Covered) -> None:
        """``writer`` committed a batch on `connection` that waits for the turn's flush."""
        if writer not in self._covered:
            self._covered.append(writer)

    def end(self) -> None:
        """Send the turn's flush (if a batch waits for it) and give its connection back; a
        later batch opens a new turn."""
        self.open = False
        hold, hot, covered = self._hold, self._hot, self._covered
        self._hold, self._hot, self._covered = None, None, []
        if hold is None or hot is None:
            return
        with hold:
            try:
                if covered:
                    run_writes.wait_for_flush(hot)
            except Exception as exc:
                log.warning("the flush of %d runs' batches failed: %s", len(covered), exc)
                for writer in covered:
                    writer.unconfirmed(exc)
                return
        for writer in covered:
            writer.confirmed()


_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, TurnFlush]] = (
    weakref.WeakKeyDictionary()
)


def turn_of(store: Store, loop: asyncio.AbstractEventLoop) -> TurnFlush:
    """The turn of ``loop`` (the caller runs on it) for ``store``."""
    turns = _turns.setdefault(loop, {})
    turn = turns.get(id(store))
    if turn is None or turn.store is not store:
        turn = turns[id(store)] = TurnFlush(store)
    return turn
