"""Log imports on SQLite through a plain ``sqlite3`` connection: read positions, booking calls
once each, the bulk insert with its grouped rollup and spend-total upserts.

Both ways of importing run this code on SQLite: `stagent.store.ledger_imports` hands it the
driver connection of a `Store` session, and ``stagent ledger import`` on a SQLite file at the
newest migration opens `SqliteImports` without building a workspace (importing SQLAlchemy, its
ORM and our tables was most of the command's start-up: `open_sqlite_imports`).

This module must not import SQLAlchemy, directly or through another ``stagent.store`` module.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import quote

CACHE_KIB = 32768
"""The page cache of an import's own connection (KiB; SQLite's default is 2,000)."""
COMMIT_CALLS = 40_000
"""Calls an import's connection books before it commits (a large first import books batches of
`service.BATCH_CALLS`; a commit of each wrote the pages their random dedupe keys touched again
and again, and checkpointed them: fewer commits, fewer writes; at 1 GiB of logs 10k -> 40k
calls a commit: 17 -> 5 commits, 111k -> 83k page writes, 37k -> 28k page reads, 52 -> 16
fsyncs, the same peak memory). The write lock is held from the first batch to the commit; a
killed import loses at most this many calls' reading (a re-run reads them again)."""
KEY_BATCH = 500
"""Dedupe keys looked up per query (well under every database's parameter limit)."""
COMPLETED = "completed"
"""An imported call's status (`stagent.store.ledger.COMPLETED`)."""

HOUR, DAY = 3600, 86400
"""The grains of ``usage_rollup`` (seconds)."""
QUARTER = 900
"""The finer grain of ``spend_totals`` (its other is `DAY`)."""
CALL_STATUSES = ("completed", "failed", "cancelled")
"""Ledger rows that are calls (the rollup sums only these)."""
ROLLUP_SUMS = (
    "requests", "input_tokens", "output_tokens", "cache_write_5m_tokens",
    "cache_write_1h_tokens", "cache_read_tokens", "cost_micros", "unpriced",
)  # fmt: skip
ROLLUP_KEY = ("grain", "bucket", "runtime", "model", "project_id", "source", "simulated", "status")


def bind_none_directly() -> None:
    """Have ``sqlite3`` bind ``None`` without searching for an adapter (process-wide, once).

    Python 3.11's ``sqlite3`` adapts every parameter that is not exactly an int, float, str or
    bytearray: for ``None`` it looks up the adapter registry, then asks its protocol type for
    ``__adapt__`` (an AttributeError made and cleared each time) and ``None`` for
    ``__conform__``: ~3,200 instructions a ``None`` (callgrind), and an imported row binds two
    or three (no project, no note). An adapter registered for ``NoneType`` that returns
    ``None`` ends the search at the registry (~1,100) and binds NULL as before, so it changes
    nothing for any other connection of the process (SQLAlchemy's included)."""
    key = (type(None), sqlite3.PrepareProtocol)
    if key not in sqlite3.adapters:
        sqlite3.register_adapter(type(None), _NO_ADAPTATION)


_NOTHING: dict[None, None] = {}
_NO_ADAPTATION: Callable[[None], None] = _NOTHING.get
"""``None`` -> ``None``, called from C without a Python frame."""


class FileState(NamedTuple):
    """How far one file has been read."""

    path: str
    source: str
    offset: int
    head: str
    lines: int
    state: dict[str, Any]


class Booked(NamedTuple):
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
TOKENS = slice(IMPORT_COLUMNS.index("input_tokens"), IMPORT_COLUMNS.index("cache_read_tokens") + 1)
"""The token counts a copy's fullness is judged by."""
FIXED: dict[str, Any] = {
    "task_id": None,
    "run_id": None,
    "activity": "import",
    "status": COMPLETED,
    "simulated": False,
}
"""The columns every imported row has the same value in."""

