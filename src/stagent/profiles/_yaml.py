"""YAML that remembers where things are: errors name the file, the field and the line.

PyYAML's composer keeps a start mark on every node; `LocatedText.place` walks the node tree
along a field path (``["tests", 0, "task"]``, `stagent.domain.yaml_lines`) to the deepest node
that exists, so a problem with a field is reported at the line that holds it.
"""

from __future__ import annotations

from typing import Any

import yaml

from stagent.domain import yaml_lines
from stagent.domain.errors import Problem, ValidationError
from stagent.domain.workflow_hints import FieldHint

Path_ = list[str | int]
FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader when PyYAML has it (several times faster); line lookups still compose."""


class LocatedText:
    """One file's text, for locating errors in it."""

    def __init__(self, source: str, text: str, *, offset: int = 0) -> None:
        self.source = source
        self.text = text
        self.offset = offset
        """Lines before ``text`` in the file (front matter starts after its ``---``)."""

    def load(self, whole: str, hint: str) -> Any:
        """Parse the YAML; a syntax error is raised as its `Problem` of ``whole`` (file, line,
        what to check; ``hint`` ends the general advice)."""
        data, problem = self.parse(whole, hint)
        if problem is not None:
            raise ValidationError.listing([problem])
        return data

    def parse(
        self, whole: str, hint: str, *, quoted: str = 'name: "Fix: the bug"'
    ) -> tuple[Any, Problem | None]:
        """The YAML's data and None, or None and its syntax error as a `Problem` of ``whole``
        at its line and column, with what to check (``hint`` ends the general advice;
        ``quoted``: a value holding ``: `` in quotes)."""
        try:
            return yaml.load(self.text, Loader=FAST_LOADER), None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 + self.offset if mark is not None else None
            column = mark.column + 1 if mark is not None else None
            said = getattr(exc, "problem", None)
            message = f"is not valid YAML: {said}" if said else "is not valid YAML"
            advice = yaml_lines.syntax_hint(exc, hint, offset=self.offset, quoted=quoted)
            return None, Problem(whole, message, advice, self.source, line, column)

    def place(
        self, found: FieldHint, whole: str, step: str | None = None, *, at_key: bool = False
    ) -> Problem:
        """``found`` as a `Problem` of this file: its line and column (``offset`` added; at the
        key's line with ``at_key``), its field (``whole`` when it is about the whole document)
        and ``step``."""
        position = yaml_lines.position_of(self.text, found.path, at_key=at_key or found.at_key)
        line, column = position if position else (None, None)
        field = yaml_lines.format_path(found.path, empty=whole)
        line = None if line is None else line + self.offset
        return Problem(field, found.message, found.hint, self.source, line, column, step)
