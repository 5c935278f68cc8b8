"""Repository functions for log imports: how far each file has been read, and booking imported
provider calls once each (by their ``dedupe_key``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from sqlalchemy import Connection, Table, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from stagent.domain.ids import utcnow
from stagent.store import ledger_rollup as rollup
from stagent.store import spend_totals
from stagent.store.ledger import COMPLETED, Session
from stagent.store.tables import LedgerImportFileRow, ProjectRow, UsageLedgerRow

KEY_BATCH = 500
"""Dedupe keys looked up per query (well under every database's parameter limit)."""


@dataclass(frozen=True, slots=True)
class FileState:
    """How far one file has been read."""

    path: str
    source: str
    offset: int
    head: str
    lines: int
    state: dict[str, Any]


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
    table = cast(Table, LedgerImportFileRow.__table__)
    conn = session.connection()
    upsert = sqlite_insert(table) if conn.dialect.name == "sqlite" else pg_insert(table)
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


@dataclass(frozen=True, slots=True)
class Booked:
    """What `book_calls` did: new rows, rows replaced by a fuller copy, duplicates skipped."""

    added: int = 0
    replaced: int = 0
    duplicates: int = 0


IMPORT_COLUMNS: tuple[str, ...] = (
    "project_id", "runtime", "provider", "model", "input_tokens", "output_tokens",
    "cache_write_5m_tokens", "cache_write_1h_tokens", "cache_read_tokens", "reasoning_tokens",
    "cost_micros", "cost_source", "pricing_version", "note", "source", "dedupe_key",
    "session_id", "project_path", "raw", "finished_at",
)  # fmt: skip
"""What an imported row says, in the order of an `ImportedRow` (``raw`` and the time last)."""
ImportedRow = tuple[Any, ...]
"""One imported call's values in `IMPORT_COLUMNS` order: ``raw`` a dict, ``finished_at`` an
aware datetime (also its ``started_at``). Every other column is fixed: no task or run,
activity ``import``, status completed, not simulated. A plain tuple built straight from the
log line (a frozen dataclass per call was a tenth of an import's CPU)."""
COST_SOURCE = IMPORT_COLUMNS.index("cost_source")
DEDUPE_KEY = IMPORT_COLUMNS.index("dedupe_key")
_TOKENS = slice(IMPORT_COLUMNS.index("input_tokens"), IMPORT_COLUMNS.index("cache_read_tokens") + 1)
_FIXED: dict[str, Any] = {
    "task_id": None,
    "run_id": None,
    "activity": "import",
    "status": COMPLETED,
    "simulated": False,
}


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
_SQLITE_STORED = (
    "SELECT dedupe_key, id, input_tokens + output_tokens + cache_write_5m_tokens"
    " + cache_write_1h_tokens + cache_read_tokens FROM usage_ledger WHERE dedupe_key IN ({})"
)
"""`_STORED` for the SQLite driver (its ``IN`` list of ``?``)."""


_REPLACE = (
    update(cast(Table, UsageLedgerRow.__table__))
    .where(UsageLedgerRow.id == bindparam("new_id"))
    .values({name: bindparam(f"new_{name}") for name in (*IMPORT_COLUMNS, *_FIXED, "started_at")})
)
"""A stored call's values replaced by a fuller copy's (parameters ``new_<column>``)."""


def book_calls(session: Session, rows: Sequence[ImportedRow]) -> Booked:
    """Insert calls whose ``dedupe_key`` is new; replace a stored one when this copy has more
    tokens (a streamed response's final line after a placeholder); skip the rest.

    Every row must have a ``dedupe_key``; duplicates within ``rows`` must already be resolved
    by the caller.
    """
    existing: dict[str, tuple[str, int]] = {}
    keys = [row[DEDUPE_KEY] for row in rows]
    connection = session.connection()
    on_sqlite = connection.dialect.name == "sqlite"
    for start in range(0, len(keys), KEY_BATCH):
        chunk = keys[start : start + KEY_BATCH]
        if on_sqlite:  # the driver's own statement cache: no per-key rendering
            marks = ", ".join("?" * len(chunk))
            found = connection.exec_driver_sql(_SQLITE_STORED.format(marks), tuple(chunk))
        else:
            found = session.execute(_STORED, {"keys": chunk})
        for key, row_id, tokens in found.all():
            existing[str(key)] = (str(row_id), int(tokens))
    new_rows: list[ImportedRow] = []
    fuller: list[dict[str, Any]] = []
    duplicates = 0
    for row in rows:
        found = existing.get(row[DEDUPE_KEY])
        if found is None:
            new_rows.append(row)
        elif sum(row[_TOKENS]) > found[1]:
            fuller.append({f"new_{k}": v for k, v in _values(row, found[0]).items()})
        else:
            duplicates += 1
    if fuller:  # one statement for all of them (an ORM update each took ~6 ms)
        connection.execute(_REPLACE, fuller)
    if new_rows:
        _insert(session.connection(), new_rows)
    return Booked(len(new_rows), len(fuller), duplicates)


def batch_ids(count: int, prefix: str = "use") -> list[str]:
    """``count`` new row ids that share a random stem and then count up: unique like `new_id`,
    but neighbours in the primary-key index, so a large insert touches few of its pages."""
    stem = os.urandom(6).hex()
    return [f"{prefix}_{stem}{n:06x}" for n in range(count)]


_COLUMNS = tuple(column.name for column in UsageLedgerRow.__table__.columns)
_STAGING = "temp.usage_ledger_staging"
_SQLITE_STAGE = (
    f"CREATE TEMP TABLE usage_ledger_staging AS SELECT {', '.join(_COLUMNS)} FROM usage_ledger"
    " WHERE 0"
)
_SQLITE_FILL = (
    f"INSERT INTO {_STAGING} (id, started_at, task_id, run_id, activity, status, simulated,"
    f" {', '.join(IMPORT_COLUMNS)}) VALUES (?1, ?2, NULL, NULL, 'import', '{COMPLETED}', 0,"
    f" {', '.join(f'?{n}' for n in range(3, len(IMPORT_COLUMNS) + 2))}, ?2)"
)
"""A row's values: id, its time (both ``started_at`` and ``finished_at``), then
`IMPORT_COLUMNS` up to ``raw`` (as JSON text)."""
BYPASSED_TRIGGERS = ("spend_totals_on_insert", "usage_rollup_on_insert")
"""SQLite insert triggers on the ledger that a bulk insert drops for its one statement (and
creates again in the same transaction): it adds its rows to their tables itself, grouped."""
_TRIGGERS = (
    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'usage_ledger'"
    f" AND name IN {BYPASSED_TRIGGERS!r}"
)


def _insert(connection: Connection, rows: list[ImportedRow]) -> None:
    """Insert new rows. Elsewhere than SQLite, SQLAlchemy Core (multi-row statements, no ORM
    bookkeeping per row).

    On SQLite the rows go to a temporary table first (values converted here, once per row, and
    passed to the driver as tuples: SQLAlchemy's per-value processing was a fifth of an
    import's time), then into the ledger in one statement. One statement, not one per row,
    because the ledger has triggers (`spend_totals`, `usage_rollup`): a statement whose
    triggers write keeps a statement journal of every page it changes, and per row that copied
    each index page again for every row (two thirds of the insert's time).
    """
    ids = batch_ids(len(rows))
    if connection.dialect.name != "sqlite":
        values = [_values(row, row_id) for row, row_id in zip(rows, ids, strict=True)]
        connection.execute(insert(cast(Table, UsageLedgerRow.__table__)), values)
        return
    dumps, stamp = orjson.dumps, sqlite_stamp
    tuples = [
        (row_id, stamp(row[-1]), *row[:-2], dumps(row[-2]).decode())
        for row, row_id in zip(rows, ids, strict=True)
    ]
    connection.exec_driver_sql(_SQLITE_STAGE)
    try:
        connection.exec_driver_sql(_SQLITE_FILL, tuples)
        insert_staged(connection, _STAGING, _COLUMNS)
    finally:
        connection.exec_driver_sql(f"DROP TABLE {_STAGING}")


def insert_staged(connection: Connection, staging: str, columns: Sequence[str]) -> None:
    """SQLite: move the rows of temporary table ``staging`` into the ledger in one statement,
    then add them to ``usage_rollup`` and ``spend_totals`` in one grouped upsert each.

    The ledger's insert triggers (`BYPASSED_TRIGGERS`) are dropped for that statement and
    created again from their stored SQL, all in the caller's transaction: a row trigger costs a
    call per row even when its ``WHEN`` is false (a fifth of the insert), and its per-row
    upserts were most of a large import's trigger time. A crash rolls the drop back with the
    rows; SQLite has one writer at a time, so no other writer's rows pass untallied. Only the
    triggers found are bypassed, and only their sums are added here.
    """
    names = ", ".join(columns)
    triggers: list[tuple[str, str]] = [
        (str(name), str(sql)) for name, sql in connection.exec_driver_sql(_TRIGGERS).all()
    ]
    for name, _sql in triggers:
        connection.exec_driver_sql(f"DROP TRIGGER {name}")
    try:
        connection.exec_driver_sql(
            f"INSERT INTO usage_ledger ({names}) SELECT {names} FROM {staging}"
        )
    finally:
        _restore(connection, triggers)
    bypassed = {name for name, _sql in triggers}
    if "usage_rollup_on_insert" in bypassed:
        connection.exec_driver_sql(rollup.sqlite_staged_upsert(staging))
    if "spend_totals_on_insert" in bypassed:
        connection.exec_driver_sql(spend_totals.sqlite_staged_upsert(staging))


def _restore(connection: Connection, triggers: list[tuple[str, str]]) -> None:
    """Create the dropped triggers again (those a rolled-back transaction has not already
    brought back)."""
    present = {str(name) for (name,) in connection.exec_driver_sql(_TRIGGERS).all()}
    for name, sql in triggers:
        if name not in present:
            connection.exec_driver_sql(sql)


def sqlite_stamp(moment: datetime) -> str:
    """An instant as SQLAlchemy stores it in SQLite (UTC, ``YYYY-MM-DD HH:MM:SS.ffffff``)."""
    if moment.tzinfo is UTC:  # the offset is always "+00:00": cut it off
        return moment.isoformat(" ", "microseconds")[:26]
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _values(row: ImportedRow, row_id: str) -> dict[str, Any]:
    values = dict(zip(IMPORT_COLUMNS, row, strict=True))
    values.update(_FIXED)
    values["id"] = row_id
    values["started_at"] = row[-1]
    return values
