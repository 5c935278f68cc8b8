"""Where the workspace's data lives, read from the environment without pydantic-settings.

`stagent.settings.Settings` reads every ``STAGENT_*`` variable; importing pydantic-settings
(with asyncio, dotenv and its cloud sources) and building the model is about a quarter of a
``stagent task list``. The read-only commands need only two of its values, the home and the
database URL, so they get them here, by the same rules: ``--home``/``--database-url`` first,
then ``STAGENT_HOME``/``STAGENT_DATABASE_URL`` (names matched without regard to case, as
pydantic-settings does), then the defaults. ``tests/test_locations.py`` compares the two.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ENV_PREFIX = "STAGENT_"
API_ADDRESS_KEY = "api_address"
"""The ``settings`` row where ``stagent serve`` records its worker's id and its API's address
(`Workspace.announce_api`; read by `stagent.handoff`)."""


def default_home() -> Path:
    """The data directory when nothing names one: ``~/.stagent``."""
    return Path.home() / ".stagent"


def default_database_url(home: Path) -> str:
    """The SQLite file in ``home``, as a SQLAlchemy URL."""
    return f"sqlite:///{(home / 'stagent.sqlite').resolve()}"


def database_url(
    home: Path | None = None,
    url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The database URL `Settings.resolved_database_url` would give for these overrides."""
    env = {
        key.lower(): value for key, value in (os.environ if environ is None else environ).items()
    }
    url = url or env.get(f"{ENV_PREFIX.lower()}database_url")
    if url:
        return url
    return default_database_url(home_dir(home, environ))


def home_dir(home: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The data directory `Settings.home` would give for this override."""
    if home is not None:
        return home
    env = {
        key.lower(): value for key, value in (os.environ if environ is None else environ).items()
    }
    named = env.get(f"{ENV_PREFIX.lower()}home")
    return Path(named) if named is not None else default_home()