_STORED = (
    "SELECT dedupe_key, id, input_tokens + output_tokens + cache_write_5m_tokens"
    " + cache_write_1h_tokens + cache_read_tokens FROM usage_ledger WHERE dedupe_key IN ({})"
)
"""The stored calls among some dedupe keys, with their token totals."""
_REPLACE = (
    f"UPDATE usage_ledger SET {', '.join(f'{name} = ?' for name in IMPORT_COLUMNS)},"
    f" started_at = ?, task_id = NULL, run_id = NULL, activity = 'import',"
    f" status = '{COMPLETED}', simulated = 0 WHERE id = ?"
)
"""A stored call's values replaced by a fuller copy's (`IMPORT_COLUMNS`, ``started_at``, id)."""
_STAGING = "temp.usage_ledger_staging"
_STAGE = "CREATE TEMP TABLE usage_ledger_staging AS SELECT * FROM usage_ledger WHERE 0"
_FILL = (
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
_SAVE_STATES = (
    'INSERT INTO ledger_import_files (path, source, "offset", head, lines, state, updated_at)'
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET source = excluded.source,"
    ' "offset" = excluded."offset", head = excluded.head, lines = excluded.lines,'
    " state = excluded.state, updated_at = excluded.updated_at"
)


def sqlite_stamp(moment: datetime) -> str:
    """An instant as SQLAlchemy stores it in SQLite (UTC, ``YYYY-MM-DD HH:MM:SS.ffffff``)."""
    if moment.tzinfo is UTC:  # the offset is always "+00:00": cut it off
        return moment.isoformat(" ", "microseconds")[:26]
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def batch_ids(count: int, prefix: str = "use") -> list[str]:
    """``count`` new row ids that share a random stem and then count up: unique like `new_id`,
    but neighbours in the primary-key index, so a large insert touches few of its pages."""
    stem = os.urandom(6).hex()
    return [f"{prefix}_{stem}{n:06x}" for n in range(count)]


def file_states(conn: sqlite3.Connection, source: str) -> dict[str, FileState]:
    """Every stored read position of one source, by path."""
    found = conn.execute(
        'SELECT path, source, "offset", head, lines, state FROM ledger_import_files'
        " WHERE source = ?",
        (source,),
    )
    return {
        str(path): FileState(
            str(path), str(kind), int(offset), str(head), int(lines), dict(_json(state) or {})
        )
        for path, kind, offset, head, lines, state in found
    }


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def save_file_states(conn: sqlite3.Connection, states: Sequence[FileState]) -> None:
    """Store (or move) the read positions of many files in one statement."""
    if not states:
        return
    now = sqlite_stamp(datetime.now(UTC))  # not `domain.ids.utcnow`: its module loads `secrets`
    conn.executemany(
        _SAVE_STATES,
        [(s.path, s.source, s.offset, s.head, s.lines, json.dumps(s.state), now) for s in states],
    )


def project_directories(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(project id, working directory) of every project that has one."""
    found = conn.execute(
        "SELECT id, working_directory FROM projects WHERE working_directory IS NOT NULL"
    )
    return [(str(pid), str(directory)) for pid, directory in found if directory]


def render_row(row: ImportedRow) -> ImportedRow:
    """``row`` as SQLite stores it: ``raw`` as JSON text, ``finished_at`` as `sqlite_stamp`
    text (which sorts as the time does). A large import renders its rows in the process that
    reads them (`SqliteImports.render`), so the booking process only binds them."""
    encode, stamp = _RENDERERS[0] if _RENDERERS else _renderers()
    return (*row[:-2], encode(row[-2]).decode(), stamp(row[-1]))


_RENDERERS: list[tuple[Callable[[Any], bytes], Callable[[datetime], str]]] = []
"""The JSON encoder rows are rendered with and their time's `sqlite_stamp`, chosen on first
use. JSON: orjson's if it is loaded (a large import loads it before it forks: ~0.25 us a row
less), else msgspec's (the parsers load msgspec anyway, and a re-run that loads no orjson
starts ~4 ms sooner); both give the same bytes (compact, UTF-8, the same escapes). Time:
`fast_stamp` with msgspec's encoder."""


def _renderers() -> tuple[Callable[[Any], bytes], Callable[[datetime], str]]:
    import sys

    from stagent.lean import load_msgspec

    load_msgspec()  # without typing_extensions where nothing loaded it (a no-op if loaded)
    from msgspec.json import encode as msgspec_encode

    orjson = sys.modules.get("orjson")
    encode: Callable[[Any], bytes] = msgspec_encode if orjson is None else orjson.dumps

    def stamp(moment: datetime) -> str:
        return fast_stamp(moment, msgspec_encode)

    _RENDERERS.append((encode, stamp))
    return encode, stamp


