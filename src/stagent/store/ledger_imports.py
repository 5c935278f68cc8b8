"""Repository functions for log imports: how far each file has been read, and booking imported
provider calls once each (by their ``dedupe_key``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from stagent.domain.ids import utcnow
from stagent.store import sqlite_imports as on_sqlite
from stagent.store.database import Store
from stagent.store.ledger import Session
from stagent.store.sqlite_imports import (
    BYPASSED_TRIGGERS,
    COST_SOURCE,
    DEDUPE_KEY,
    FIXED,
    IMPORT_COLUMNS,
    KEY_BATCH,
    TOKENS,
    Booked,
    FileState,
    ImportedRow,
    batch_ids,
    sqlite_stamp,
)
from stagent.store.tables import LedgerImportFileRow, ProjectRow, UsageLedgerRow

__all__ = [  # what callers took from here before the SQLite side moved out
    "BYPASSED_TRIGGERS",
    "COST_SOURCE",
    "DEDUPE_KEY",
    "IMPORT_COLUMNS",
    "Booked",
    "FileState",
    "ImportedRow",
    "StoreImports",
    "batch_ids",
    "sqlite_stamp",
]


def driver(connection: Connection) -> Any:
    """The ``sqlite3`` connection under a SQLAlchemy one (statements on it run in the
    connection's transaction)."""
    return connection.connection.driver_connection


class StoreImports:
    """What an import reads and writes (`stagent.ledger.importers.service.ImportDatabase`),
    through a `Store`: its sessions, its write lock and change signal."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def file_states(self, source: str) -> dict[str, FileState]:
        """Every stored read position of ``source``."""
        with self._store.read() as session:
            return file_states(session, source)

    def project_directories(self) -> list[tuple[str, str]]:
        """(project id, working directory) of every project that has one."""
        with self._store.read() as session:
            return project_directories(session)

    def render(self, row: ImportedRow) -> ImportedRow:
        """The row as `book` takes it: as it is."""
        return row

    def book(
        self, rows: list[ImportedRow], states: list[FileState], *, last: bool = True
    ) -> Booked:
        """Book ``rows`` and move the files' read positions, in one transaction (committed
        at once whatever ``last`` says: a store's write lock is not held across batches)."""
        del last
        if not rows and not states:
            return Booked()
        with self._store.write() as session:
            booked = book_calls(session, rows)
            save_file_states(session, states)
        return booked


def file_state(session: Session, path: str) -> FileState | None:
    """The stored read position of ``path`` (None: never imported)."""
    row = session.get(LedgerImportFileRow, path)
    if row is None:
        return None
    return FileState(row.path, row.source, row.offset, row.head, row.lines, dict(row.state or {}))


def file_states(session: Session, source: str) -> dict[str, FileState]:
    """Every stored read position of one source, by path."""
    rows = session.scalars(select(LedgerImportFileRow).where(LedgerImportFileRow.source == source))
    return {
        row.path: FileState(
            row.path, row.source, row.offset, row.head, row.lines, dict(row.state or {})
        )
        for row in rows
    }


def save_file_state(session: Session, state: FileState) -> None:
    """Store (or move) the read position of one file."""
    row = session.get(LedgerImportFileRow, state.path)
    if row is None:
        row = LedgerImportFileRow(path=state.path)
        session.add(row)
    row.source = state.source
    row.offset = state.offset
    row.head = state.head
    row.lines = state.lines
    row.state = state.state
    row.updated_at = utcnow()


def save_file_states(session: Session, states: Sequence[FileState]) -> None:
    """Store (or move) the read positions of many files in one statement (an upsert per file
    through the ORM was most of an incremental import's time)."""
    if not states:
        return
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        on_sqlite.save_file_states(driver(conn), states)
        return
    table = cast(Table, LedgerImportFileRow.__table__)
    upsert = pg_insert(table)
    changed = ("source", "offset", "head", "lines", "state", "updated_at")
    statement = upsert.on_conflict_do_update(
        index_elements=["path"], set_={name: upsert.excluded[name] for name in changed}
    )
    now = utcnow()
    conn.execute(
        statement,
        [
            {
                "path": state.path,
                "source": state.source,
                "offset": state.offset,
                "head": state.head,
                "lines": state.lines,
                "state": state.state,
                "updated_at": now,
            }
            for state in states
        ],  # fmt: skip
    )


def project_directories(session: Session) -> list[tuple[str, str]]:
    """(project id, working directory) of every project that has one."""
    rows = session.execute(
        select(ProjectRow.id, ProjectRow.working_directory).where(
            ProjectRow.working_directory.is_not(None)
        )
    ).all()
    return [(str(pid), str(directory)) for pid, directory in rows if directory]


_STORED = select(
    UsageLedgerRow.dedupe_key,
    UsageLedgerRow.id,
    UsageLedgerRow.input_tokens
    + UsageLedgerRow.output_tokens
    + UsageLedgerRow.cache_write_5m_tokens
    + UsageLedgerRow.cache_write_1h_tokens
    + UsageLedgerRow.cache_read_tokens,
).where(UsageLedgerRow.dedupe_key.in_(bindparam("keys", expanding=True)))
"""The stored calls among some dedupe keys, with their token totals (one statement compiled
once: an ``IN`` of literals was coerced and rendered value by value, per query)."""
_REPLACE = (
    update(cast(Table, UsageLedgerRow.__table__))
    .where(UsageLedgerRow.id == bindparam("new_id"))
    .values({name: bindparam(f"new_{name}") for name in (*IMPORT_COLUMNS, *FIXED, "started_at")})
)
"""A stored call's values replaced by a fuller copy's (parameters ``new_<column>``)."""


def book_calls(session: Session, rows: Sequence[ImportedRow]) -> Booked:
    """Insert calls whose ``dedupe_key`` is new; replace a stored one when this copy has more
    tokens (a streamed response's final line after a placeholder); skip the rest.

    Every row must have a ``dedupe_key``; duplicates within ``rows`` must already be resolved
    by the caller. On SQLite, `stagent.store.sqlite_imports.book_calls` on the driver
    connection (the code ``stagent ledger import`` runs without a workspace).
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        return on_sqlite.book_calls(driver(connection), rows)
    existing: dict[str, tuple[str, int]] = {}
    keys = [row[DEDUPE_KEY] for row in rows]
    for start in range(0, len(keys), KEY_BATCH):
        found = session.execute(_STORED, {"keys": keys[start : start + KEY_BATCH]})
        for key, row_id, tokens in found.all():
            existing[str(key)] = (str(row_id), int(tokens))
    new_rows: list[ImportedRow] = []
    fuller: list[dict[str, Any]] = []
    duplicates = 0
    for row in rows:
        stored = existing.get(row[DEDUPE_KEY])
        if stored is None:
            new_rows.append(row)
        elif sum(row[TOKENS]) > stored[1]:
            fuller.append({f"new_{k}": v for k, v in _values(row, stored[0]).items()})
        else:
            duplicates += 1
    if fuller:  # one statement for all of them (an ORM update each took ~6 ms)
        connection.execute(_REPLACE, fuller)
    if new_rows:
        _insert(connection, new_rows)
    return Booked(len(new_rows), len(fuller), duplicates)


def _insert(connection: Connection, rows: list[ImportedRow]) -> None:
    """Insert new rows: SQLAlchemy Core elsewhere than SQLite (multi-row statements, no ORM
    bookkeeping per row); on SQLite `stagent.store.sqlite_imports.insert_rows` (a temporary
    table, then one statement into the ledger)."""
    if connection.dialect.name == "sqlite":
        on_sqlite.insert_rows(driver(connection), rows)
        return
    ids = batch_ids(len(rows))
    values = [_values(row, row_id) for row, row_id in zip(rows, ids, strict=True)]
    connection.execute(insert(cast(Table, UsageLedgerRow.__table__)), values)


def insert_staged(connection: Connection, staging: str, columns: Sequence[str]) -> None:
    """SQLite: move the rows of temporary table ``staging`` (``columns``) into the ledger in one
    statement with the grouped rollup and spend-total upserts
    (`stagent.store.sqlite_imports.insert_staged`), in the connection's transaction."""
    on_sqlite.insert_staged(driver(connection), staging, columns)


def _values(row: ImportedRow, row_id: str) -> dict[str, Any]:
    values = dict(zip(IMPORT_COLUMNS, row, strict=True))
    values.update(FIXED)
    values["id"] = row_id
    values["started_at"] = row[-1]
    return values
