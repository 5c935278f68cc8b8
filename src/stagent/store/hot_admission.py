"""A budget admission's common case straight on a driver connection, with no Session
(`stagent.governance.budgets_state.admit_hot`): the transaction begins serialized and reads
every cap's sums and the policy's fingerprint, then either rolls back (nothing was written: the
caller admits through `Store.write`) or writes the reservation and its note and commits.

- PostgreSQL, on a hot connection (`stagent.store.hot`): two round trips, ``BEGIN``, the
  admission lock and the sums (`spend_totals.hot_admission_sums`), then the reservation row,
  its note, ``COMMIT`` and the publish (`feed.commit_and_publish_hot`).
- SQLite, on the pool's driver connection (`Store.sqlite_hot_connection`): ``BEGIN IMMEDIATE``
  (the file's write lock), the sums, the two inserts (`ledger.insert_on_driver`,
  `events.append_on_driver`), ``COMMIT``: the statements `Store.write` would send, without
  SQLAlchemy's Session, connection and execute machinery around them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from stagent.domain.events import LogKind
from stagent.domain.ids import utcnow
from stagent.domain.scrub import scrub
from stagent.store import budgets as budget_repo
from stagent.store import events as event_repo
from stagent.store import feed, spend_totals
from stagent.store import ledger as ledger_repo
from stagent.store.events import OutboxRow
from stagent.store.hot import HotConnection, SqliteHotConnection
from stagent.store.ledger import LedgerEntry, NewLedgerEntry
from stagent.store.spend_totals import AdmissionSums, LimitQuery

Note = tuple[LogKind, dict[str, Any]]
"""The event a task's run gets for its reservation: kind and payload."""


class HotAdmission(Protocol):
    """The statements of an admission's common case on one driver connection."""

    def sums(self, queries: Sequence[LimitQuery], run_id: str | None) -> AdmissionSums | None:
        """Begin the (serialized) transaction and read every cap's sums, the policy's
        fingerprint and whether run ``run_id`` holds a reservation. None (nothing begun) if a
        window does not start on a quarter hour."""
        ...

    def roll_back(self) -> None:
        """End the transaction `sums` began, writing nothing."""
        ...

    def reserve(self, new: NewLedgerEntry, note: Note | None) -> LedgerEntry:
        """Insert the reservation row (and its ``note``, an event of ``new``'s task and run),
        commit and publish; the row added."""
        ...


class PgHotAdmission:
    """`HotAdmission` on a PostgreSQL hot connection."""

    def __init__(self, hot: HotConnection) -> None:
        self._hot = hot

    def sums(self, queries: Sequence[LimitQuery], run_id: str | None) -> AdmissionSums | None:
        """See `HotAdmission.sums` (the admission lock taken with ``BEGIN``)."""
        hot = self._hot
        lock = budget_repo.LOCK_SQL
        return spend_totals.hot_admission_sums(hot.driver, hot.info, lock, queries, run_id)

    def roll_back(self) -> None:
        """See `HotAdmission.roll_back`."""
        feed.roll_back(self._hot.driver)

    def reserve(self, new: NewLedgerEntry, note: Note | None) -> LedgerEntry:
        """See `HotAdmission.reserve` (one round trip, the publish included)."""
        driver = self._hot.driver
        sql, entry = ledger_repo.insert_statement(feed.literal_maker(driver), new)
        held: list[OutboxRow] = []
        if note is not None and new.task_id is not None:
            kind, payload = note
            payload = scrub(payload, self._hot.secrets)
            held.append((new.task_id, new.run_id, "task", new.task_id, kind, payload, utcnow()))
        feed.commit_and_publish_hot(driver, [sql], held)
        return entry


class SqliteHotAdmission:
    """`HotAdmission` on SQLite's driver connection."""

    def __init__(self, hot: SqliteHotConnection) -> None:
        self._hot = hot

    def sums(self, queries: Sequence[LimitQuery], run_id: str | None) -> AdmissionSums | None:
        """See `HotAdmission.sums` (``BEGIN IMMEDIATE``: the file's write lock)."""
        hot = self._hot
        return spend_totals.sqlite_hot_admission_sums(hot.driver, hot.dialect, queries, run_id)

    def roll_back(self) -> None:
        """See `HotAdmission.roll_back`."""
        self._hot.driver.rollback()

    def reserve(self, new: NewLedgerEntry, note: Note | None) -> LedgerEntry:
        """See `HotAdmission.reserve` (SQLite has no outbox: the note goes to the feed)."""
        hot = self._hot
        driver = hot.driver
        try:
            entry = ledger_repo.insert_on_driver(driver, hot.dialect, new)
            if note is not None and new.task_id is not None:
                kind, payload = note
                event_repo.append_on_driver(
                    driver, hot.dialect, hot.secrets, new.task_id, kind, payload, run_id=new.run_id
                )
            driver.commit()
        except BaseException:
            driver.rollback()
            raise
        return entry
