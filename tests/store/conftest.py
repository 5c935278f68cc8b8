"""Fixtures shared by the store's tests: a migrated database per test, on SQLite and PostgreSQL.

Migrating a fresh database costs a few hundred milliseconds, so each backend is migrated once
per session: each test gets a copy of the migrated SQLite file, and on PostgreSQL this session's
own database, emptied before each test.

Use ``store`` (a `Store`) for repository tests and ``ws`` (a `Workspace` on the same kind of
database) where a service is what other layers call. Both run each test on both backends.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from stagent.store.database import Store
from stagent.store.engine import build_engine
from stagent.store.tables import Base
from stagent.workspace import Workspace

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get("STAGENT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _pg_reachable() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _pg_url(name: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, copied by each test that needs one."""
    path = tmp_path_factory.mktemp("store-template") / "template.sqlite"
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    store.dispose()
    return path


@pytest.fixture(scope="session")
def pg_session_db() -> Iterator[str]:
    """A PostgreSQL database migrated to head for this test session, dropped at its end."""
    if not _pg_reachable():
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but {PG_ADMIN_URL} does not answer")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = f"stagent_store_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        store = Store(_pg_url(name))
        store.upgrade()
        store.dispose()
        yield _pg_url(name)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _empty(url: str) -> None:
    """Delete every row a test wrote (the schema and its revision stay)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
            conn.execute(text("DELETE FROM spend_totals"))
    finally:
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database at head: a fresh SQLite file, or this session's PostgreSQL
    database, emptied before the test (creating a database per test costs ~1 s on a busy
    server; deleting a test's few rows costs milliseconds)."""
    if request.param == "sqlite":
        path = tmp_path / "store.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        path.chmod(0o600)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("pg_session_db")
    _empty(url)
    yield url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A migrated store on each backend."""
    store = Store(db_url)
    store.upgrade()
    yield store
    store.dispose()


@pytest.fixture
def ws(db_url: str, tmp_path: Path) -> Iterator[Workspace]:
    """An opened workspace on each backend (no worker)."""
    workspace = Workspace.temporary(tmp_path / "home", database_url=db_url).open()
    try:
        yield workspace
    finally:
        workspace.close()


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database no migration has touched (a fresh file, or a unique PostgreSQL database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite'}"
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture
def engine(empty_url: str) -> Iterator[sa.Engine]:
    """An engine on `empty_url`, for migration tests (see ``migrationtools``)."""
    engine = build_engine(empty_url)
    yield engine
    engine.dispose()