def fast_stamp(moment: datetime, encode: Callable[[Any], bytes]) -> str:
    """`sqlite_stamp`, for a UTC instant from its RFC 3339 text by msgspec's ``encode``
    (``"YYYY-MM-DDTHH:MM:SS[.ffffff]Z"``, made in C: ~1 us against ~5 us for
    ``isoformat``, whose ``PyUnicode_FromFormat`` was ~7,000 instructions a row); any other
    instant through `sqlite_stamp` itself."""
    if moment.tzinfo is not UTC:
        return sqlite_stamp(moment)
    text = encode(moment)
    if text[20] == 46:  # "." after the seconds: a fraction, always six digits
        return text[1:27].decode().replace("T", " ")
    return text[1:20].decode().replace("T", " ") + ".000000"


def book_calls(conn: sqlite3.Connection, rows: Sequence[ImportedRow]) -> Booked:
    """Insert calls whose ``dedupe_key`` is new; replace a stored one when this copy has more
    tokens (a streamed response's final line after a placeholder); skip the rest.

    Every row must have a ``dedupe_key``; duplicates within ``rows`` must already be resolved
    by the caller. Runs in the caller's transaction.
    """
    return book_rendered(conn, [render_row(row) for row in rows])


def book_rendered(
    conn: sqlite3.Connection, rows: Sequence[ImportedRow], held: Held | None = None
) -> Booked:
    """`book_calls` of rows already rendered (`render_row`); ``held``: the transaction's
    bulk-insert set-up, kept from batch to batch (`Held`; None: set up and undone here)."""
    bind_none_directly()
    existing: dict[str, tuple[str, int]] = {}
    keys = [row[DEDUPE_KEY] for row in rows]
    for start in range(0, len(keys), KEY_BATCH):
        chunk = keys[start : start + KEY_BATCH]
        found = conn.execute(_STORED.format(", ".join("?" * len(chunk))), chunk)
        for key, row_id, tokens in found:
            existing[str(key)] = (str(row_id), int(tokens))
    new_rows: list[ImportedRow] = []
    fuller: list[tuple[Any, ...]] = []
    duplicates = 0
    for row in rows:
        stored = existing.get(row[DEDUPE_KEY])
        if stored is None:
            new_rows.append(row)
        elif sum(row[TOKENS]) > stored[1]:
            fuller.append((*row, row[-1], stored[0]))
        else:
            duplicates += 1
    if fuller:  # one statement for all of them (an ORM update each took ~6 ms)
        conn.executemany(_REPLACE, fuller)
    if new_rows:
        _insert_rendered(conn, new_rows, held)
    return Booked(len(new_rows), len(fuller), duplicates)


def insert_rows(conn: sqlite3.Connection, rows: Sequence[ImportedRow]) -> None:
    """Insert new rows: into a temporary table first (values converted here, once per row),
    then into the ledger in one statement (`insert_staged`). One statement, not one per row,
    because the ledger has triggers (`spend_totals`, `usage_rollup`): a statement whose
    triggers write keeps a statement journal of every page it changes, and per row that copied
    each index page again for every row (two thirds of the insert's time)."""
    _insert_rendered(conn, [render_row(row) for row in rows])


def _insert_rendered(
    conn: sqlite3.Connection, rows: Sequence[ImportedRow], held: Held | None = None
) -> None:
    ids = batch_ids(len(rows))
    tuples = [(row_id, row[-1], *row[:-1]) for row, row_id in zip(rows, ids, strict=True)]
    if held is not None:  # the staging table and the dropped triggers stay for the next batch
        bypassed = held.ready(conn)
        conn.executemany(_FILL, tuples)
        _move_staged(conn, _STAGING, None)
        _add_staged(conn, _STAGING, bypassed)
        conn.execute(f"DELETE FROM {_STAGING}")
        return
    conn.execute(_STAGE)
    try:
        conn.executemany(_FILL, tuples)
        insert_staged(conn, _STAGING)
    finally:
        conn.execute(f"DROP TABLE {_STAGING}")


