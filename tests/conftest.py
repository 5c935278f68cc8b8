"""Shared fixtures: a throwaway workspace per test, on SQLite or PostgreSQL."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

import dbtemplate
from servetools import WORKER_LEASE, stop_worker
from stagent.runtimes.credentials import forget_applied
from stagent.workspace import Workspace

# Rich fixes a console's width when it is built if COLUMNS is set (pytest-xdist's workers get
# COLUMNS=80), and the CLI's console is built at import: unset, the width follows COLUMNS at
# print time, so a test that needs a wide terminal can set it (as under a serial run).
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get("STAGENT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
MIGRATE_EACH = os.environ.get("STAGENT_TEST_MIGRATE_EACH", "") == "1"
STORE_TESTS = Path(__file__).parent / "store"


@pytest.fixture(autouse=True, scope="session")
def _migrated_template() -> Iterator[None]:
    """A fresh SQLite database gets a copy of one migrated once per process (`dbtemplate`),
    unless ``STAGENT_TEST_MIGRATE_EACH=1`` (every test then migrates its own databases)."""
    if MIGRATE_EACH:
        yield
        return
    dbtemplate.install()
    yield
    dbtemplate.uninstall()
    dbtemplate.discard(PG_ADMIN_URL)


LONG_FILES = (
    "web/test_web_tour_browser.py",
    "workflows/test_workflow_crash.py",
    "web/test_web_openapi_fuzz.py",
    "store/test_usage_rollup.py",
)
"""Files holding the suite's longest tests, run first: pytest-xdist hands tests out in
collection order, so a long test collected last would run alone on one worker at the end."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move `LONG_FILES` to the front, each file's tests still together and in order."""
    first = {Path(__file__).parent / name: n for n, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: first.get(item.path, len(first)))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """The store's tests migrate their databases for real: they test the migrations."""
    dbtemplate.enabled = STORE_TESTS not in item.path.parents


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test ever touches the real ~/.stagent."""
    monkeypatch.setenv("STAGENT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("STAGENT_DATABASE_URL", raising=False)


@pytest.fixture
def _engine_tables() -> Iterator[None]:
    """The next fresh SQLite database opened also has the durable engine's tables (requested
    before ``workspace`` by fixtures that launch a worker on it)."""
    dbtemplate.engine_tables = True
    yield
    dbtemplate.engine_tables = False


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    """An opened (migrated) workspace on a fresh SQLite file; no worker running."""
    ws = Workspace.temporary(tmp_path / "ws").open()
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture
def worker(_engine_tables: None, workspace: Workspace) -> Iterator[Workspace]:
    """The same workspace, also running queued tasks in this process (DBOS launched)."""
    dbtemplate.engine_tables = False
    workspace.start_worker("worker")
    yield workspace
    workspace.stop_worker()


def _pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards: a copy of one migrated to
    head (`dbtemplate.pg_template`), or empty under ``tests/store`` (which tests the migrations)
    and with ``STAGENT_TEST_MIGRATE_EACH=1``.

    Skipped when no server answers, except under CI=true, where PostgreSQL is required.
    """
    if not _pg_available():
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but {PG_ADMIN_URL} does not answer")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = f"stagent_test_{secrets.token_hex(4)}"
    template = ""
    if dbtemplate.enabled and not MIGRATE_EACH:
        template = f' TEMPLATE "{dbtemplate.pg_template(PG_ADMIN_URL)}"'
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{template}')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_workspace(pg_url: str, tmp_path: Path) -> Iterator[Workspace]:
    """An opened workspace on a fresh PostgreSQL database."""
    ws = Workspace.temporary(tmp_path / "ws", database_url=pg_url).open()
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture
def worker_home(tmp_path: Path) -> Path:
    """The home `stagent worker` child processes share with the test's client."""
    return tmp_path / "home"


@pytest.fixture
def worker_client(worker_home: Path) -> Iterator[Workspace]:
    """The test's own workspace on ``worker_home``, with the workers' short lease."""
    ws = Workspace.temporary(worker_home, executor_lease_seconds=float(WORKER_LEASE)).open()
    yield ws
    ws.close()


@pytest.fixture
def worker_procs() -> Iterator[list[subprocess.Popen[str]]]:
    """Child processes the test starts; killed when it ends, whatever happened."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        stop_worker(proc, signal.SIGKILL)


@pytest.fixture
def no_login(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No provider key exported and no Claude Code login, as on a fresh machine: the claude and
    anthropic runtimes are not ready."""
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "no-login"))
    yield
    forget_applied()
