"""How a Codex app-server is launched: its private ``CODEX_HOME``, ``config.toml`` and environment.

Every key below was measured offline against codex-cli 0.163.0 (see the recipe in
``shared/reference/codex-app-server-offline.md``): with ``features.plugins = false`` and
``unbounded_connection_retries = false`` the app-server opens no connection except to the
configured provider, and an unreachable provider fails the turn instead of retrying forever.
The app-server is launched with ``--strict-config``, so a bad key fails loudly instead of
silently falling back to defaults (which would re-enable plugin sync).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from stagent.domain.limits import API_ROOT_EXAMPLE, text_map_problem, url_problem

DEFAULT_BASE_URL = "https://api.openai.com/v1"
PROVIDER_ID = "stagent"
API_KEY_ENV = "OPENAI_API_KEY"
PASSTHROUGH_ENV = (
    "PATH",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "TZ",
    "TMPDIR",
    "USER",
    "LOGNAME",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
"""The only variables copied from Stagent's own environment (an allow-list, never a copy)."""
RESERVED_ENV = frozenset({"HOME", "CODEX_HOME", "RUST_LOG", "OPENAI_BASE_URL"})
SANDBOXES = ("read-only", "workspace-write", "danger-full-access")
PROVIDER_KEYS = frozenset(
    {"name", "base_url", "env_key", "query_params", "http_headers", "wire_api"}
)


@dataclass(frozen=True, slots=True)
class Provider:
    """The model provider Codex talks to (an OpenAI-compatible Responses API)."""

    base_url: str = DEFAULT_BASE_URL
    name: str = "OpenAI-compatible (Stagent)"
    env_key: str = API_KEY_ENV
    """The *name* of the variable holding the key; Codex sends its value as the bearer token."""
    extra: dict[str, Any] = field(default_factory=lambda: {})
    """``query_params`` / ``http_headers`` from a provider set in Stagent's settings."""

    @property
    def host(self) -> str:
        """The provider's host name, for guards and health output."""
        return urlsplit(self.base_url).hostname or ""

    @classmethod
    def from_config(cls, data: dict[str, Any], fallback: Provider) -> Provider:
        """A provider from a run's ``config["provider"]``; unknown keys are refused."""
        unknown = sorted(set(data) - PROVIDER_KEYS)
        if unknown:
            raise ValueError(f"provider: unknown keys {', '.join(unknown)}")
        if data.get("wire_api", "responses") != "responses":
            raise ValueError("provider.wire_api: Codex only speaks the Responses API")
        if "base_url" in data and (problem := url_problem(data["base_url"])) is not None:
            raise ValueError(f"provider.base_url: {problem}; use {API_ROOT_EXAMPLE}")
        extra = {k: _text_map(k, data[k]) for k in ("query_params", "http_headers") if k in data}
        return cls(
            base_url=str(data.get("base_url", fallback.base_url)),
            name=str(data.get("name", fallback.name)),
            env_key=str(data.get("env_key", fallback.env_key)),
            extra=extra,
        )


def _text_map(key: str, value: object) -> dict[str, str]:
    """``value`` when it maps names to one-line text (what Codex's ``--strict-config`` accepts
    there and what an HTTP request can carry; `text_map_problem`, the check at save)."""
    found = text_map_problem(key, value)
    if found is not None:
        raise ValueError(f"provider.{key}: {found[0]}; {found[1]}")
    return cast(dict[str, str], value)


@dataclass(frozen=True, slots=True)
class CodexOptions:
    """What goes into one app-server's ``config.toml``."""

    provider: Provider
    model: str | None = None
    request_max_retries: int = 2
    stream_max_retries: int = 2
    stream_idle_timeout_ms: int = 300_000


@dataclass(frozen=True, slots=True)
class TaskDirs:
    """Where one task's Codex state lives; kept across attempts so a thread can be resumed."""

    root: Path

    @property
    def codex_home(self) -> Path:
        """The private ``CODEX_HOME`` (config, sessions, state databases)."""
        return self.root / "codex-home"

    @property
    def home(self) -> Path:
        """A clean ``HOME`` for the login shell commands run under."""
        return self.root / "home"

    @property
    def work(self) -> Path:
        """The working directory when the task has none."""
        return self.root / "work"

    @classmethod
    def for_task(cls, state_dir: Path, task_id: str) -> TaskDirs:
        """The directories of ``task_id`` under ``state_dir``."""
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", task_id) or "task"
        return cls(state_dir / "tasks" / safe)

    def prepare(self, *, fresh: bool) -> None:
        """Create the directories; ``fresh`` first removes an earlier attempt's state."""
        if fresh:
            self.remove()
        for path in (self.codex_home, self.home, self.work):
            path.mkdir(parents=True, exist_ok=True)

    def remove(self) -> None:
        """Delete Codex's state for this task (never the task's own working directory)."""
        for path in (self.codex_home, self.home):
            shutil.rmtree(path, ignore_errors=True)


