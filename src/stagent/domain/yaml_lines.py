"""Where a field of a YAML (or JSON) document is: its dotted path and its line.

Shared by the readers whose errors name file, line and field (`stagent.domain.workflow_files`,
`stagent.runtimes.scenario`, `stagent.profiles`). PyYAML loads only when a line is looked up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    import yaml

FieldPath = list[str | int]


def format_path(path: FieldPath, *, empty: str) -> str:
    """``["steps", 0, "id"]`` -> ``steps[0].id``; ``empty`` names the whole document."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or empty


def line_of(text: str, path: FieldPath, *, at_key: bool = False) -> int | None:
    """The 1-based line of the deepest YAML node on ``path`` (None if the text is no YAML);
    ``at_key`` cites a mapping entry at its key's line rather than its value's."""
    found = position_of(text, path, at_key=at_key)
    return found[0] if found else None


def position_of(text: str, path: FieldPath, *, at_key: bool = False) -> tuple[int, int] | None:
    """The 1-based (line, column) of the deepest YAML node on ``path`` (None if no YAML)."""
    import yaml

    try:
        node: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)  # pyright: ignore[reportUnknownMemberType]
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    mark = node.start_mark
    for part in path:
        found = _child(node, part)
        if found is None:
            break
        key, node = found
        mark = (key if at_key else node).start_mark
    return mark.line + 1, mark.column + 1


def located(
    source: str, text: str | None, path: FieldPath, *, empty: str
) -> tuple[str, int | None, str]:
    """The field's dotted name, its line (when there is text) and ``source:line`` to cite."""
    field = format_path(path, empty=empty)
    line = line_of(text, path) if text is not None else None
    return field, line, f"{source}:{line}" if line else source


def syntax_hint(
    exc: yaml.YAMLError,
    kind: str,
    *,
    offset: int = 0,
    quoted: str = 'prompt: "Fix: the bug"',
) -> str:
    """What to check for a YAML syntax error: ``kind`` ends the general advice ("workflow
    files are YAML or JSON"), ``offset`` is added to a line it cites (front matter),
    ``quoted`` is an example of a value with ``: `` in quotes."""
    problem = str(getattr(exc, "problem", None) or "")
    context = getattr(exc, "context_mark", None)
    opened = f" line {context.line + 1 + offset}, column {context.column + 1}" if context else ""
    if "'\\t'" in problem or "\t" in problem:
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in problem:
        return (
            f"a value that holds ': ' needs quotes ({quoted}), and keys of one "
            "mapping line up under each other"
        )
    if "expected ',' or" in problem or "flow node" in str(getattr(exc, "context", "")):
        return f"close the [ or {{ opened at{opened or ' the line above'}"
    if "quoted scalar" in str(getattr(exc, "context", "")):
        return f"close the quote opened at{opened or ' the line above'}"
    return (
        "check the indentation (spaces; keys of one mapping line up) and that every quote and "
        f"bracket is closed{f' (see{opened})' if opened else ''}; {kind}"
    )


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    """The child on ``part``: (its key, or the item itself in a sequence; its node)."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key, value in cast(list[tuple[yaml.Node, yaml.Node]], node.value):
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                return key, value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        items = cast(list[yaml.Node], node.value)
        if part < len(items):
            return items[part], items[part]
    return None
