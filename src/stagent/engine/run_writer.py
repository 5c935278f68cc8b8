"""The writes of one execution of a run: its events, in batches, and its end.

Every write is fenced by the run's attempt (`stagent.store.run_writes`, `lifecycle.finish`): a
run that was cancelled, ended, or taken over by a newer attempt stops this execution's writes.

Events are written in batches, never later than the run's own next step: `RunWriter.record`
queues an event, and the queue is written in one transaction as soon as the run's task yields to
the event loop (the runtime waits for its next message), before the gate decides a tool call
(`flush`), before usage is booked, or with the run's end (`conclude`: its last events, the final
event and the end in one transaction). A burst of messages a runtime hands over at once costs one
commit instead of one each, and nothing a person or another process acts on waits for an event
that is not yet written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from stagent.domain.events import LogKind, RuntimeEvent, SessionEvent, event_payload
from stagent.domain.lifecycle import StaleAttemptError
from stagent.domain.runs import Run, RunStatus
from stagent.engine.turn_flush import TurnFlush, turn_of
from stagent.store import hot_end, lifecycle, run_writes
from stagent.store import runs as run_repo
from stagent.store.database import Session, Store, flushed_connection
from stagent.store.hot import SqliteHotConnection

log = logging.getLogger(__name__)

MAX_PENDING = 200
"""Events queued before a batch is written without waiting for the runtime to pause."""


class EndHook(Protocol):
    """Runs in the transaction that ends the run, once the end is written, with the ended run
    (the values `stagent.store.lifecycle.finish` wrote: a workflow step's run settles its step
    row from them there, `stagent.engine.workflow_steps.SettleOnEnd`). On SQLite an end the
    hook can write on the bare driver goes there (`stagent.store.hot_end`), with no Session."""

    def __call__(self, session: Session, run: Run) -> None:
        """Write in ``session``, the end's transaction (``run``: the end, written already)."""
        ...

    def fits_driver(self, status: RunStatus) -> bool:
        """Whether `on_driver` can write an end of ``status`` (else it goes through a
        Session)."""
        ...

    def ended_with(self, final: RuntimeEvent | None) -> None:
        """Told, before the end is written, the runtime's final event (its result or error:
        whether the error may pass on a retry)."""
        ...

    def on_driver(self, hot: SqliteHotConnection, run: Run) -> None:
        """`__call__` on SQLite's bare driver connection, in the end's open transaction."""
        ...


