"""Secrets in plain text: recognised by shape or by the name they are stored under.

Only the *kind* and the *place* of a secret leave this module; values are replaced by
`REDACTED` before anything is built from them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

REDACTED = "[redacted]"

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("Anthropic API key", r"sk-ant-[A-Za-z0-9_\-]{20,}"),
        ("OpenAI API key", r"sk-(?:proj-|svcacct-)?[A-Za-z0-9_\-]{32,}"),
        ("GitHub token", r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})"),
        ("GitLab token", r"\bglpat-[A-Za-z0-9_\-]{20,}"),
        ("AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
        ("Slack token", r"\bxox[abprs]-[A-Za-z0-9\-]{10,}"),
        ("Google API key", r"\bAIza[0-9A-Za-z_\-]{35}"),
        ("Stripe secret key", r"\b(?:sk|rk)_live_[0-9A-Za-z]{20,}"),
        ("private key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    )
)
_ANY_PATTERN = re.compile("|".join(f"(?:{p.pattern})" for _, p in _PATTERNS))
_HINT = re.compile(r"sk-|gh[pousr]_|github_pat_|glpat-|AKIA|ASIA|xox|AIza|_live_|PRIVATE KEY")
"""A literal part of every pattern: text without any of them holds no shaped secret (one fast
search saves running the patterns over every file)."""


def may_hold(text: str) -> bool:
    """False when ``text`` cannot contain a secret of any known shape."""
    return _HINT.search(text) is not None


_SECRET_NAME = re.compile(
    r"(?i)(api[_-]?key|apikey|token|secret|passw(?:or)?d|credential|private[_-]?key|"
    r"^authorization$|auth[_-]?key|access[_-]?key)"
)
_REFERENCE = re.compile(r"^\s*(?:\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}|\$[A-Za-z_]\w*)\s*$")
_EMBEDDED_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}|\$[A-Za-z_]\w*")
_HARMLESS = re.compile(r"(?i)^(?:[0-9.]+|true|false|on|off|yes|no|none|null|)$")
_PLACEHOLDER = re.compile(r"(?i)^(?:<[^>]*>|x{3,}|\*{3,}|changeme|your[-_ ].*|\.\.\.)$")


@dataclass(frozen=True, slots=True)
class SecretHit:
    """A secret's kind and where it sits (a key path such as ``mcpServers.gh.env.TOKEN``)."""

    kind: str
    where: str
    value: str
    """The raw value, only to find its line; never put into a finding or an artifact."""


def kind_of_value(value: str) -> str | None:
    """The kind of secret ``value`` looks like by its shape, or None."""
    if not may_hold(value):
        return None
    for kind, pattern in _PATTERNS:
        if pattern.search(value):
            return kind
    return None


def is_reference(value: str) -> bool:
    """True for ``${VAR}``, ``${VAR:-default}`` or ``$VAR``: a pointer, not a secret."""
    return bool(_REFERENCE.match(value))


def secret_kind(key: str, value: object) -> str | None:
    """Whether ``key = value`` holds a secret in plain text, and which kind."""
    if not isinstance(value, str):
        return None
    shaped = kind_of_value(value)
    if shaped:
        return shaped
    literal = _EMBEDDED_REFERENCE.sub("", value).strip()
    if literal.lower().startswith("bearer "):
        literal = literal[7:].strip()
    if len(literal) < 8 or _PLACEHOLDER.match(literal) or is_reference(value):
        return None
    if _SECRET_NAME.search(key):
        return f"literal value of {key}"
    return None


def scan_mapping(mapping: Mapping[str, Any], where: str) -> Iterator[SecretHit]:
    """Secrets among the values of an env or headers mapping."""
    for key, value in mapping.items():
        kind = secret_kind(str(key), value)
        if kind and isinstance(value, str):
            yield SecretHit(kind, f"{where}.{key}", value)


def scan_list(values: list[Any], where: str) -> Iterator[SecretHit]:
    """Secrets in a list of arguments (by shape only, or the value after a ``--token`` flag)."""
    previous = ""
    for index, value in enumerate(values):
        if isinstance(value, str):
            kind = kind_of_value(value)
            if kind is None and previous.startswith("-") and _SECRET_NAME.search(previous):
                kind = secret_kind(previous.lstrip("-"), value)
            if kind:
                yield SecretHit(kind, f"{where}[{index}]", value)
            previous = value


def scan_text(text: str) -> Iterator[tuple[str, int]]:
    """Secrets in free text by shape: (kind, offset)."""
    if not may_hold(text):
        return
    for match in _ANY_PATTERN.finditer(text):
        kind = kind_of_value(match.group(0)) or "secret"
        yield kind, match.start()


def redact_text(text: str) -> str:
    """``text`` with every shaped secret replaced."""
    return _ANY_PATTERN.sub(REDACTED, text) if may_hold(text) else text


def redact_mapping(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """An env or headers mapping safe to show: references and plain flags kept, the rest hidden."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        text = value if isinstance(value, str) else str(value)
        if is_reference(text) or (_HARMLESS.match(text) and not kind_of_value(text)):
            out[str(key)] = value
        else:
            out[str(key)] = REDACTED
    return out


def redact_list(values: list[Any]) -> list[Any]:
    """Arguments with shaped secrets (and values after ``--token``-like flags) hidden."""
    out: list[Any] = []
    previous = ""
    for value in values:
        if isinstance(value, str):
            hidden = kind_of_value(value) or (
                previous.startswith("-")
                and _SECRET_NAME.search(previous)
                and not is_reference(value)
            )
            out.append(REDACTED if hidden else value)
            previous = value
        else:
            out.append(value)
    return out
