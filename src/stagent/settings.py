"""Process-wide settings, read from ``STAGENT_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from stagent.locations import ENV_PREFIX, default_database_url, default_home

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class Settings(BaseSettings):
    """Where Stagent keeps its data and how it serves it.

    Every field can be set with an environment variable named ``STAGENT_<FIELD>``.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    home: Path = Field(default_factory=default_home)
    """The data directory: the SQLite file, run outputs and user files live here."""
    database_url: str | None = None
    """SQLAlchemy URL. Default: ``sqlite:///<home>/stagent.sqlite``."""
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    """0 picks a free port."""
    token: str | None = None
    """Access token; required when ``host`` is not a loopback address."""
    log_level: LogLevel = "WARNING"
    timezone: str | None = None
    """IANA zone budget days and months are counted in (e.g. ``Europe/Berlin``); default: local."""
    concurrency: int = Field(default=4, ge=1, le=64)
    """How many tasks one worker process runs at once."""
    queue_poll_seconds: float = Field(default=0.1, gt=0, le=5)
    """How often a worker looks at its queues once something changed (a commit anywhere in the
    workspace), and while they yield work."""
    queue_idle_poll_seconds: float = Field(default=1.0, gt=0, le=600)
    """How often a worker asks the database for queued work with no change signalled (the
    safety net for an entry nothing announced; `stagent.engine.queue_polls`)."""
    executor_lease_seconds: float = Field(default=15.0, gt=1)
    """A worker whose heartbeat is older than this is presumed dead and its runs are recovered."""
    approval_timeout_seconds: float = Field(default=600.0, gt=0)
    """How long a tool call waits for a person in the inbox before it is denied as timed out."""
    check_runtimes: bool = True
    """Refuse to queue a task on a runtime that is not ready in this process; turn off when
    workers on other machines hold the credentials."""
    schedule_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    """How often each worker looks for schedules that are due."""
    schedule_grace_seconds: float = Field(default=60.0, ge=0)
    """An occurrence later than this (no worker was running) is handled by the missed-run
    policy of its schedule instead of simply firing late."""
    scan_history_keep: int = Field(default=100, ge=1)
    """Stored environment scans kept (the newest ones); older ones are deleted after each scan."""
    scan_history_days: int = Field(default=90, ge=1)
    """Stored environment scans older than this many days are deleted after each scan (the
    newest one always stays)."""
    sandbox: Literal["auto", "off"] = "auto"
    """``auto`` runs every agent inside the OS sandbox where one exists; ``off`` never does (and
    every place a person decides says so)."""

    @property
    def resolved_database_url(self) -> str:
        """The database URL in use, defaulting to the SQLite file in the home directory."""
        if self.database_url:
            return self.database_url
        return default_database_url(self.home)

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, when the database is one."""
        url = self.resolved_database_url
        if not url.startswith("sqlite:///"):
            return None
        path = url.removeprefix("sqlite:///").split("?", 1)[0]
        return Path(path) if path and path != ":memory:" else None

    @property
    def is_loopback(self) -> bool:
        """True when the server binds only to this machine."""
        return self.host in LOOPBACK_HOSTS
