"""Blueprint templates: ``{{var}}`` substitution and ``{{#if var}}...{{/if}}`` blocks.

- ``{{var}}`` becomes the variable's value (booleans as ``true``/``false``; unset as empty).
- ``{{#if var}}...{{/if}}`` keeps its body only when ``var`` is truthy: set, and not ``""`` or
  ``false``. Blocks nest; an optional ``{{else}}`` gives the other branch.
- Runs of three or more newlines collapse to one blank line.

`check_template` finds unbalanced blocks and names that are not declared variables, so a
blueprint with a typo is refused when it loads, not when someone runs it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping

TOKEN = re.compile(r"\{\{\s*(#if\s+[A-Za-z_][\w-]*|/if|else|[A-Za-z_][\w-]*)\s*\}\}")
Value = str | int | float | bool | None


class TemplateError(ValueError):
    """A template is malformed or names an unknown variable; ``hint`` says how to fix it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


def truthy(value: Value) -> bool:
    """Set, and not empty text or false."""
    return value is not None and value != "" and value is not False


def text_of(value: Value) -> str:
    """How a value reads inside a prompt."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def variables_in(template: str) -> set[str]:
    """Every variable name a template refers to."""
    names: set[str] = set()
    for match in TOKEN.finditer(template):
        token = match.group(1)
        if token.startswith("#if"):
            names.add(token[3:].strip())
        elif token not in ("/if", "else"):
            names.add(token)
    return names


def check_template(template: str, declared: set[str]) -> None:
    """Raise `TemplateError` for an unbalanced block or an undeclared variable."""
    open_blocks: list[bool] = []  # per open {{#if}}: has it had its {{else}}
    for match in TOKEN.finditer(template):
        token = match.group(1)
        if token.startswith("#if"):
            open_blocks.append(False)
        elif token == "/if":
            if not open_blocks:
                raise TemplateError(
                    "{{/if}} without a matching {{#if ...}}",
                    "open the block before it with {{#if variable}}, or remove the {{/if}}",
                )
            open_blocks.pop()
        elif token == "else":
            if not open_blocks:
                raise TemplateError(
                    "{{else}} outside an {{#if ...}} block",
                    "write it as {{#if variable}}...{{else}}...{{/if}}",
                )
            if open_blocks[-1]:
                raise TemplateError(
                    "an {{#if ...}} block has a second {{else}}",
                    "keep one {{else}} per block; nest another {{#if}} for a third case",
                )
            open_blocks[-1] = True
    if open_blocks:
        raise TemplateError(
            "an {{#if ...}} block is not closed with {{/if}}",
            "add {{/if}} where the block ends",
        )
    unknown = sorted(variables_in(template) - declared)
    if unknown:
        near = difflib.get_close_matches(unknown[0], sorted(declared), n=1)
        raise TemplateError(
            f"{{{{{unknown[0]}}}}} is not a variable of this blueprint"
            + (f" (it has: {', '.join(sorted(declared))})" if declared else ""),
            (f"did you mean {{{{{near[0]}}}}}? or " if near else "")
            + f"declare it: variables: - {{id: {unknown[0]}, type: text}}",
        )


def render(template: str, values: Mapping[str, Value]) -> str:
    """Resolve blocks, then substitute variables, then collapse blank runs."""
    tokens = list(TOKEN.finditer(template))
    out, _ = _render(template, tokens, 0, 0, len(template), values)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


def _render(
    text: str,
    tokens: list[re.Match[str]],
    index: int,
    start: int,
    end: int,
    values: Mapping[str, Value],
) -> tuple[str, int]:
    """Render ``text[start:end]``; returns the text and the index of the next unused token."""
    parts: list[str] = []
    pos = start
    while index < len(tokens) and tokens[index].start() < end:
        match = tokens[index]
        token = match.group(1)
        if token in ("/if", "else"):
            break
        parts.append(text[pos : match.start()])
        if token.startswith("#if"):
            body, index, pos = _block(text, tokens, index, end, values, token[3:].strip())
            parts.append(body)
            continue
        parts.append(text_of(values.get(token)))
        pos = match.end()
        index += 1
    stop = tokens[index].start() if index < len(tokens) and tokens[index].start() < end else end
    parts.append(text[pos:stop])
    return "".join(parts), index


def _block(
    text: str,
    tokens: list[re.Match[str]],
    index: int,
    end: int,
    values: Mapping[str, Value],
    name: str,
) -> tuple[str, int, int]:
    """Render one ``{{#if}}`` block; returns its text, the next token index and position."""
    keep = truthy(values.get(name))
    then_text, index = _render(text, tokens, index + 1, tokens[index].end(), end, values)
    else_text = ""
    if index < len(tokens) and tokens[index].group(1) == "else":
        else_text, index = _render(text, tokens, index + 1, tokens[index].end(), end, values)
    if index >= len(tokens) or tokens[index].group(1) != "/if":
        raise TemplateError("an {{#if ...}} block is not closed with {{/if}}")
    return (then_text if keep else else_text), index + 1, tokens[index].end()
