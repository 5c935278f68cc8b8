"""Read/Edit path rules: the four anchors and gitignore-style globs, matched on pure paths.

Anchors (Claude Code's): ``//path`` absolute, ``~/path`` the home directory, ``/path`` the
settings source (the project root for project rules), ``path`` or ``./path`` the current working
directory. Globs follow gitignore: ``*`` and ``?`` stay inside one path segment, ``**`` spans
segments, ``[...]`` is a character class, a trailing ``/`` means "everything inside", and a
pattern without a slash matches at any depth below its base.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Literal

Anchor = Literal["absolute", "home", "settings", "cwd"]

_GLOB_CHARS = frozenset("*?[")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")
_BACKSLASH_SEPARATOR = re.compile(r"\\[A-Za-z0-9_.-]")


class PathRuleError(ValueError):
    """A path specifier Claude Code would not understand; the message says why and the fix."""


@dataclass(frozen=True, slots=True)
class PathPattern:
    """A parsed path specifier: where it is anchored and the glob below that anchor."""

    anchor: Anchor
    glob: str
    """The pattern relative to the anchor, without a leading slash."""
    any_depth: bool
    """True when the pattern matches at any depth below its base (gitignore's slash-less
    patterns, and single-segment directories in deny/ask rules)."""
    regex: re.Pattern[str]

    def base(self, cwd: str, home: str, settings_dir: str) -> str:
        """The directory the glob is relative to."""
        if self.anchor == "absolute":
            return "/"
        if self.anchor == "home":
            return home
        if self.anchor == "settings":
            return settings_dir
        return cwd

    def matches(self, path: str, base: str, *, ancestors: bool) -> bool:
        """True if the absolute, normalized ``path`` matches below ``base``.

        With ``ancestors`` (deny and ask rules), a match on a parent directory also counts, as in
        gitignore, where everything inside an ignored directory is ignored.
        """
        rel = _relative_to(path, base, ignore_case=bool(self.regex.flags & re.IGNORECASE))
        if rel is None:
            return False
        if self.regex.fullmatch(rel):
            return True
        if not ancestors:
            return False
        segments = rel.split("/")
        return any(self.regex.fullmatch("/".join(segments[:n])) for n in range(1, len(segments)))


def parse_path_pattern(
    spec: str, *, single_segment_any_depth: bool, ignore_case: bool = False
) -> PathPattern:
    """Parse a Read/Edit specifier; raise `PathRuleError` for forms Claude Code would not honour.

    ``single_segment_any_depth`` is True for deny and ask rules: ``src/**`` then matches a ``src``
    directory at any depth, while an allow rule matches only at the working directory.
    ``ignore_case`` (deny and ask) also catches ``.ENV`` on case-insensitive file systems.
    """
    _refuse_unsupported(spec)
    anchor, rest = _split_anchor(spec)
    unanchored = "/" not in rest.rstrip("/")
    if rest.endswith("/"):
        rest += "**"
    rest = rest or "**"
    segments = rest.split("/")
    if any(seg == ".." for seg in segments):
        raise PathRuleError(
            "'..' segments are not allowed in path rules; anchor the path with // (absolute) "
            "or ~/ (home) instead"
        )
    if any(seg in ("", ".") for seg in segments):
        raise PathRuleError("the path has an empty or '.' segment; write it without '//' or '/./'")
    relative = anchor == "cwd" and not spec.startswith("./")
    any_depth = relative and (
        unanchored or (single_segment_any_depth and _single_segment_dir(segments))
    )
    regex = _glob_regex(segments)
    if any_depth and not rest.startswith("**/"):
        regex = "(?:[^/]+/)*" + regex
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return PathPattern(anchor, rest, any_depth, re.compile(regex, flags))


def _refuse_unsupported(spec: str) -> None:
    if spec.startswith("!"):
        raise PathRuleError(
            "gitignore negation ('!') is not supported in permission rules; "
            "use a deny rule for the exception instead"
        )
    if _WINDOWS_DRIVE.match(spec) or _BACKSLASH_SEPARATOR.search(spec):
        raise PathRuleError(
            "Windows paths and backslashes are not understood; write POSIX paths "
            "such as //c/Users/me/** for C:\\Users\\me"
        )
    if spec.startswith("~") and not (spec == "~" or spec.startswith("~/")):
        raise PathRuleError(
            "'~user' anchors are not supported; use ~/ for your home directory or // for an "
            "absolute path"
        )
    if spec.startswith("///"):
        raise PathRuleError("an absolute path starts with exactly two slashes, as in //etc/hosts")


def _split_anchor(spec: str) -> tuple[Anchor, str]:
    if spec.startswith("//"):
        return "absolute", spec[2:]
    if spec == "~" or spec.startswith("~/"):
        return "home", spec[2:]
    if spec.startswith("/"):
        return "settings", spec[1:]
    if spec in (".", "./"):
        return "cwd", ""
    return "cwd", spec[2:] if spec.startswith("./") else spec


def _single_segment_dir(segments: list[str]) -> bool:
    """``src/**`` or ``src/*.ts``: one plain directory name, then the rest."""
    return len(segments) == 2 and not (_GLOB_CHARS & set(segments[0]))


def _glob_regex(segments: list[str]) -> str:
    out: list[str] = []
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
            continue
        out.append(_segment_regex(seg) + ("" if last else "/"))
    return "".join(out)


def _segment_regex(seg: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(seg):
        c = seg[i]
        if c == "\\" and i + 1 < len(seg):
            out.append(re.escape(seg[i + 1]))
            i += 2
            continue
        if c == "*":
            while i + 1 < len(seg) and seg[i + 1] == "*":
                i += 1
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and (end := _class_end(seg, i)) > 0:
            body = seg[i + 1 : end]
            body = "^" + body[1:] if body[:1] in ("!", "^") else body
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _class_end(seg: str, start: int) -> int:
    """The index of the ``]`` closing the class opened at ``start``, or -1."""
    j = start + 1
    if seg[j : j + 1] in ("!", "^"):
        j += 1
    if seg[j : j + 1] == "]":
        j += 1
    return seg.find("]", j)


def _relative_to(path: str, base: str, *, ignore_case: bool = False) -> str | None:
    base = base.rstrip("/") or "/"
    if base == "/":
        return path.lstrip("/")
    folded_path, folded_base = (path.lower(), base.lower()) if ignore_case else (path, base)
    if folded_path == folded_base:
        return ""
    if folded_path.startswith(folded_base + "/"):
        return path[len(base) + 1 :]
    return None


def resolve_input_path(value: str, cwd: str, home: str) -> str:
    """An input path made absolute (``~`` expanded, relative to ``cwd``) and normalized."""
    if value == "~" or value.startswith("~/"):
        value = home + value[1:]
    elif not value.startswith("/"):
        value = posixpath.join(cwd, value)
    normalized = posixpath.normpath(value)
    return "/" + normalized.lstrip("/")
