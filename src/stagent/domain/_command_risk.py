"""What simple shell commands do, roughly: read-only, destructive, or neither. Pure heuristics.

Used for risk levels and for how broad an "always allow" suggestion may be; never to allow or deny
anything by itself.
"""

from __future__ import annotations

import re

from stagent.domain._bash_split import split_command, writes_file
from stagent.domain._bash_wrappers import first_words

READ_ONLY_COMMANDS = frozenset(
    [
        "ls",
        "cat",
        "head",
        "tail",
        "wc",
        "pwd",
        "echo",
        "printf",
        "grep",
        "egrep",
        "fgrep",
        "rg",
        "which",
        "whereis",
        "type",
        "stat",
        "file",
        "du",
        "df",
        "tree",
        "diff",
        "cmp",
        "basename",
        "dirname",
        "realpath",
        "readlink",
        "date",
        "whoami",
        "id",
        "uname",
        "env",
        "printenv",
        "true",
        "false",
        "test",
    ]
)
READ_ONLY_GIT = frozenset(
    [
        "status",
        "log",
        "diff",
        "show",
        "blame",
        "rev-parse",
        "ls-files",
        "ls-tree",
        "shortlog",
        "describe",
        "grep",
        "reflog",
    ]
)
_FIND_ACTIONS = frozenset({"-exec", "-execdir", "-delete", "-ok", "-okdir", "-fprint", "-fls"})
_ALWAYS_DESTRUCTIVE = frozenset({"sudo", "su", "doas", "dd", "shred", "mkfs", "wipefs", "fdisk"})
_PIPE_TO_SHELL = re.compile(r"\b(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(ba|z|da|k)?sh\b")
_SENSITIVE_PATH = re.compile(
    r"(^|/)(\.env(\..*)?|\.ssh|\.aws|\.gnupg|\.netrc|\.npmrc|\.pypirc|id_rsa[^/]*|id_ed25519[^/]*"
    r"|[^/]*\.pem|[^/]*\.key|\.git|\.bashrc|\.zshrc|\.profile|\.bash_profile)(/|$)"
    r"|^/etc/"
)


def is_read_only(part: str) -> bool:
    """True for a simple command that only reads (``ls``, ``cat``, ``git status``...)."""
    words = first_words(part)
    if not words or writes_file(part):
        return False
    head = words[0]
    if head == "git":
        sub = next((w for w in words[1:] if not w.startswith("-")), "")
        return sub in READ_ONLY_GIT or (sub in ("branch", "remote", "tag") and len(words) <= 3)
    if head == "find":
        return not _FIND_ACTIONS.intersection(words)
    return head in READ_ONLY_COMMANDS


def is_destructive_part(part: str) -> bool:
    """True for a simple command that deletes, overwrites history or escalates privileges."""
    words = first_words(part)
    if not words:
        return False
    head = words[0].rsplit("/", 1)[-1]
    flags = [w for w in words[1:] if w.startswith("-")]
    if head in _ALWAYS_DESTRUCTIVE or head.startswith("mkfs."):
        return True
    if head == "rm":
        return any(
            w in ("--recursive", "--force") or (not w.startswith("--") and set(w[1:]) & set("rRf"))
            for w in flags
        )
    if head in ("chmod", "chown"):
        return "-R" in flags or "--recursive" in flags
    if head == "git":
        return _destructive_git(words[1:])
    return False


def _destructive_git(args: list[str]) -> bool:
    sub = next((w for w in args if not w.startswith("-")), "")
    flags = set(args)
    if sub == "push":
        forced = {"--force", "-f", "--force-with-lease", "--mirror", "--delete", "-d"}
        return bool(forced & flags) or any(a.startswith(("+", "--force")) for a in args)
    if sub == "reset":
        return "--hard" in flags
    if sub == "clean":
        return any(a.startswith("-") and "f" in a for a in args)
    if sub == "branch":
        return bool({"-D", "--delete"} & flags)
    return sub in ("filter-branch", "filter-repo")


def is_destructive(command: str) -> bool:
    """True if any part of the command line is destructive, or it pipes a download into a shell."""
    if _PIPE_TO_SHELL.search(command):
        return True
    return any(is_destructive_part(p) for p in split_command(command).parts)


def is_sensitive_path(path: str) -> bool:
    """True for secrets, shell start-up files, ``.git`` internals and ``/etc``."""
    return _SENSITIVE_PATH.search(path) is not None
