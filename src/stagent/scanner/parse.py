"""Reading files and parsing JSON, TOML and Markdown front matter, with line numbers on errors."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import yaml

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_TOML_LINE = re.compile(r"at line (\d+)")


@dataclass(frozen=True, slots=True)
class ParseError:
    """A syntax error: where it is and what the parser said."""

    line: int | None
    message: str


def digest(value: object) -> str:
    """SHA-256 of a JSON-serialisable value (a redacted entry of a larger file)."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def parse_json(text: str) -> tuple[Any, ParseError | None]:
    """Parse JSON; on error the line and the parser's message."""
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, ParseError(exc.lineno, exc.msg)


def parse_toml(text: str) -> tuple[dict[str, Any] | None, ParseError | None]:
    """Parse TOML; on error the line (taken from the parser's message) and the message."""
    try:
        return tomllib.loads(text), None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_LINE.search(message)
        if match is not None:
            return None, ParseError(int(match.group(1)), message)
        # "at end of document": the last line (an unclosed string or table runs to the end)
        line = text.count("\n") + (0 if text.endswith("\n") else 1) if text else None
        return None, ParseError(line, message)


class FrontMatter(NamedTuple):
    """A Markdown file split into its YAML front matter and body (a named tuple: built for
    every Markdown file, and tuples are the cheapest to build)."""

    meta: dict[str, Any]
    body: str
    present: bool
    error: ParseError | None = None
    body_line: int = 1


def front_matter(text: str, memo: BlockMemo | None = None) -> FrontMatter:
    """Split ``---``-fenced YAML front matter from a Markdown body.

    A missing front matter is not an error (``present`` is False); an unclosed fence, invalid
    YAML or a non-mapping is, with the file line of the problem.
    """
    if not text.startswith("---"):
        return FrontMatter({}, text, False)
    first_nl = text.find("\n")
    if first_nl < 0 or text[3:first_nl].strip():
        return FrontMatter({}, text, False)
    end = _closing_fence(text, first_nl)
    if end is None:
        return FrontMatter({}, text, True, ParseError(1, "front matter has no closing '---'"))
    block_end, body_start = end
    block = text[first_nl + 1 : block_end]
    parsed = memo.get(block) if memo is not None else None
    if parsed is None:
        parsed = _parse_block(block)
        if memo is not None:
            if len(memo) >= BLOCK_MEMO_SIZE:
                memo.clear()
            memo[block] = parsed
    body_line = text.count("\n", 0, body_start) + 1
    if isinstance(parsed, ParseError):
        return FrontMatter({}, text[body_start:], True, parsed, body_line)
    return FrontMatter(parsed, text[body_start:], True, None, body_line)


BLOCK_MEMO_SIZE = 4096
BlockMemo = dict[str, "dict[str, Any] | ParseError"]
"""Front-matter blocks already parsed, by their text (the same agents, commands and rules are
copied across projects; a parse depends on the block alone). A scanner keeps one
(`FsCache.blocks`); callers never mutate the mapping they get."""


def _parse_block(block: str) -> dict[str, Any] | ParseError:
    try:
        meta = flat_mapping(block)
        if meta is None:
            meta = simple_mapping(block)
        if meta is None:
            meta = yaml.load(block, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + 2) if mark is not None else 2
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return ParseError(line, str(problem))
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        return ParseError(2, "front matter is not a mapping")
    return cast("dict[str, Any]", meta)


_YAML_SPACE = " \t\r"
"""What YAML strips around a plain scalar (str.strip() would take Unicode spaces too)."""
_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*$")
_YAML_SPECIAL_START = frozenset("'\"[]{}&*!|>%@`#,?:-~+.<=")
_YAML_WORDS = frozenset(
    {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "none", "nan", "inf"}
)
_FLAT_LINE = re.compile(
    r"([A-Za-z_][A-Za-z0-9_-]*): ([^\s'\"\[\]{}&*!|>%@`#,?:\-~0-9+.<=](?:[^\n]*[^\s:])?)"
)
_FLAT_MORE = re.compile(r" +([^\s'\"\[\]{}&*!|>%@`#,?:\-~0-9+.<=](?:[^\n]*[^\s:])?)")
_FLAT_UNSAFE = re.compile(r": | #|\t")


def flat_mapping(block: str) -> dict[str, Any] | None:
    """The commonest front matter, ``key: plain words`` lines (words may go on over indented
    lines), read with a regex per line; None for anything else (`simple_mapping`, then the
    YAML parser, read it)."""
    out: dict[str, str] = {}
    key = ""
    for line in block.split("\n"):
        if not line:
            key = ""  # words after a blank line would join with a newline, not a space
            continue
        if line[0] == " ":
            more = _FLAT_MORE.fullmatch(line)
            if more is None or not key or _FLAT_UNSAFE.search(more[1]):
                return None
            out[key] = f"{out[key]} {more[1]}"
            continue
        found = _FLAT_LINE.fullmatch(line)
        if found is None:
            return None
        key, value = found.groups()
        if _FLAT_UNSAFE.search(value) or value.lower() in _YAML_WORDS or key.lower() in _YAML_WORDS:
            return None
        out[key] = value
    return dict(out)


