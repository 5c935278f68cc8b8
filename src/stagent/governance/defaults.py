"""What a call no rule decides gets by default: Claude Code's own defaults, or a person for all.

Claude Code lets an agent read and search inside its working directory without asking, and asks
for edits, commands and anything outside. A fresh workspace starts there (mode ``claude-code``):
when the saved rules and the task's policy leave a call undecided, a `Read`, `Glob`, `Grep`,
`LS` or `NotebookRead` whose every path lies inside the task's working directory is allowed,
recorded as decided by `DEFAULT_LABEL`. Mode ``ask`` sends every undecided call to a person.
An ``ask`` or ``deny`` rule always wins over the default; the mode lives in the ``settings``
table, so every process sees a change at once.
"""

from __future__ import annotations

from typing import Literal, cast, get_args

from stagent.domain.errors import ValidationError
from stagent.domain.permissions import MatchContext, PermissionRule, ToolCallLike
from stagent.governance.rules import evaluate
from stagent.store import settings as settings_repo
from stagent.store.database import Store

DefaultMode = Literal["claude-code", "ask"]
DEFAULT_MODE: DefaultMode = "claude-code"
SETTING_KEY = "permissions.default_mode"
DEFAULT_LABEL = "Claude Code's default (reads and searches inside the working directory)"
WORKDIR_READ_RULES: tuple[str, ...] = ("Read(./**)",)
"""As in Claude Code, a ``Read`` path rule also covers ``Glob``, ``Grep``, ``LS`` and
``NotebookRead``."""
MODE_DESCRIPTIONS: dict[DefaultMode, str] = {
    "claude-code": "Reads and searches inside the task's working directory run without asking "
    "(Claude Code's default); edits, commands and anything outside it ask a person.",
    "ask": "Every call that no rule decides asks a person, reads included.",
}
_RULES = tuple(PermissionRule.from_text(text, "allow") for text in WORKDIR_READ_RULES)


def parse_mode(value: str) -> DefaultMode:
    """``value`` as a `DefaultMode`, or a one-line error naming the modes."""
    modes = get_args(DefaultMode)
    if value not in modes:
        raise ValidationError(
            f"default: {value!r} is not a default mode", hint=f"use one of: {', '.join(modes)}"
        )
    return cast(DefaultMode, value)


class PermissionDefaults:
    """Reads and changes the default mode; decides the calls the default covers."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def mode(self) -> DefaultMode:
        """The workspace's default mode (``claude-code`` until someone changes it)."""
        with self._store.read() as session:
            value = settings_repo.get(session, SETTING_KEY, DEFAULT_MODE)
        return value if value in get_args(DefaultMode) else DEFAULT_MODE

    def set_mode(self, mode: str) -> DefaultMode:
        """Change the default mode (validated); returns it."""
        chosen = parse_mode(mode)
        with self._store.write() as session:
            settings_repo.put(session, SETTING_KEY, chosen)
        return chosen

    def allows(self, request: ToolCallLike, ctx: MatchContext) -> bool:
        """True if the default lets ``request`` run without a person (in the current mode)."""
        if self.mode() != "claude-code":
            return False
        return evaluate(request, _RULES, ctx).verdict == "allow"
