"""YAML that remembers where things are: errors name the file, the field and the line.

PyYAML's composer keeps a start mark on every node; `line_of` walks the node tree along a field
path (``["tests", 0, "task"]``) to the deepest node that exists, so a pydantic error about a
field is reported at the line that holds it.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError as PydanticValidationError

from stagent.domain import yaml_lines
from stagent.domain.errors import ValidationError

Path_ = list[str | int]
FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader when PyYAML has it (several times faster); line lookups still compose."""


def format_path(path: Path_) -> str:
    """``["tests", 0, "task"]`` -> ``tests[0].task``."""
    return yaml_lines.format_path(path, empty="")


def line_of(text: str, path: Path_, *, offset: int = 0) -> int | None:
    """The 1-based line of the deepest YAML node on ``path`` (``offset`` lines added); a
    mapping entry is cited at its key's line."""
    line = yaml_lines.line_of(text, path, at_key=True)
    return None if line is None else line + offset


class LocatedText:
    """One file's text, for locating errors in it."""

    def __init__(self, source: str, text: str, *, offset: int = 0) -> None:
        self.source = source
        self.text = text
        self.offset = offset
        """Lines before ``text`` in the file (front matter starts after its ``---``)."""

    def load(self, hint: str) -> Any:
        """Parse the YAML; a syntax error names the file and line."""
        try:
            return yaml.load(self.text, Loader=FAST_LOADER)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1 + self.offset}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or "not valid YAML"
            raise ValidationError(f"{self.source}{line}: {problem}", hint=hint) from None

    def error(self, path: Path_, problem: str, hint: str | None = None) -> ValidationError:
        """A `ValidationError` naming ``source:line: field problem``."""
        line = line_of(self.text, path, offset=self.offset)
        where = f"{self.source}:{line}" if line else self.source
        field = format_path(path)
        return ValidationError(f"{where}: {field + ' ' if field else ''}{problem}", hint=hint)

    def from_pydantic(
        self, exc: PydanticValidationError, hint: str, prefix: Path_ | None = None
    ) -> ValidationError:
        """The first pydantic error, located."""
        first = exc.errors()[0]
        loc = [part for part in first["loc"] if not _is_union_tag(part)]
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = "is not a known field"
        elif first["type"] == "missing":
            message = "is required"
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        return self.error([*(prefix or []), *loc], _lower_first(message), hint)


def _is_union_tag(part: str | int) -> bool:
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text