def daemon_dir() -> Path:
    """Codex's app-server socket directory: its Linux sandbox wants it (a fixed path, not under
    ``TMPDIR``; mode 0700, owned by the user) before every command, and cannot build a command
    where it is missing and ``/tmp`` is read-only ("error building bubblewrap command:
    Read-only file system"): Codex then re-runs the approved command outside its own sandbox."""
    return Path(f"/tmp/codex-daemon-{os.getuid()}")


def config_data(options: CodexOptions) -> dict[str, Any]:
    """The ``config.toml`` content as data."""
    provider: dict[str, Any] = {
        "name": options.provider.name,
        "base_url": options.provider.base_url,
        "env_key": options.provider.env_key,
        "wire_api": "responses",
        "request_max_retries": options.request_max_retries,
        "stream_max_retries": options.stream_max_retries,
        "stream_idle_timeout_ms": options.stream_idle_timeout_ms,
        **options.provider.extra,
    }
    data: dict[str, Any] = {}
    if options.model:
        data["model"] = options.model
    data.update(
        {
            "model_provider": PROVIDER_ID,
            "check_for_update_on_startup": False,
            "model_providers": {PROVIDER_ID: provider},
            "features": {
                "plugins": False,  # no curated-plugin sync to github.com / chatgpt.com
                "remote_plugin": False,
                "apps": False,
                "unbounded_connection_retries": False,  # an unreachable provider fails
                "default_mode_request_user_input": True,  # questions reach Stagent
                "multi_agent": False,  # sub-agent threads would escape usage accounting
            },
            # Stagent's own sandbox keeps /tmp read-only and gives each run a TMPDIR of its own;
            # Codex's sandbox must not try to make /tmp a writable root inside it.
            "sandbox_workspace_write": {"exclude_slash_tmp": True},
            "shell_environment_policy": {
                "inherit": "all",
                "ignore_default_excludes": False,  # drops *KEY*, *SECRET*, *TOKEN*
                "exclude": ["OPENAI_*", "CODEX_*"],
            },
        }
    )
    return data


def render_toml(data: dict[str, Any]) -> str:
    """Serialize ``data`` as TOML (tables for dicts) and check it parses back identically."""
    text = "\n".join(_table(data, ())) + "\n"
    if tomllib.loads(text) != data:
        raise ValueError("internal error: config.toml does not round-trip")
    return text


def _table(data: dict[str, Any], path: tuple[str, ...]) -> list[str]:
    lines = [f"{_key(k)} = {_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for key, value in data.items():
        if isinstance(value, dict):
            header = ".".join(_key(p) for p in (*path, key))
            lines += ["", f"[{header}]", *_table(cast(dict[str, Any], value), (*path, key))]
    return lines


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in cast(list[Any], value)) + "]"
    if isinstance(value, dict):
        table = cast(dict[str, Any], value)
        items = ", ".join(f"{_key(str(k))} = {_value(v)}" for k, v in table.items())
        return "{ " + items + " }" if items else "{}"
    raise TypeError(f"cannot write {type(value).__name__} to config.toml")


def child_env(
    *,
    dirs: TaskDirs,
    provider: Provider,
    api_key: str | None,
    extra: dict[str, str],
    parent: dict[str, str] | None = None,
) -> dict[str, str]:
    """The app-server's environment, built from an allow-list.

    ``extra`` (a run's own environment) is added, except the variables Stagent controls.
    The API key is passed only under the provider's ``env_key``; Codex keeps it out of the
    commands it runs (``shell_environment_policy``).
    """
    source = os.environ if parent is None else parent
    env = {name: source[name] for name in PASSTHROUGH_ENV if name in source}
    env.setdefault("PATH", os.defpath)
    env.update({k: v for k, v in extra.items() if k not in RESERVED_ENV and k != API_KEY_ENV})
    env["HOME"] = str(dirs.home)
    env["CODEX_HOME"] = str(dirs.codex_home)
    env["RUST_LOG"] = "warn"
    if api_key:
        env[provider.env_key] = api_key
    return env
