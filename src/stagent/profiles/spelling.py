"""How a ``profile.yaml`` spells its fields, so its problems cite what the person wrote.

`ProfileSpec` takes each field in camelCase (``allowedTools``, the original Stagent's keys) or
snake_case (``allowed_tools``). The loader's messages and hints are written in camelCase;
`Spelling.of` reads which of the two a file uses and `Spelling.text`/`Spelling.path` respell
them: a field the file wrote is cited as written, a field it did not write (a missing field,
an example) in the file's own style (snake_case when most of its two-word keys are).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from stagent.domain.workflow_hints import FieldHint
from stagent.profiles.models import ProfileSpec, RuntimeOverride, SmokeTest, ToolPolicySpec

_MODELS: tuple[type[BaseModel], ...] = (ProfileSpec, RuntimeOverride, ToolPolicySpec, SmokeTest)
SNAKE: dict[str, str] = {
    to_camel(name): name for model in _MODELS for name in model.model_fields if "_" in name
}
"""Every two-word field: its camelCase alias -> its snake_case name."""
_CAMEL_WORD = re.compile(r"\b(" + "|".join(sorted(SNAKE, key=len, reverse=True)) + r")\b")


@dataclass(frozen=True)
class Spelling:
    """Which two-word fields a file wrote in snake_case (``snake``) and whether that is its
    style (``style_snake``: more snake_case than camelCase keys)."""

    snake: frozenset[str] = frozenset()
    style_snake: bool = False

    @classmethod
    def of(cls, data: Any) -> Spelling:
        """The spelling of a file's parsed YAML (every mapping's keys, at any depth)."""
        keys = set(_keys(data))
        snake = frozenset(camel for camel, name in SNAKE.items() if name in keys)
        camel = {key for key in keys if key in SNAKE}
        return cls(snake, len(snake) > len(camel))

    def word(self, camel: str) -> str:
        """``camel`` (a field's alias) as this file would write it."""
        name = SNAKE.get(camel)
        if name is None:
            return camel
        return name if camel in self.snake or self.style_snake else camel

    def text(self, said: str) -> str:
        """A message or hint with every field alias in it respelled (`word`)."""
        if not self.snake and not self.style_snake:
            return said
        return _CAMEL_WORD.sub(lambda m: self.word(m.group(1)), said)

    def path(self, path: list[str | int], data: Any) -> list[str | int]:
        """A field path as this file has it: a key it holds stays as written, a key it lacks
        is respelled (`word`)."""
        out: list[str | int] = []
        node = data
        for part in path:
            here = cast(dict[str, Any], node) if isinstance(node, dict) else {}
            if isinstance(part, str) and part not in here:
                part = self.word(part)
            out.append(part)
            node = here.get(part) if isinstance(part, str) else _item(node, part)
        return out

    def hint(self, found: FieldHint, data: Any) -> FieldHint:
        """``found`` with its path, message and fix in this file's spelling."""
        return FieldHint(
            self.path(found.path, data),
            self.text(found.message),
            self.text(found.hint),
            found.at_key,
        )


def _item(node: Any, index: int) -> Any:
    items = cast(list[Any], node) if isinstance(node, list) else []
    return items[index] if 0 <= index < len(items) else None


def _keys(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in cast(dict[Any, Any], data).items():
            yield str(key)
            yield from _keys(value)
    elif isinstance(data, list):
        for item in cast(list[Any], data):
            yield from _keys(item)
