"""API keys a person saved for the runtimes, kept outside the database.

One JSON file, ``$STAGENT_HOME/credentials.json``, readable by its owner only (``0600``). A saved
key is applied to this process's environment when a workspace is built, unless the variable is
already exported (what the person exported wins), so every runtime and every child it starts
sees it exactly as if it had been exported. Values are never shown again: callers get the names
of the variables that are set, and when they were saved.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from stagent.domain.errors import ValidationError


@dataclass(frozen=True, slots=True)
class SavedKey:
    """One saved credential, by name only."""

    variable: str
    label: str
    runtimes: str
    saved_at: str | None
    """ISO timestamp when saved; None if nothing is saved."""
    exported: bool
    """True if the variable is also exported in this process's environment (it wins)."""


KNOWN_KEYS: dict[str, tuple[str, str]] = {
    "ANTHROPIC_API_KEY": ("Anthropic API key", "claude, anthropic"),
    "OPENAI_API_KEY": ("OpenAI API key", "codex"),
}
"""The variables the Runtimes page takes: name -> (label, the runtimes that use it)."""

_applied: dict[str, str] = {}
"""Variables this module put into ``os.environ`` (so removing a key takes them out again)."""


class CredentialStore:
    """The saved keys of one Stagent home."""

    def __init__(self, home: Path) -> None:
        self.path = home / "credentials.json"

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            data: object = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return cast(dict[str, dict[str, str]], data) if isinstance(data, dict) else {}

    def _write(self, data: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        temporary.chmod(0o600)
        temporary.replace(self.path)

    def save(self, variable: str, value: str) -> None:
        """Save ``value`` for ``variable`` (one of `KNOWN_KEYS`) and apply it here at once."""
        if variable not in KNOWN_KEYS:
            raise ValidationError(
                f"{variable}: not a key Stagent stores", hint=f"use {', '.join(KNOWN_KEYS)}"
            )
        value = value.strip()
        if not value or any(ch.isspace() for ch in value):
            raise ValidationError(f"{variable}: paste the key itself (one word, no spaces)")
        data = self._read()
        data[variable] = {"value": value, "saved_at": datetime.now(UTC).isoformat()}
        self._write(data)
        self.apply()

    def remove(self, variable: str) -> bool:
        """Forget the saved ``variable``; True if one was saved."""
        data = self._read()
        found = data.pop(variable, None) is not None
        if found:
            self._write(data)
        if _applied.get(variable) is not None and os.environ.get(variable) == _applied[variable]:
            del os.environ[variable]
        _applied.pop(variable, None)
        return found

    def apply(self) -> None:
        """Put saved keys into this process's environment where nothing is exported."""
        for variable, entry in self._read().items():
            value = entry.get("value") if variable in KNOWN_KEYS else None
            if not value:
                continue
            current = os.environ.get(variable)
            if current is None or current == _applied.get(variable):
                os.environ[variable] = value
                _applied[variable] = value

    def saved(self) -> list[SavedKey]:
        """Every known key: saved or not, and whether an exported variable overrides it."""
        data = self._read()
        out: list[SavedKey] = []
        for variable, (label, runtimes) in KNOWN_KEYS.items():
            entry: dict[str, Any] = data.get(variable) or {}
            exported = variable in os.environ and os.environ[variable] != _applied.get(variable)
            out.append(SavedKey(variable, label, runtimes, entry.get("saved_at"), exported))
        return out


def forget_applied() -> None:
    """Drop what `apply` put into the environment (for tests)."""
    for variable, value in list(_applied.items()):
        with contextlib.suppress(KeyError):
            if os.environ[variable] == value:
                del os.environ[variable]
    _applied.clear()