def _plain(value: str) -> str | None:
    """``value`` if YAML would read it as this very string (a plain scalar), else None."""
    if value[:1] in ('"', "'") and len(value) > 1 and value[-1] == value[0]:
        inner = value[1:-1]
        if value[0] == '"' and "\\" not in inner and '"' not in inner:
            return inner
        if value[0] == "'" and "'" not in inner:
            return inner
        return None
    if (
        not value
        or value[0] in _YAML_SPECIAL_START
        or value[0].isdigit()
        or value.endswith(":")
        or " #" in value
        or ": " in value
        or value.lower().lstrip(".") in _YAML_WORDS
    ):
        return None
    return value


def simple_mapping(block: str) -> dict[str, Any] | None:
    """Parse the usual front matter without the YAML parser: ``key: words`` lines, plain
    continuation lines, and ``- item`` lists of plain words. None when anything needs the real
    parser (which then reads the block; tests check both agree)."""
    out: dict[str, Any] = {}
    key: str | None = None
    for line in block.split("\n"):
        stripped = line.strip(_YAML_SPACE)
        if not stripped or "\t" in line:
            if "\t" in line:
                return None
            key = None  # words after a blank line would join with a newline, not a space
            continue
        if line[0] == " " or stripped.startswith("- "):
            if key is None or not _continue(out, key, stripped, line):
                return None
            continue
        name, sep, value = line.partition(":")
        value = value.strip(_YAML_SPACE)
        if not _SIMPLE_KEY.match(name) or (value and not line.startswith(f"{name}: ")):
            return None
        if name.lower() in _YAML_WORDS:
            return None
        if not sep:
            return None
        if not value:
            out[name] = []  # a list must follow
        elif value[0] == "[":
            items = _flow_list(value)
            if items is None:
                return None
            out[name] = items
        else:
            plain = _plain(value)
            if plain is None:
                return None
            out[name] = plain
        key = name
    if any(v == [] for v in out.values()):
        return None if not _declared_empty(block) else out
    return out


def _declared_empty(block: str) -> bool:
    """Every empty list in the result came from a written ``[]``."""
    return all(not line.rstrip(_YAML_SPACE).endswith(":") for line in block.split("\n"))


def _flow_list(value: str) -> list[Any] | None:
    """``[a, b]`` of plain words (no nesting, quotes or mappings), else None."""
    if not value.endswith("]") or any(c in value[1:-1] for c in "[]{}'\"#:&*!|>%@`"):
        return None
    inner = value[1:-1].strip(_YAML_SPACE)
    if not inner:
        return []
    items: list[Any] = []
    for part in inner.split(","):
        plain = _plain(part.strip(_YAML_SPACE))
        if plain is None or plain != part.strip(_YAML_SPACE):
            return None
        items.append(plain)
    return items


def _continue(out: dict[str, Any], key: str, stripped: str, line: str) -> bool:
    current = out[key]
    if isinstance(current, list):
        if not stripped.startswith("- "):
            return False
        item = _plain(stripped[2:].strip(_YAML_SPACE))
        if item is None:
            return False
        cast("list[Any]", current).append(item)
        return True
    if not line.startswith(" ") or stripped.startswith(("- ", "#")) or current[:1] in "'\"":
        return False
    plain = _plain(stripped)
    if plain is None or plain != stripped:
        return False
    out[key] = f"{current} {plain}"
    return True


def _closing_fence(text: str, first_nl: int) -> tuple[int, int] | None:
    """Where the ``---`` line that closes the front matter starts, and where the body starts
    (``first_nl`` is the end of the opening fence's line)."""
    pos = first_nl
    while (idx := text.find("\n---", pos)) >= 0:
        start = idx + 1
        nl = text.find("\n", start)
        line_end = len(text) if nl < 0 else nl
        if not text[start + 3 : line_end].strip(" \t\r"):
            return start, (line_end + 1 if nl >= 0 else line_end)
        pos = start
    return None


def line_of(text: str, needle: str, start: int = 0) -> int | None:
    """The 1-based line where ``needle`` first occurs (None if absent)."""
    if not needle:
        return None
    pos = text.find(needle, start)
    if pos < 0:
        return None
    return text.count("\n", 0, pos) + 1


def json_key_line(text: str, key: str) -> int | None:
    """The line of ``"key":`` in a JSON text (None if absent)."""
    return line_of(text, json.dumps(key) + ":") or line_of(text, json.dumps(key))


def toml_key_line(text: str, key: str) -> int | None:
    """The line where a TOML key is assigned or a table with that name opens."""
    match = re.search(rf"(?m)^\s*(?:{re.escape(key)}\s*=|\[[^\]]*{re.escape(key)}\])", text)
    if match is None:
        return None
    return text.count("\n", 0, match.start()) + 1


def as_dict(value: object) -> dict[str, Any]:
    """``value`` if it is a mapping (typed for the checker), else an empty dict."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    """``value`` if it is a list, else an empty list."""
    return cast("list[Any]", value) if isinstance(value, list) else []