class RunWriter:
    """The writes of one execution of a run. ``lost`` turns true once the run is no longer this
    execution's (cancelled, ended, or taken over by a newer attempt); nothing is written after
    that."""

    def __init__(self, store: Store, task_id: str, run: Run) -> None:
        self.store = store
        self.task_id = task_id
        self.run = run
        self.lost = False
        self._pending: list[RuntimeEvent] = []
        self._soon: asyncio.Handle | None = None
        self._failure: Exception | None = None
        self._turn: TurnFlush | None = None
        self._unconfirmed: list[RuntimeEvent] = []
        """Written in a turn of the loop whose flush has not been sent yet (`turn_flush`)."""

    def record(self, event: RuntimeEvent) -> bool:
        """Queue one event (written as the module says; at once when called outside an event
        loop); False if the run is lost. Raises what writing an earlier batch raised."""
        self.raise_failure()
        if self.lost:
            return False
        self._pending.append(event)
        if len(self._pending) >= MAX_PENDING:
            return self.flush()
        if self._soon is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no event loop to yield to: written now
                return self.flush()
            self._soon = loop.call_soon(self._flush_soon)
        return True

    def flush(self) -> bool:
        """Write every queued event now, in one transaction, and wait for it to be on disk;
        False if the run is lost (then nothing more is written)."""
        return self._write(None)

    def _write(self, loop: asyncio.AbstractEventLoop | None) -> bool:
        """`flush`; in a turn of ``loop`` (PostgreSQL) where another batch was written, the
        batch waits for the turn's flush instead of its own (`stagent.engine.turn_flush`)."""
        if loop is None:  # what this run wrote in the turn is on disk (or queued) first
            self._end_turn()
        pending = self._take()
        if self.lost or not pending:
            return not self.lost
        batch = [(event.kind, event_payload(event)) for event in pending]
        try:
            if self.store.is_sqlite:
                with self.store.write_connection() as conn:
                    written = run_writes.append_events(
                        conn,
                        task_id=self.task_id,
                        run_id=self.run.id,
                        attempt=self.run.attempt,
                        events=batch,
                    )
                    session_id = _last_session(pending[:written])
                    if session_id is not None:
                        run_writes.set_session(conn, self.task_id, session_id)
            else:
                written = self._append_hot(batch, pending, loop)
                session_id = _last_session(pending[:written])
                if session_id is not None:  # once a run: through SQLAlchemy
                    with self.store.write_connection() as conn:
                        run_writes.set_session(conn, self.task_id, session_id)
        except Exception:
            self._pending[:0] = pending  # the run's end tries them again
            raise
        self.lost = self.lost or written < len(pending)
        return not self.lost

    def _append_hot(
        self,
        batch: Sequence[tuple[str, dict[str, Any]]],
        pending: list[RuntimeEvent],
        loop: asyncio.AbstractEventLoop | None,
    ) -> int:
        """Write ``batch`` on a hot connection: flushed, or (a later batch of a turn of
        ``loop``) committed on the turn's connection, waiting for its flush."""
        turn = turn_of(self.store, loop) if loop is not None else None
        if turn is not None and turn.open:
            written = run_writes.append_hot_events(
                turn.connection(),
                task_id=self.task_id,
                run_id=self.run.id,
                attempt=self.run.attempt,
                events=batch,
                flush=False,
            )
            self._turn = turn
            self._unconfirmed.extend(pending[:written])
            turn.cover(self)
            return written
        with self.store.hot_connection() as hot:
            written = run_writes.append_hot_events(
                hot,
                task_id=self.task_id,
                run_id=self.run.id,
                attempt=self.run.attempt,
                events=batch,
            )
        if turn is not None and loop is not None:
            turn.begin(loop)
        return written

    def confirmed(self) -> None:
        """The turn's flush made this run's batches durable (`stagent.engine.turn_flush`)."""
        self._unconfirmed.clear()
        self._turn = None

    def unconfirmed(self, failure: Exception) -> None:
        """The turn's flush failed: the batches it covered are queued again (the next batch or
        the run's end writes them) and the next event raises ``failure``."""
        self._pending[:0] = self._unconfirmed
        self._unconfirmed = []
        self._turn = None
        if self._failure is None:
            self._failure = failure

    def _end_turn(self) -> None:
        """Send the flush of the turn this run's last batches wait for, now (before this run
        writes anything else: its events stay in order should that flush fail)."""
        if self._turn is not None:
            self._turn.end()

    def hold(self) -> None:
        """Write nothing more before `conclude`: the run's end is next (its final event came)
        and writes what is queued with it, in its one transaction. Without this, the batch
        scheduled before the final event would be written on its own while the execution
        cleans up (one commit more for each run)."""
        if self._soon is not None:
            self._soon.cancel()
            self._soon = None

    def raise_failure(self) -> None:
        """Raise what writing a batch in the background raised (once)."""
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def still_owned(self) -> bool:
        """One primary-key read: is the run still active under this attempt?"""
        with self.store.read() as session:
            state = run_writes.run_state(session, self.run.id)
        owned = state is not None and state[0] == self.run.attempt
        return owned and not RunStatus(state[1]).is_terminal if state is not None else False

    def ended_as_ours(self) -> bool:
        """One primary-key read: did the run end (a person's cancel, an end written elsewhere)
        while this attempt is still its own (not taken over)?"""
        with self.store.read() as session:
            state = run_writes.run_state(session, self.run.id)
        return (
            state is not None and state[0] == self.run.attempt and RunStatus(state[1]).is_terminal
        )

    def abandon(self) -> None:
        """Drop what is queued (the run is lost: nothing more may be written)."""
        self._take()
        self._unconfirmed = []

    def conclude(
        self,
        final: RuntimeEvent | None,
        status: RunStatus,
        on_end: EndHook | None = None,
        **fields: Any,
    ) -> str:
        """Write the queued events, the final event (result or error) and the run's end in one
        transaction: once committed, a re-execution of the step finds the run ended and runs
        nothing again. The end checks the attempt first (a superseded or ended run writes
        nothing). ``on_end`` runs in that transaction once the end is written, with the ended
        run."""
        self._end_turn()
        pending = self._take()
        logged: list[tuple[LogKind, dict[str, Any]]] = [
            (event.kind, event_payload(event)) for event in pending
        ]
        if final is not None:
            logged.append((final.kind, event_payload(final)))
        session_id = _last_session(pending)
        if on_end is not None:
            on_end.ended_with(final)
        try:
            if self.store.is_sqlite and (on_end is None or on_end.fits_driver(status)):
                ended = self._end_on_driver(status, logged, session_id, on_end, fields)
            else:
                ended = self._end(status, logged, session_id, on_end, fields)
        except StaleAttemptError as exc:
            log.warning("%s", exc.message)
            ended = None
        if ended is None:
            self.lost = True
            return current_status(self.store, self.run)
        return ended.status.value

    def _end(
        self,
        status: RunStatus,
        logged: list[tuple[LogKind, dict[str, Any]]],
        session_id: str | None,
        on_end: EndHook | None,
        fields: dict[str, Any],
    ) -> Run | None:
        """`conclude`'s transaction through a Session (`stagent.store.lifecycle.finish`)."""
        with self.store.write() as session:
            ended = lifecycle.finish(
                session,
                self.run.id,
                status,
                attempt=self.run.attempt,
                task_id=self.task_id,
                logged=logged,
                **fields,
            )
            if ended is not None and session_id is not None:
                run_writes.set_session(flushed_connection(session), self.task_id, session_id)
            if ended is not None and on_end is not None:
                on_end(session, ended)
        return ended

    def _end_on_driver(
        self,
        status: RunStatus,
        logged: list[tuple[LogKind, dict[str, Any]]],
        session_id: str | None,
        on_end: EndHook | None,
        fields: dict[str, Any],
    ) -> Run | None:
        """`conclude`'s transaction on SQLite's bare driver connection, no Session
        (`stagent.store.hot_end`): the same rows, events and end hook."""
        with self.store.sqlite_hot_connection() as hot, hot_end.begin(hot):
            ended = hot_end.finish(
                hot,
                self.run,
                self.task_id,
                status,
                attempt=self.run.attempt,
                logged=logged,
                session_id=session_id,
                **fields,
            )
            if ended is not None and on_end is not None:
                on_end.on_driver(hot, ended)
        return ended

    def _take(self) -> list[RuntimeEvent]:
        if self._soon is not None:
            self._soon.cancel()
            self._soon = None
        pending, self._pending = self._pending, []
        return pending

    def _flush_soon(self) -> None:
        self._soon = None
        try:
            self._write(None if self.store.is_sqlite else asyncio.get_running_loop())
        except Exception as exc:
            log.warning("run %s: writing its events failed: %s", self.run.id, exc)
            self._failure = exc


def _last_session(events: list[RuntimeEvent]) -> str | None:
    """The session id the last `SessionEvent` among ``events`` names, if any."""
    for event in reversed(events):
        if isinstance(event, SessionEvent):
            return event.session_id
    return None


def current_status(store: Store, run: Run) -> str:
    """The run's status as stored (what an execution that lost the run reports)."""
    with store.read() as session:
        return run_repo.get_row(session, run.id).status
