"""The wrappers Claude Code strips from a simple command before matching it against rules.

``timeout N``, ``time``, ``nice [-n N]``, ``nohup``, ``stdbuf ...``, ``command``, ``builtin``,
``noglob``, flag-less ``xargs`` and leading ``VAR=value`` assignments. Allow rules see a command
with only these (and only safe assignments) removed; deny and ask rules also look through
``env``, ``sudo``, ``exec`` and any assignment, so a denial is harder to dodge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")

SAFE_ENV_NAMES = frozenset(
    {
        "CI",
        "DEBUG",
        "NODE_ENV",
        "RUST_BACKTRACE",
        "RUST_LOG",
        "TZ",
        "LANG",
        "TERM",
        "NO_COLOR",
        "FORCE_COLOR",
        "COLUMNS",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONIOENCODING",
        "GOOS",
        "GOARCH",
        "CGO_ENABLED",
        "CARGO_TERM_COLOR",
    }
)
"""Assignments an *allow* match may look past. Others (``PATH``, ``LD_PRELOAD``,
``GIT_SSH_COMMAND``, ``NODE_OPTIONS``...) change what the command does, so allow rules see them."""


@dataclass(frozen=True, slots=True)
class _Word:
    value: str
    start: int


def _word_spans(part: str) -> list[_Word]:
    """The words of a simple command, unquoted, with where each starts in ``part``."""
    words: list[_Word] = []
    i = 0
    while i < len(part):
        if part[i].isspace():
            i += 1
            continue
        start = i
        chars: list[str] = []
        while i < len(part) and not part[i].isspace():
            c = part[i]
            if c in "'\"":
                close = part.find(c, i + 1)
                close = len(part) if close < 0 else close
                chars.append(part[i + 1 : close])
                i = close + 1
            elif c == "\\":
                chars.append(part[i + 1 : i + 2])
                i += 2
            else:
                chars.append(c)
                i += 1
        words.append(_Word("".join(chars), start))
    return words


def _skip_options(words: list[_Word], i: int, takes_value: frozenset[str]) -> int:
    """Skip ``-x`` style options from ``i``; ones in ``takes_value`` consume the next word."""
    while i < len(words) and words[i].value.startswith("-") and words[i].value != "-":
        i += 2 if words[i].value in takes_value else 1
    return i


_TIMEOUT_VALUE = frozenset({"-s", "-k", "--signal", "--kill-after"})
_STDBUF_VALUE = frozenset({"-i", "-o", "-e"})
_NICE_VALUE = frozenset({"-n"})
_SUDO_VALUE = frozenset({"-u", "-g", "-h", "-p", "-C", "-U", "-r", "-t"})
_DURATION = re.compile(r"^\d+(\.\d+)?[smhd]?$")


def _wrapper_end(words: list[_Word], *, allow: bool) -> int | None:
    """How many words a leading wrapper takes, or None if the command has no wrapper.

    With ``allow`` False, also peels wrappers that only deny and ask rules look through
    (``env``, ``sudo``, ``exec``, any assignment), which makes denials harder to dodge.
    """
    head = words[0].value
    nxt = words[1].value if len(words) > 1 else ""
    if _ASSIGNMENT.match(head):
        safe = head.split("=", 1)[0] in SAFE_ENV_NAMES or head.startswith("LC_")
        return 1 if safe or not allow else None
    if head in ("time", "nohup", "builtin", "noglob"):
        return 2 if head == "time" and nxt == "-p" else 1
    if head == "timeout":
        i = _skip_options(words, 1, _TIMEOUT_VALUE)
        return i + 1 if i < len(words) and _DURATION.match(words[i].value) else None
    if head == "nice":
        i = 1
        while i < len(words) and re.match(r"^(-n|-\d+|-n-?\d+|--adjustment=.*)$", words[i].value):
            i += 2 if words[i].value in _NICE_VALUE else 1
        return i
    if head == "stdbuf":
        return _skip_options(words, 1, _STDBUF_VALUE)
    if head == "command":
        return 2 if nxt == "-p" else (1 if nxt and not nxt.startswith("-") else None)
    if head == "xargs":
        return 1 if nxt and not nxt.startswith("-") else None
    if allow:
        return None
    if head in ("env", "exec"):
        return _skip_options(words, 1, frozenset({"-u"}))
    if head in ("sudo", "doas"):
        return _skip_options(words, 1, _SUDO_VALUE)
    return None


@lru_cache(maxsize=4096)
def command_variants(part: str) -> tuple[str, tuple[str, ...]]:
    """The forms of a simple command that rules are matched against.

    Returns ``(canonical, all_forms)``: ``canonical`` has the documented wrappers and safe
    assignments stripped (allow rules match it only); ``all_forms`` holds the original, every
    stripping step (including deny-only wrappers), each with its quotes removed (``\\rm``,
    ``'rm'`` -> ``rm``) and with the command's directory dropped (``/bin/rm`` -> ``rm``): deny and
    ask rules match any of them.
    """
    canonical = _strip_all(part, allow=True)
    forms: list[str] = [part]
    current = part
    while True:
        words = _word_spans(current)
        if not words:
            break
        end = _wrapper_end(words, allow=False)
        if end is None or end >= len(words):
            break
        current = current[words[end].start :]
        forms.append(current)
    for form in list(forms):
        words = _word_spans(form)
        if not words:
            continue
        forms.append(" ".join(w.value for w in words))  # r'm' -> rm, \rm -> rm
        head = words[0].value
        if "/" in head and not head.endswith("/"):  # /bin/rm -> rm
            forms.append(" ".join([head.rsplit("/", 1)[1], *(w.value for w in words[1:])]))
    if canonical not in forms:
        forms.append(canonical)
    return canonical, tuple(dict.fromkeys(forms))


def _strip_all(part: str, *, allow: bool) -> str:
    current = part
    while True:
        words = _word_spans(current)
        if not words:
            return current
        end = _wrapper_end(words, allow=allow)
        if end is None or end >= len(words):
            return current
        current = current[words[end].start :]


def first_words(part: str) -> list[str]:
    """The words of a simple command after its wrappers (for suggestions and risk levels)."""
    return [w.value for w in _word_spans(_strip_all(part, allow=True))]
