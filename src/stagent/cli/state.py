"""Global CLI options and opening the workspace from them.

``--home`` and ``--database-url`` on the root command override ``STAGENT_HOME`` and
``STAGENT_DATABASE_URL``; every command builds its `Settings` and `Workspace` through here.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from stagent.cli import startup
from stagent.domain.errors import DatabaseUnavailableError, StagentError, ValidationError

if TYPE_CHECKING:  # loaded by the commands that use them (``--help`` imports neither)
    from pydantic import ValidationError as PydanticValidationError

    from stagent.reads import Reads
    from stagent.settings import Settings
    from stagent.workspace import Workspace


@dataclass(frozen=True, slots=True)
class CliState:
    """What the root callback parsed: overrides for `Settings`."""

    home: Path | None = None
    database_url: str | None = None

    def settings(self, **overrides: Any) -> Settings:
        """Settings from the environment, the global options and ``overrides`` (in that order)."""
        from pydantic import ValidationError as PydanticValidationError

        from stagent.settings import Settings

        values: dict[str, Any] = {}
        if self.home is not None:
            values["home"] = self.home.expanduser()
        if self.database_url:
            values["database_url"] = self.database_url
        values.update({key: value for key, value in overrides.items() if value is not None})
        try:
            return Settings(**values)
        except PydanticValidationError as exc:
            raise _settings_error(exc) from None

    @contextmanager
    def workspace(self, *, still_loading: bool = False, **overrides: Any) -> Generator[Workspace]:
        """An opened (migrated) workspace, closed when the block ends.

        ``still_loading``: the command imports more before it starts its work (``serve``: the
        web app), and calls `startup.ready` itself once it has.
        """
        ws = build_workspace(self.settings(**overrides))
        try:
            _open(ws)
            if not still_loading:
                startup.ready()
            yield ws
        finally:
            ws.close()

    @contextmanager
    def reads(self) -> Generator[Reads]:
        """Read-only access to tasks and projects: plain ``sqlite3`` on a SQLite file at the
        newest migration (no SQLAlchemy, no workspace), else through `workspace`."""
        from stagent.locations import database_url
        from stagent.reads import open_reads

        home = self.home.expanduser() if self.home is not None else None
        with open_reads(database_url(home, self.database_url), self.workspace) as reads:
            startup.ready()
            yield reads


def state_of(ctx: typer.Context) -> CliState:
    """The `CliState` the root callback stored (a default one if the callback did not run)."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliState) else CliState()


def configure_logging(settings: Settings) -> None:
    """Send log records at ``STAGENT_LOG_LEVEL`` and above to stderr (long-running commands)."""
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )


def build_workspace(settings: Settings) -> Workspace:
    """Construct a workspace; a malformed database URL becomes a one-line error."""
    from stagent.workspace import Workspace

    try:
        return Workspace(settings)
    except StagentError:
        raise
    except OSError as exc:
        failed = Path(exc.filename) if isinstance(exc.filename, str) else None
        if failed is not None and failed in (settings.home, *settings.home.parents):
            raise _home_error(settings.home, exc) from None  # a file, or cannot be made
        raise DatabaseUnavailableError(
            f"cannot open database: {_first_line(exc)}",
            hint="check STAGENT_DATABASE_URL (or --database-url) and its folder",
        ) from None
    except Exception as exc:  # the engine rejects the URL (unknown driver, unparsable text)
        raise DatabaseUnavailableError(
            f"cannot open database: {_first_line(exc)}",
            hint="check STAGENT_DATABASE_URL (or --database-url); "
            "e.g. sqlite:///path/to/file.sqlite or postgresql+psycopg://user@host/db",
        ) from None


def _open(ws: Workspace) -> None:
    try:
        ws.open()
    except OSError as exc:  # the home directory cannot be created or written
        raise _home_error(ws.settings.home, exc) from None


def _home_error(home: Path, exc: OSError) -> ValidationError:
    return ValidationError(
        f"cannot use the data directory {home}: {exc.strerror or exc}",
        hint="pick another one with --home or STAGENT_HOME",
    )


def _settings_error(exc: PydanticValidationError) -> ValidationError:
    first = exc.errors()[0]
    name = ".".join(str(part) for part in first["loc"]) or "settings"
    return ValidationError(
        f"setting {name}: {first['msg'].lower()}",
        hint=f"check STAGENT_{name.upper()} or the matching command-line option",
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
