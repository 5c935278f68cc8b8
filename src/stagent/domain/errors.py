"""The one error hierarchy. Every error a user can cause is a `StagentError`.

Each error has a stable ``code`` and an HTTP ``status`` so that the web layer and the CLI can
render it the same way: one JSON shape, one CLI line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Self


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, placed and with its own fix: ``field`` (``steps[1].prompt``,
    ``definition`` for the whole document), ``file`` (a path, ``<request>``), ``line`` and
    ``column`` (1-based, when the text is known) and ``step`` (the step's id)."""

    field: str
    message: str
    hint: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None
    step: str | None = None

    def text(self) -> str:
        """``wf.yaml:4: steps[0].prompt (step a): field required`` (what the CLI prints)."""
        where = f"{self.file}:{self.line}" if self.file and self.line else self.file
        step = f" (step {self.step})" if self.step else ""
        head = f"{where}: {self.field}" if where else self.field
        return f"{head}{step}: {self.message}"

    def data(self) -> dict[str, object]:
        """The problem in the JSON error shape's ``errors`` list."""
        return {
            "field": self.field,
            "message": self.message,
            "hint": self.hint,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "step": self.step,
        }


class StagentError(Exception):
    """Base class for errors that are the user's to fix (bad input, missing rows, state).

    An error about several things at once lists them in ``problems`` (each with its own place
    and hint); ``to_dict`` sends them as ``errors`` and the CLI prints one line each."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400
    problems: tuple[Problem, ...] = ()

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __reduce__(self) -> tuple[type[StagentError], tuple[str]]:
        return (type(self), (self.message,))

    def to_dict(self) -> dict[str, object]:
        """The canonical JSON error shape used by the API and by ``--json`` output."""
        body: dict[str, object] = {
            "ok": False,
            "status": self.status,
            "code": self.code,
            "error": self.message,
            "hint": self.hint,
        }
        if self.problems:
            body["errors"] = [problem.data() for problem in self.problems]
        return body


class NotFoundError(StagentError):
    """A row that was asked for by id or name does not exist."""

    code = "not_found"
    status = 404


class InvalidTransitionError(StagentError):
    """A state machine was asked to move along an edge it does not have."""

    code = "invalid_transition"
    status = 409


class ConflictError(StagentError):
    """The request clashes with current state (a duplicate name, a task already running)."""

    code = "conflict"
    status = 409


class ValidationError(StagentError):
    """Input failed validation; the message names the field (and file and line where known)."""

    code = "invalid_input"
    status = 422

    @classmethod
    def listing(cls, problems: Sequence[Problem]) -> Self:
        """The error for ``problems`` (at least one), in the order of their lines: one problem
        is its own message and hint; several are counted in the message, each with its place
        and hint in ``problems`` (grouped by file, then in the order of their lines)."""
        ordered = sorted(problems, key=lambda p: (p.file or "", p.line is None, p.line or 0))
        first = ordered[0]
        if len(ordered) == 1:
            error = cls(first.text(), hint=first.hint)
        else:
            listed = "; ".join(problem.text() for problem in ordered)
            error = cls(f"{len(ordered)} problems: {listed}")
        error.problems = tuple(ordered)
        return error


class ScenarioError(ValidationError):
    """A scripted-runtime scenario file is malformed."""

    code = "invalid_scenario"


class DatabaseUnavailableError(StagentError):
    """The configured database cannot be reached or opened."""

    code = "database_unavailable"
    status = 503


class RuntimeUnavailableError(StagentError):
    """The requested runtime is unknown or not installed."""

    code = "runtime_unavailable"
    status = 422


class AuthError(StagentError):
    """The request lacks the access token or CSRF token it needs."""

    code = "forbidden"
    status = 403
