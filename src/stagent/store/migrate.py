"""Run Alembic migrations programmatically against an engine.

Alembic (with Mako and its templates) takes a noticeable share of a CLI command's start-up, so
`upgrade_to_head` first compares the database's revision with the newest revision file (read
without Alembic, see `script_heads`) and imports Alembic only when there is something to do.
SQLAlchemy is imported inside the functions that take an engine: `stagent.store.sqlite_reads`
uses `script_heads` without it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "stagent_alembic_version"
_QUOTED_TEXT = r"\"[^\"]*\"|'[^']*'"
_QUOTED = re.compile(_QUOTED_TEXT)
_QUOTED_TUPLE = re.compile(
    rf"[(\[]\s*(?:(?:{_QUOTED_TEXT})\s*,\s*)*(?:{_QUOTED_TEXT})?\s*,?\s*[)\]]"
)
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)
HEAD_BYTES = 4096
"""What `script_heads` reads of a revision file first: Alembic's template sets ``revision`` and
``down_revision`` near the top (a file without both in its complete lines there is read whole;
all 300 KB of them were ~2 ms of every command that opens a database)."""


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that runs on ``engine`` (no ini file needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Bring the schema to the newest revision (imports Alembic only if one is pending)."""
    heads = script_heads()
    if heads is not None and heads == database_revisions(engine):
        return
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def script_heads() -> frozenset[str] | None:
    """The newest revision(s) of the migration scripts, read from their files without Alembic.

    None when a file does not have the plain ``revision = "..."`` / ``down_revision = ...``
    shape; the caller then lets Alembic decide.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = _revision_fields_of(path)
        revision, down = found.get("revision"), found.get("down_revision", ())
        if not isinstance(revision, str):
            return None
        revisions.add(revision)
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple | list):
            parents.update(str(item) for item in cast(Sequence[object], down))
        elif down is not None:
            return None
    heads = frozenset(revisions - parents)
    return heads or None


def database_revisions(engine: Engine) -> frozenset[str]:
    """The revision(s) recorded in the database (empty if it was never migrated)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
            return frozenset(str(row[0]) for row in rows)
    except DBAPIError:  # no version table yet
        return frozenset()


def _revision_fields_of(path: Path) -> dict[str, object]:
    """The ``revision`` and ``down_revision`` of the file at ``path``, from its first complete
    lines when both are there (`HEAD_BYTES`), else from all of it."""
    with path.open("rb") as handle:
        source = handle.read(HEAD_BYTES)
        if len(source) == HEAD_BYTES:  # maybe more: its complete lines first
            lines = source[: source.rfind(b"\n") + 1].decode("utf-8", "replace")
            found = dict(_revision_fields(lines))
            if "revision" in found and "down_revision" in found:
                return found
            source += handle.read()
    return dict(_revision_fields(source.decode("utf-8")))


def _revision_fields(source: str) -> list[tuple[str, object]]:
    return [(name, _revision_value(value)) for name, value in _ASSIGNMENT.findall(source)]


def _revision_value(text: str) -> str | tuple[str, ...] | None:
    """``"0016"`` -> "0016", ``("a", "b")`` -> ("a", "b"); ``None`` or any other shape -> None.

    A plain pattern, not ``ast.literal_eval``: CPython 3.11's parser can raise ``SystemError``
    ("AST constructor recursion depth mismatch") when called deep in a worker thread's stack.
    """
    text = text.split("#", 1)[0].strip()
    if _QUOTED.fullmatch(text):
        return text[1:-1]
    if _QUOTED_TUPLE.fullmatch(text):
        return tuple(item[1:-1] for item in _QUOTED.findall(text))
    return None


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None if it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()
