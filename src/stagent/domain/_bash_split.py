"""Splitting a shell command into the simple commands that permission rules are matched against.

Pure text processing, no shell is run. The splitter knows enough of POSIX shell syntax to find the
commands a line would execute: control operators (``&&``, ``||``, ``;``, ``|``, ``|&``, ``&``,
newline) outside quotes, subshell parentheses, command and process substitutions (whose contents
are commands too), comments, and here-documents (whose bodies are data, not commands).

`stagent.domain._bash_wrappers` then peels the wrappers Claude Code strips before matching.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from functools import lru_cache

from stagent.domain._bash_wrappers import command_variants

_KEYWORD_PREFIXES = frozenset({"if", "then", "elif", "else", "do", "while", "until", "!", "{"})
_KEYWORD_ONLY = frozenset({"fi", "done", "esac", "}", "then", "do", "else", "{", "!"})
_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh"})
_DASH_C = re.compile(r"-[a-z]*c[a-z]*")


@dataclass(frozen=True, slots=True)
class SplitCommand:
    """The simple commands in a command line.

    ``parts`` must all be allowed for the line to be allowed. ``shells`` are only for deny and ask
    rules: the outer ``bash -c '...'`` invocations whose scripts were unwrapped into ``parts``,
    and the commands inside scripts run through deny-only wrappers (``sudo bash -c '...'``).
    """

    parts: tuple[str, ...]
    shells: tuple[str, ...] = ()


@lru_cache(maxsize=2048)
def split_command(command: str) -> SplitCommand:
    """Split ``command`` into its simple commands (see the module docstring)."""
    raw: list[str] = []
    _Splitter(command, raw).run()
    parts: list[str] = []
    shells: list[str] = []
    for part in raw:
        cleaned = _strip_keywords(part)
        if not cleaned:
            continue
        canonical, forms = command_variants(cleaned)
        script = _shell_script(canonical)
        if script is not None:  # `[timeout 5] bash -c 'x'` runs x: x must be allowed
            inner = split_command(script)
            parts.extend(inner.parts)
            shells.extend((cleaned, *inner.shells))
            continue
        parts.append(cleaned)
        for form in forms:  # `sudo bash -c 'x'`: deny and ask rules also look at x
            script = _shell_script(form)
            if script is not None:
                inner = split_command(script)
                shells.extend((*inner.parts, *inner.shells))
    return SplitCommand(tuple(parts), tuple(dict.fromkeys(shells)))


_HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z0-9_.-]+)\2")


class _Splitter:
    """A left-to-right scan that appends simple commands to ``out``.

    With ``nested`` True it scans the inside of ``$(...)`` and stops at the unmatched ``)``.
    """

    def __init__(self, text: str, out: list[str], start: int = 0, *, nested: bool = False) -> None:
        self.text = text
        self.out = out
        self.cur: list[str] = []
        self.heredocs: list[tuple[str, bool, bool]] = []
        """Pending here-documents: delimiter, strip leading tabs, body expanded."""
        self.i = start
        self.nested = nested
        self.depth = 0
        self.done = False

    def run(self) -> int:
        """Scan to the end (or the closing parenthesis); return the index just past it."""
        while self.i < len(self.text) and not self.done:
            self._step(self.text[self.i])
        self._flush()
        return self.i

    def _step(self, c: str) -> None:
        text, i = self.text, self.i
        two = text[i : i + 2]
        if c == "\\":
            self._escape()
        elif two == "$'":
            self._ansi_quoted()
        elif c == "'":
            self._take_until_quote(i, "'")
        elif c == '"':
            self._double_quoted()
        elif c == "`" or two in ("$(", "<(", ">("):
            end = self._substitution(i)
            self.cur.append(text[i:end])
            self.i = end
        elif c == "#" and self._at_word_start():
            self._skip_comment()
        elif two == "<<" and text[i : i + 3] != "<<<":
            self._heredoc_start()
        elif c == "\n":
            self._flush()
            self.i += 1
            self._skip_heredoc_bodies()
        elif c in ";&|()":
            self._operator(c, two)
        else:
            self.cur.append(c)
            self.i += 1

    def _flush(self) -> None:
        part = "".join(self.cur).strip()
        if part:
            self.out.append(part)
        self.cur = []

    def _at_word_start(self) -> bool:
        return not self.cur or self.cur[-1][-1:].isspace()

    def _escape(self) -> None:
        nxt = self.text[self.i + 1 : self.i + 2]
        self.cur.append(" " if nxt == "\n" else "\\" + nxt)
        self.i += 2

    def _take_until_quote(self, start: int, quote: str) -> None:
        end = self.text.find(quote, start + 1)
        end = len(self.text) if end < 0 else end + 1
        self.cur.append(self.text[start:end])
        self.i = end

    def _ansi_quoted(self) -> None:
        """``$'...'``: backslash escapes (``\\'``) do not end the string."""
        text = self.text
        j = self.i + 2
        while j < len(text) and text[j] != "'":
            j += 2 if text[j] == "\\" else 1
        end = min(j + 1, len(text))
        self.cur.append(text[self.i : end])
        self.i = end

    def _double_quoted(self) -> None:
        end = min(self.scan_substitutions(self.i + 1, stop='"') + 1, len(self.text))
        self.cur.append(self.text[self.i : end])
        self.i = end

    def scan_substitutions(self, start: int = 0, stop: str | None = None) -> int:
        """Split the substitutions in text that is otherwise data (double quotes, unquoted
        here-document bodies, arithmetic); return the index of ``stop`` or the end."""
        text = self.text
        j = start
        while j < len(text) and text[j] != stop:
            if text[j] == "\\":
                j += 2
            elif text[j : j + 2] == "$(" or text[j] == "`":
                j = self._substitution(j)
            else:
                j += 1
        return min(j, len(text))

    def _substitution(self, start: int) -> int:
        """Split the commands inside a substitution starting at ``start``; return its end."""
        text = self.text
        if text[start] == "`":
            end = start + 1
            while end < len(text) and text[end] != "`":
                end += 2 if text[end] == "\\" else 1
            _Splitter(text[start + 1 : end], self.out).run()
            return min(end + 1, len(text))
        if text[start : start + 3] == "$((":
            end = _matching_paren(text, start + 1)
            _Splitter(text[start + 3 : end - 2], self.out).scan_substitutions()
            return end
        return _Splitter(text, self.out, start + 2, nested=True).run()

    def _skip_comment(self) -> None:
        end = self.text.find("\n", self.i)
        self.i = len(self.text) if end < 0 else end

    def _heredoc_start(self) -> None:
        match = _HEREDOC.match(self.text, self.i)
        if match is None:
            self.cur.append("<<")
            self.i += 2
            return
        self.heredocs.append((match.group(3), match.group(1) == "-", not match.group(2)))
        self.cur.append(match.group(0))
        self.i = match.end()

    def _skip_heredoc_bodies(self) -> None:
        text = self.text
        for delimiter, strip_tabs, expanded in self.heredocs:
            body: list[str] = []
            while self.i < len(text):
                end = text.find("\n", self.i)
                end = len(text) if end < 0 else end
                line = text[self.i : end]
                self.i = min(end + 1, len(text))
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    break
                body.append(line)
            if expanded:  # an unquoted delimiter: $(...) in the body runs
                _Splitter("\n".join(body), self.out).scan_substitutions()
        self.heredocs = []

    def _operator(self, c: str, two: str) -> None:
        prev = self.cur[-1][-1:] if self.cur else ""
        if (c == "&" and (prev in ("<", ">") or two == "&>")) or (c == "|" and prev == ">"):
            self.cur.append(c)  # a redirection: 2>&1, &>file, <&3, >|file
            self.i += 1
            return
        self._flush()
        self.i += 2 if two in ("&&", "||", "|&", ";;", ";&") else 1
        if c == "(":
            self.depth += 1
        elif c == ")":
            if self.depth > 0:
                self.depth -= 1
            elif self.nested:
                self.done = True


def _matching_paren(text: str, open_index: int) -> int:
    """The index just past the ``)`` closing the ``(`` at ``open_index`` (arithmetic only)."""
    depth = 0
    for j in range(open_index, len(text)):
        if text[j] == "(":
            depth += 1
        elif text[j] == ")":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(text)


def _strip_keywords(part: str) -> str:
    """Drop shell keywords around a simple command (``then rm x`` -> ``rm x``; ``fi`` -> "")."""
    words = part.split(None, 1)
    while words and words[0] in _KEYWORD_PREFIXES:
        if len(words) == 1:
            return ""
        words = words[1].split(None, 1)
    text = " ".join(words)
    return "" if text in _KEYWORD_ONLY else text


def _shell_script(part: str) -> str | None:
    """The script of ``bash -c 'script'`` (also ``sh -lc``, ``zsh -c``...), else None."""
    tokens = _words(part)
    if len(tokens) < 3 or tokens[0].rsplit("/", 1)[-1] not in _SHELLS:
        return None
    i = 1
    while i < len(tokens) and tokens[i].startswith("-") and not _DASH_C.fullmatch(tokens[i]):
        i += 1
    if i + 1 >= len(tokens) or not _DASH_C.fullmatch(tokens[i]):
        return None
    return tokens[i + 1]


def _words(part: str) -> list[str]:
    try:
        return shlex.split(part)
    except ValueError:
        return part.split()


_QUOTED = re.compile(r"'[^']*'|\"(?:\\.|[^\"\\])*\"")
_REDIRECT = re.compile(r"(?:\d*|&)>>?\|?\s*(&?)(\S*)")
_HARMLESS_TARGETS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr"})


def writes_file(part: str) -> bool:
    """True if the command redirects output into a file (``> f``, ``>> f``, ``&> f``).

    Duplications (``2>&1``) and ``/dev/null`` do not count. Allow rules for commands do not
    cover such a command, because the redirection writes where no Edit rule was consulted.
    """
    unquoted = _QUOTED.sub("''", part)
    for match in _REDIRECT.finditer(unquoted):
        duplicate, target = match.group(1), match.group(2)
        if duplicate or target in _HARMLESS_TARGETS:
            continue
        return True
    return False