class Held:
    """A plain import transaction's bulk-insert set-up, made at its first insert and undone
    just before it commits (`release`), not around every batch: the staging table, and the
    bypassed insert triggers (`insert_staged`). Schema changes are what a batch paid most for
    beyond its rows: each drop and create of a trigger or table is a statement, and makes
    every cached statement (the upserts, the fill, the lookups) be prepared again. A rolled-
    back transaction undoes all of it (triggers back, staging table gone) with the rows."""

    __slots__ = ("triggers",)

    def __init__(self) -> None:
        self.triggers: list[tuple[str, str]] | None = None
        """The triggers dropped (name, SQL) while set up (None: not set up)."""

    def ready(self, conn: sqlite3.Connection) -> set[str]:
        """Set up (once): the staging table made, the insert triggers dropped; their names."""
        if self.triggers is None:
            conn.execute(_STAGE)
            self.triggers = _drop_triggers(conn)
        return {name for name, _sql in self.triggers}

    def release(self, conn: sqlite3.Connection) -> None:
        """Undo the set-up (before the transaction commits): triggers back, staging gone."""
        if self.triggers is None:
            return
        _restore_triggers(conn, self.triggers)
        conn.execute(f"DROP TABLE {_STAGING}")
        self.triggers = None


def insert_staged(
    conn: sqlite3.Connection, staging: str, columns: Sequence[str] | None = None
) -> None:
    """Move the rows of temporary table ``staging`` into the ledger in one statement (its
    ``columns``; None: the table has the ledger's columns in their order), then add them to
    ``usage_rollup`` and ``spend_totals`` in one grouped upsert each.

    The ledger's insert triggers (`BYPASSED_TRIGGERS`) are dropped for that statement and
    created again from their stored SQL, all in the caller's transaction: a row trigger costs a
    call per row even when its ``WHEN`` is false (a fifth of the insert), and its per-row
    upserts were most of a large import's trigger time. A crash rolls the drop back with the
    rows; SQLite has one writer at a time, so no other writer's rows pass untallied. Only the
    triggers found are bypassed, and only their sums are added here. (A plain import keeps
    them dropped from its first batch to its commit: `Held`.)
    """
    triggers = _drop_triggers(conn)
    try:
        _move_staged(conn, staging, columns)
    finally:
        _restore_triggers(conn, triggers)
    _add_staged(conn, staging, {name for name, _sql in triggers})


