"""One set of limits for what people type, enforced by the services every face goes through.

The API schema, the forms' ``maxlength`` and the CLI all use these numbers, so a value one face
accepts is accepted by all of them. Text may not hold NUL bytes (no database stores them) or
bidirectional override characters (they make text read differently from what it is).
"""

from __future__ import annotations

import re
from typing import cast
from urllib.parse import urlsplit

from stagent.domain.errors import ValidationError

TITLE_MAX = 500
"""Task titles."""
NAME_MAX = 200
"""Project names."""
DESCRIPTION_MAX = 20_000
"""Task and project descriptions."""
RULE_MAX = 1000
"""Permission rules (Claude Code syntax)."""
PATH_MAX = 4096
"""Paths (a project's directory, a settings file): Linux's PATH_MAX."""
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
"""Left-to-right/right-to-left embeddings, overrides, isolates and marks."""
NOT_TEXT = "\\x00" + BIDI_CONTROLS.pattern[1:-1]
"""What text a person types may not hold (`checked_plain`): NUL, bidirectional controls."""
CLEAN_TEXT = rf"^[^{NOT_TEXT}]*$"
"""A JSON-schema pattern for text `checked_plain` takes."""


def checked_text(field: str, value: str, limit: int) -> str:
    """``value`` if it is at most ``limit`` characters with no NUL and no bidi controls."""
    checked_plain(field, value)
    if len(value) > limit:
        raise ValidationError(
            f"{field}: {len(value)} characters is too long (at most {limit})",
            hint="shorten it",
        )
    return value


def checked_plain(field: str, value: str) -> str:
    """``value`` if it holds no NUL byte (no database stores one) and no bidi control."""
    if "\x00" in value:
        raise ValidationError(f"{field}: contains a NUL byte", hint="remove it")
    if BIDI_CONTROLS.search(value):
        raise ValidationError(
            f"{field}: contains a bidirectional override character (U+202A-202E, U+2066-2069)",
            hint="such characters make text display differently from what it says; remove them",
        )
    return value


def checked_path(field: str, value: str) -> str:
    """A path a person typed: at most `PATH_MAX` characters, no NUL byte."""
    if "\x00" in value:
        raise ValidationError(f"{field}: a path cannot contain a NUL byte", hint="remove it")
    if len(value) > PATH_MAX:
        raise ValidationError(
            f"{field}: {len(value)} characters is too long for a path (at most {PATH_MAX})",
            hint="use a shorter path",
        )
    return value


API_ROOT_EXAMPLE = "https://api.openai.com/v1 or http://127.0.0.1:8080/v1"
"""What an OpenAI-compatible provider's base URL looks like (said in `url_problem`'s fix)."""


def url_problem(value: object) -> str | None:
    """Why ``value`` is not an http(s) URL with a host (None: it is one). A provider's base URL
    is handed to the agent's CLI as it is; Codex takes any text there and fails each model call
    later (a path without a scheme, ``ftp://``, a typo), so it is checked where it is given."""
    if not isinstance(value, str) or not value.strip():
        return "give the provider's API root as an http(s) URL"
    shown = value if len(value) <= 80 else value[:79] + "…"
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        return f"{shown!r} contains spaces or control characters"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        return f"{shown!r} is not a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return f"{shown!r} is not an http(s) URL"
    if not parts.hostname:
        return f"{shown!r} names no host"
    return None


TEXT_MAP_EXAMPLES = {
    "query_params": '{"api-version": "2025-04-01-preview"}',
    "http_headers": '{"X-Team": "research"}',
}
"""What a provider's ``query_params`` / ``http_headers`` look like (said in the fix)."""
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""An HTTP header name (RFC 9110's token)."""


def text_map_problem(key: str, value: object) -> tuple[str, str] | None:
    """Why a provider's ``query_params`` or ``http_headers`` (``key``) would fail every model
    call Codex makes, and the fix (None: it maps names to one-line text). Names are shown;
    values never are (a header or a query parameter may carry a key)."""
    example = TEXT_MAP_EXAMPLES[key]
    if not isinstance(value, dict):
        return f"must map names to text, like {example}", f"give {key} as a mapping"
    what = "header" if key == "http_headers" else "parameter"
    for name, text in cast(dict[object, object], value).items():
        if not isinstance(name, str) or not name:
            return f"a {what} has an empty name", f"name each {what}, like {example}"
        shown = name if len(name) <= 40 else name[:39] + "…"
        if what == "header" and not _HEADER_NAME.fullmatch(name):
            return (
                f"{shown!r} is not a valid header name",
                "header names are letters, digits and - (like X-Team), nothing else",
            )
        if any(not ch.isprintable() for ch in name):
            return f"{what} name {shown!r} contains control characters", "remove them"
        if not isinstance(text, str):
            return (
                f"the value of {shown!r} must be text, not {_kind(text)}",
                f"quote it, like {example}",
            )
        if any(not ch.isprintable() and ch != "\t" for ch in text):
            return (
                f"the value of {shown!r} contains a line break or control character",
                "give it on one line (the value is not shown here: it may be a secret)",
            )
    return None


def _kind(value: object) -> str:
    """A JSON value's kind, in words (never the value itself)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    return "a list" if isinstance(value, list) else "a mapping"
