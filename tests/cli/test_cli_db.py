"""`stagent db upgrade`."""

from __future__ import annotations

import pytest
from clitools import Cli


def test_db_upgrade_is_idempotent(cli: Cli) -> None:
    first = cli.json("db", "upgrade")
    second = cli.json("db", "upgrade")
    assert first == second
    assert first["ok"] is True
    assert first["revision"]
    assert first["database_url"].startswith("sqlite:///")
    assert str(cli.home) in first["database_url"]


def test_db_upgrade_human_output(cli: Cli) -> None:
    result = cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Database is at revision ")
    assert "sqlite:///" in result.stdout


@pytest.mark.postgres
def test_db_upgrade_on_postgresql_redacts_the_password(cli: Cli, pg_url: str) -> None:
    url = pg_url.replace("postgres@", "postgres:hunter2@", 1)
    result = cli("db", "upgrade", "--json", global_args=("--database-url", url))
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.stdout
    assert "***" in result.stdout
