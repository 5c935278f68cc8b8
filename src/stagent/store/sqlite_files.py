"""Whether plain ``sqlite3`` may use a SQLite file as it is: the file of a URL, and whether the
workspace in it is ready (newest migration, owner enrolled).

Shared by the plain readers (`stagent.store.sqlite_reads`) and the plain import
(`stagent.store.sqlite_imports`); it imports no domain model, so the import's start-up does not
pay for the readers' (run options build pydantic models). No SQLAlchemy either.
"""

from __future__ import annotations

import sqlite3

from stagent.store.migrate import VERSION_TABLE


def sqlite_file(url: str) -> str | None:
    """The file of a plain ``sqlite:///path`` URL (None for anything else: other databases,
    in-memory SQLite, URLs with query options)."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            path = url.removeprefix(prefix)
            if path and path != ":memory:" and "?" not in path:
                return path
    return None


def ready_workspace(conn: sqlite3.Connection, heads: frozenset[str]) -> bool:
    """True if the file on ``conn`` records exactly the migration ``heads`` and has its owner
    enrolled: a workspace nothing needs to create, migrate or enrol before plain ``sqlite3``
    may read or write it (anything else, or not our file at all: the workspace decides)."""
    try:
        revisions = frozenset(
            str(row[0]) for row in conn.execute(f"SELECT version_num FROM {VERSION_TABLE}")
        )
        enrolled = conn.execute(
            "SELECT 1 FROM settings WHERE key = 'owner_token_sha256'"
        ).fetchone()
    except sqlite3.Error:
        return False
    return revisions == heads and enrolled is not None
