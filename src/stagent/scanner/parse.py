"""Reading files and parsing JSON, TOML and Markdown front matter, with line numbers on errors."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from typing import Any, cast

import yaml

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_TOML_LINE = re.compile(r"at line (\d+)")


@dataclass(frozen=True, slots=True)
class ParseError:
    """A syntax error: where it is and what the parser said."""

    line: int | None
    message: str


@dataclass(frozen=True, slots=True)
class FileText:
    """A file's text (invalid UTF-8 replaced) and the SHA-256 of its bytes."""

    text: str
    sha256: str


def read(path: str) -> FileText | None:
    """Read a file; None if it cannot be read."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    return FileText(data.decode("utf-8", errors="replace"), hashlib.sha256(data).hexdigest())


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
        return None, ParseError(int(match.group(1)) if match else None, message)


@dataclass(frozen=True, slots=True)
class FrontMatter:
    """A Markdown file split into its YAML front matter and body."""

    meta: dict[str, Any]
    body: str
    present: bool
    error: ParseError | None = None
    body_line: int = 1


def front_matter(text: str) -> FrontMatter:
    """Split ``---``-fenced YAML front matter from a Markdown body.

    A missing front matter is not an error (``present`` is False); an unclosed fence, invalid
    YAML or a non-mapping is, with the file line of the problem.
    """
    if not text.startswith("---"):
        return FrontMatter({}, text, False)
    first_nl = text.find("\n")
    if first_nl < 0 or text[:first_nl].strip() != "---":
        return FrontMatter({}, text, False)
    end = _closing_fence(text, first_nl + 1)
    if end is None:
        return FrontMatter({}, text, True, ParseError(1, "front matter has no closing '---'"))
    block_end, body_start = end
    block = text[first_nl + 1 : block_end]
    body_line = text.count("\n", 0, body_start) + 1
    try:
        meta = yaml.load(block, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + 2) if mark is not None else 2
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return FrontMatter({}, text[body_start:], True, ParseError(line, str(problem)), body_line)
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        return FrontMatter(
            {}, text[body_start:], True, ParseError(2, "front matter is not a mapping"), body_line
        )
    return FrontMatter(meta, text[body_start:], True, None, body_line)  # pyright: ignore[reportUnknownArgumentType]


def _closing_fence(text: str, start: int) -> tuple[int, int] | None:
    pos = start
    while pos <= len(text):
        nl = text.find("\n", pos)
        line_end = len(text) if nl < 0 else nl
        if text[pos:line_end].rstrip() == "---":
            return pos, (line_end + 1 if nl >= 0 else line_end)
        if nl < 0:
            return None
        pos = nl + 1
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
