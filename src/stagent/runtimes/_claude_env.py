"""Where a `claude` run keeps its files, and the environment its CLI child gets.

Each task gets a directory ``<stagent home>/runs/<task_id>/claude/``:

- ``config/``: the run's private ``CLAUDE_CONFIG_DIR`` (settings, ``.claude.json``, and the session
  transcripts that resume needs, so it is kept per task, not per attempt);
- ``home/``: a clean ``HOME``, so the Bash tool never sources the user's ``.bashrc``;
- ``work/``: the working directory when the task's project names none (kept per task because a
  session resumes only from the same directory);
- ``usage.json``: usage handed to the engine but not yet confirmed as booked (see `_claude_stream`).

The Stagent home is ``RunRequest.stagent_home``, else the runtime's ``home`` argument, else
``$STAGENT_HOME``, else ``~/.stagent``.

With an API key or auth token the CLI is fully isolated (clean ``HOME`` and config dir). Without
either it must find its own login, which lives in the user's config dir, so the user's ``HOME`` and
``CLAUDE_CONFIG_DIR`` are kept and transcripts land where the user's Claude Code keeps them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

KEY_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
PASSTHROUGH_VARS = ("ANTHROPIC_BASE_URL", *KEY_VARS)
QUIET_DEFAULTS = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_AUTOUPDATER": "1",
}
"""No traffic of the CLI's own (telemetry, update checks, title calls) unless the run opts in."""


@dataclass(frozen=True, slots=True)
class RunPaths:
    """The per-task directories of a `claude` run."""

    root: Path
    config: Path
    home: Path
    work: Path
    usage: Path

    @classmethod
    def for_task(cls, stagent_home: Path, task_id: str) -> RunPaths:
        """The directories of ``task_id`` under ``stagent_home`` (not created)."""
        root = stagent_home / "runs" / _safe(task_id) / "claude"
        return cls(root, root / "config", root / "home", root / "work", root / "usage.json")

    def create(self) -> RunPaths:
        """Create the directories (idempotent)."""
        for path in (self.config, self.home, self.work):
            path.mkdir(parents=True, exist_ok=True)
        return self


def _safe(task_id: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in task_id)
    return cleaned.strip(".") or "task"


def stagent_home(explicit: str | None, default: Path | None) -> Path:
    """The Stagent data directory a run uses (see the module docstring for the order)."""
    if explicit:
        return Path(str(explicit))
    if default is not None:
        return default
    env_home = os.environ.get("STAGENT_HOME")
    return Path(env_home) if env_home else Path.home() / ".stagent"


def has_key(env: Mapping[str, str]) -> bool:
    """True when an API key or auth token is set (so the CLI needs no login)."""
    return any(env.get(name) for name in KEY_VARS)


def build_env(
    request_env: Mapping[str, str],
    paths: RunPaths,
    *,
    max_retries: int,
    base_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment given to the CLI (merged over ``os.environ`` by the SDK).

    Endpoint and credentials pass through from ``base_env`` (``os.environ``), then the run's own
    ``request_env`` overrides anything, including the defaults set here.
    """
    base = os.environ if base_env is None else base_env
    env = {name: base[name] for name in PASSTHROUGH_VARS if base.get(name)}
    env.update(request_env)
    defaults = {**QUIET_DEFAULTS, "CLAUDE_CODE_MAX_RETRIES": str(max_retries)}
    if has_key(env):
        defaults |= {"HOME": str(paths.home), "CLAUDE_CONFIG_DIR": str(paths.config)}
    # The SDK merges this over os.environ: blank Stagent's own variables, so no agent sees the
    # person's token (STAGENT_TOKEN) or the home holding it (STAGENT_HOME).
    hidden = {name: "" for name in (*base, *env) if name.upper().startswith("STAGENT_")}
    return {**defaults, **env, **hidden}


def login_file(base_env: Mapping[str, str] | None = None) -> Path:
    """Where the CLI keeps its own login on Linux (``.credentials.json`` in its config dir)."""
    base = os.environ if base_env is None else base_env
    config = base.get("CLAUDE_CONFIG_DIR")
    return (Path(config) if config else Path.home() / ".claude") / ".credentials.json"


def credentials_source(env: Mapping[str, str]) -> str | None:
    """Where credentials come from, by name only (never the secret), or None."""
    for name in KEY_VARS:
        if env.get(name):
            return name
    if login_file(env).is_file():
        return "Claude Code login"
    if sys.platform == "darwin":
        return "Claude Code login (macOS keychain, not verified)"
    return None


def secrets_of(env: Mapping[str, str]) -> list[str]:
    """The secret values in ``env``, to scrub from anything shown or logged."""
    marks = ("KEY", "TOKEN", "SECRET", "PASSWORD")
    return [v for k, v in env.items() if any(m in k.upper() for m in marks) and len(v) >= 8]


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every secret value replaced by ``***``."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text