def _drop_triggers(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """Drop the ledger's `BYPASSED_TRIGGERS` that exist; (name, SQL) of those dropped."""
    triggers = [(str(name), str(sql)) for name, sql in conn.execute(_TRIGGERS).fetchall()]
    for name, _sql in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    return triggers


def _restore_triggers(conn: sqlite3.Connection, triggers: list[tuple[str, str]]) -> None:
    present = {str(name) for (name, _sql) in conn.execute(_TRIGGERS).fetchall()}
    for name, sql in triggers:  # those a rolled-back transaction has not brought back
        if name not in present:
            conn.execute(sql)


def _move_staged(conn: sqlite3.Connection, staging: str, columns: Sequence[str] | None) -> None:
    if columns is None:
        conn.execute(f"INSERT INTO usage_ledger SELECT * FROM {staging}")
    else:
        names = ", ".join(columns)
        conn.execute(f"INSERT INTO usage_ledger ({names}) SELECT {names} FROM {staging}")


def _add_staged(conn: sqlite3.Connection, staging: str, bypassed: set[str]) -> None:
    """Add the rows of ``staging`` to the sums whose insert triggers were ``bypassed``."""
    if "usage_rollup_on_insert" in bypassed:
        conn.execute(rollup_staged_upsert(staging))
    if "spend_totals_on_insert" in bypassed:
        conn.execute(spend_staged_upsert(staging))


def rollup_staged_upsert(staging: str) -> str:
    """Add the call rows of table ``staging`` (ledger columns) to both ``usage_rollup`` grains
    in one grouped upsert: what a bulk insert runs while the row triggers are bypassed, the
    same sums the triggers would add.

    The rows are summed per UTC hour first, by the hour's text (``finished_at`` as stored,
    `sqlite_stamp`: ``YYYY-MM-DD HH``...), and only those sums get an epoch and go to both
    grains: ``strftime`` twice a row and a sort of twice the rows were ~0.3 s of a 256 MiB
    import's booking; per hour, ~0.12 s."""
    tokens = ROLLUP_SUMS[1:6]
    sums = [
        "count(*)",
        *(f"sum(d.{name})" for name in tokens),
        "sum(d.cost_micros)",
        "sum(d.cost_source = 'unpriced')",
    ]
    hours = (
        "SELECT substr(d.finished_at, 1, 13) AS hour, d.runtime AS runtime,"
        " coalesce(d.model, '') AS model, coalesce(d.project_id, '') AS project_id,"
        " d.source AS source, d.simulated AS simulated, d.status AS status, "
        + ", ".join(f"{total} AS {name}" for total, name in zip(sums, ROLLUP_SUMS, strict=True))
        + f" FROM {staging} AS d WHERE d.status IN {CALL_STATUSES!r} GROUP BY 1, 2, 3, 4, 5, 6, 7"
    )
    epoch = "CAST(strftime('%s', h.hour || ':00:00') AS INTEGER)"
    positions = ", ".join(str(n) for n in range(1, len(ROLLUP_KEY) + 1))
    update = ", ".join(f"{name} = usage_rollup.{name} + excluded.{name}" for name in ROLLUP_SUMS)
    return (
        f"INSERT INTO usage_rollup ({', '.join((*ROLLUP_KEY, *ROLLUP_SUMS))})"
        f" SELECT g.grain, {epoch} / g.grain, h.runtime, h.model, h.project_id, h.source,"
        f" h.simulated, h.status, {', '.join(f'sum(h.{name})' for name in ROLLUP_SUMS)}"
        f" FROM ({hours}) AS h, (SELECT {HOUR} AS grain UNION ALL SELECT {DAY}) AS g"
        f" GROUP BY {positions}"
        f" ON CONFLICT ({', '.join(ROLLUP_KEY)}) DO UPDATE SET {update}"
    )


def spend_staged_upsert(staging: str) -> str:
    """Add the rows budgets count (source ``run``, not simulated, with a cost) of table
    ``staging`` (ledger columns) to their ``spend_totals`` buckets in one grouped upsert: what
    a bulk insert runs while the insert trigger (migration 0018) is bypassed, the same sums the
    trigger would add."""
    epoch = "CAST(strftime('%s', d.finished_at) AS INTEGER)"
    grains = f"(SELECT {QUARTER} AS grain UNION ALL SELECT {DAY})"
    scopes = "(SELECT 'overall' AS scope UNION ALL SELECT 'runtime' UNION ALL SELECT 'project')"
    ref = "CASE s.scope WHEN 'overall' THEN '' WHEN 'runtime' THEN d.runtime ELSE d.project_id END"
    tracked = (
        "d.source = 'run' AND d.simulated = 0 AND d.cost_micros <> 0 AND d.finished_at IS NOT NULL"
    )
    return (
        "INSERT INTO spend_totals (scope, ref, grain, bucket, total_micros)"
        " SELECT scope, ref, grain, bucket, sum(cost) FROM"
        f" (SELECT s.scope AS scope, {ref} AS ref, g.grain AS grain,"
        f" {epoch} / g.grain AS bucket, d.cost_micros AS cost"
        f" FROM {staging} AS d, {scopes} AS s, {grains} AS g WHERE {tracked})"
        " WHERE ref IS NOT NULL GROUP BY scope, ref, grain, bucket"
        " ON CONFLICT (scope, ref, grain, bucket)"
        " DO UPDATE SET total_micros = total_micros + excluded.total_micros"
    )


def open_sqlite_imports(url: str) -> SqliteImports | None:
    """Imports straight into the SQLite file at ``url`` if it exists, is at the newest
    migration and has its owner enrolled; otherwise None (open the workspace, which creates or
    migrates it)."""
    from stagent.store.migrate import script_heads
    from stagent.store.sqlite_files import ready_workspace, sqlite_file

    path = sqlite_file(url)
    heads = script_heads()
    if path is None or heads is None:
        return None
    try:
        conn = sqlite3.connect(
            f"file:{quote(path)}?mode=rw", uri=True, isolation_level=None, timeout=30
        )
    except sqlite3.Error:  # no file yet
        return None
    try:
        _set_pragmas(conn)
    except sqlite3.Error:
        conn.close()
        return None
    if not ready_workspace(conn, heads):
        conn.close()
        return None
    return SqliteImports(conn, path)


_LEFT: list[sqlite3.Connection] = []
"""Connections left open until the process ends (`SqliteImports.close`)."""


def _set_pragmas(conn: sqlite3.Connection) -> None:
    """As `stagent.store.engine` sets them on every connection of a `Store`; and, for this
    connection's bulk work (`IMPORT_PRAGMAS`), the staging table in memory and a larger cache."""
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    for pragma in IMPORT_PRAGMAS:
        conn.execute(pragma)


IMPORT_PRAGMAS = (
    "PRAGMA temp_store=MEMORY",
    f"PRAGMA cache_size=-{CACHE_KIB}",
    "PRAGMA synchronous=FULL",
)
"""An import connection's own settings: its staging table (`_STAGE`, created and dropped per
batch) lives in memory, not in a temporary file written and read back (at 1 GiB of logs ~190
MiB of writes); its page cache holds the ledger's indexes, whose pages a batch of new calls
(random dedupe keys) touches all over (SQLite's default 2 MiB read them back from the file:
~460 -> ~120 MiB read at 1 GiB; the cache fills only as pages are used: a re-run stays small);
and each commit is durable in the WAL when COMMIT returns (``FULL``: one WAL sync a commit), so
the connection may be left unclosed at the process's end (`SqliteImports.close`)."""
LEFT_WAL_BYTES = 4 << 20
"""The largest WAL an exiting import leaves for the next opener rather than checkpointing it
at its close (`SqliteImports.close`): about SQLite's automatic checkpoint (1,000 pages), which
the next commits run anyway; the next opener reads what is left (~1 ms a MiB)."""


class SqliteImports:
    """What an import reads and writes (`stagent.ledger.importers.service.ImportDatabase`), on
    one plain ``sqlite3`` connection. Writers take the write lock at ``BEGIN IMMEDIATE``, as a
    `Store`'s do."""

    def __init__(self, conn: sqlite3.Connection, path: str | None = None) -> None:
        """``path``: the database file (None: an exiting close checkpoints as any close)."""
        self._conn = conn
        self._path = path
        self._held = 0
        """Calls booked in the open transaction."""
        self._setup = Held()
        """Its bulk-insert set-up (`Held`)."""

    def close(self, *, exiting: bool = False) -> None:
        """Release the connection. ``exiting``: the process ends next without tearing down
        (`os._exit`): with no transaction open and a WAL of at most `LEFT_WAL_BYTES`, the
        connection is left open (held in `_LEFT`) and ends with the process, so SQLite does not
        checkpoint at the close (the WAL's pages copied into the database file, both synced,
        the WAL and its index deleted: at 1 GiB of logs a re-run's 325 pages, two of its four
        fdatasyncs). Its commits are already durable in the WAL (`IMPORT_PRAGMAS`); the next
        opener reads the WAL as after any crash, and the next commits checkpoint it."""
        conn = self._conn
        if exiting and self._path is not None and not conn.in_transaction:
            try:
                wal = os.stat(f"{self._path}-wal")  # noqa: PTH116 (no pathlib here)
                left = wal.st_size <= LEFT_WAL_BYTES
            except OSError:  # no WAL: nothing to checkpoint either
                left = True
            if left:
                _LEFT.append(conn)
                return
        conn.close()

    def file_states(self, source: str) -> dict[str, FileState]:
        """Every stored read position of ``source``."""
        return file_states(self._conn, source)

    def project_directories(self) -> list[tuple[str, str]]:
        """(project id, working directory) of every project that has one."""
        return project_directories(self._conn)

    def render(self, row: ImportedRow) -> ImportedRow:
        """The row as `book` takes it (`render_row`)."""
        return render_row(row)

    def book(
        self, rows: list[ImportedRow], states: list[FileState], *, last: bool = True
    ) -> Booked:
        """Book ``rows`` (`render`-ed) and move the files' read positions, in one transaction
        with the batches booked before it since the last commit: committed when ``last`` or
        once `COMMIT_CALLS` calls are held (a batch and its read positions always commit
        together, so a killed import loses only uncommitted batches, which a re-run reads
        again)."""
        conn = self._conn
        if not conn.in_transaction:
            if not rows and not states:
                return Booked()
            conn.execute("BEGIN IMMEDIATE")
            self._held = 0
            self._setup = Held()
        self._held += len(rows)
        commit = last or self._held >= COMMIT_CALLS
        try:
            booked = book_rendered(conn, rows, self._setup)
            save_file_states(conn, states)
            if commit:
                self._setup.release(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if commit:
            conn.execute("COMMIT")
        return booked
