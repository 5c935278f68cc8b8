"""`stagent.locations` finds the database exactly where `Settings` does, without pydantic."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stagent.locations import database_url, home_dir
from stagent.reads import SIMULATED_BUILTINS, simulated_names
from stagent.runtimes.registry import default_registry
from stagent.settings import Settings

CASES: list[dict[str, str]] = [
    {},
    {"STAGENT_HOME": "/srv/stagent"},
    {"stagent_home": "/srv/lower-case"},
    {"STAGENT_HOME": "relative/home"},
    {"STAGENT_HOME": "/srv/a", "STAGENT_DATABASE_URL": "postgresql+psycopg://u@h/db"},
    {"STAGENT_DATABASE_URL": ""},
    {"Stagent_Database_Url": "sqlite:////tmp/elsewhere.sqlite"},
]


@pytest.mark.parametrize("env", CASES, ids=lambda env: ",".join(env) or "nothing")
def test_the_database_url_is_the_settings_one(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in [name for name in os.environ if name.lower().startswith("stagent_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    assert database_url() == Settings().resolved_database_url
    assert home_dir() == Settings().home  # where ``ledger import`` reads price overrides
    home = tmp_path / "given"
    assert database_url(home) == Settings(home=home).resolved_database_url
    given = "sqlite:////tmp/given.sqlite"
    assert (
        database_url(home, given) == Settings(home=home, database_url=given).resolved_database_url
    )


def test_the_simulated_runtimes_are_the_registrys(tmp_path: Path) -> None:
    assert simulated_names(default_registry(tmp_path, check_ready=False)) == SIMULATED_BUILTINS
