"""Throwaway workspaces for benchmarks: a SQLite file in a temp dir, or a fresh PostgreSQL
database on 127.0.0.1:5432 that is dropped afterwards."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from stagent.workspace import Workspace

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def sqlite_workspace(**settings: Any) -> Iterator[Workspace]:
    """An opened workspace on a new SQLite file."""
    with (
        tempfile.TemporaryDirectory() as home,
        Workspace.temporary(Path(home), **settings).open() as ws,
    ):
        yield ws


@contextmanager
def pg_workspace(**settings: Any) -> Iterator[Workspace]:
    """An opened workspace on a new PostgreSQL database, dropped afterwards."""
    name = f"stagent_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        with (
            tempfile.TemporaryDirectory() as home,
            Workspace.temporary(Path(home), database_url=url, **settings).open() as ws,
        ):
            yield ws
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
