"""Where each tool keeps its logs, and which of its files an import reads (no parsing here:
`stagent.ledger.importers.service` plans an import, and finds nothing new, without importing
the parsers and their decoders).

Claude Code: ``<config dir>/projects/<project>/<session>.jsonl`` (and subagent files under
``<session>/subagents/``). Codex: ``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl`` (and
``archived_sessions/``); sessions Codex imported from Claude Code are skipped (the Claude Code
import counts them).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
"""A session id (compiled on first use, by `re`'s cache: a Claude Code import never needs it)."""


def claude_code_roots() -> list[Path]:
    """Where Claude Code keeps transcripts: every directory in ``CLAUDE_CONFIG_DIR`` (a
    comma-separated list), else ``~/.claude`` and ``~/.config/claude``."""
    configured = os.environ.get("CLAUDE_CONFIG_DIR", "").strip()
    if configured:
        return [Path(part.strip()).expanduser() for part in configured.split(",") if part.strip()]
    home = Path.home()
    return [home / ".claude", home / ".config" / "claude"]


def claude_code_files(roots: list[Path]) -> list[str]:
    """Every transcript under ``roots`` (a root with a ``projects`` folder is a config dir), as
    ``str`` paths spelled as `pathlib` spells them; main transcripts before subagent files, so a
    call's main-chain copy is the one kept (then in `pathlib` order: by parts).

    Found with `os.scandir` as ``Path.rglob("*.jsonl")`` finds them (symbolic links to folders
    are not followed, a folder it may not read is skipped; a link to a file counts): rglob, its
    `Path` per entry and their sort were a third of a re-run's work before reading."""
    found: dict[str, tuple[str, ...]] = {}
    for root in roots:
        base = root / "projects" if (root / "projects").is_dir() else root
        if base.is_dir():
            _transcripts(str(base), base.parts, found)
        elif base.is_file() and base.suffix == ".jsonl":
            found[str(base)] = base.parts
    return sorted(found, key=lambda path: ("subagents" in found[path], found[path]))


def _transcripts(folder: str, parts: tuple[str, ...], found: dict[str, tuple[str, ...]]) -> None:
    """Add every ``*.jsonl`` file under ``folder`` (whose `Path.parts` are ``parts``) to
    ``found`` (path -> parts)."""
    try:
        with os.scandir(folder) as entries:
            listed = list(entries)
    except PermissionError:
        return
    prefix = "" if folder == "." else folder if folder.endswith("/") else folder + "/"
    for entry in listed:
        name = entry.name
        try:
            is_file = name.endswith(".jsonl") and entry.is_file()
            is_dir = not is_file and entry.is_dir(follow_symlinks=False)
        except OSError:
            continue
        if is_file:
            found[prefix + name] = (*parts, name)
        elif is_dir:
            _transcripts(prefix + name, (*parts, name), found)


def codex_root() -> Path:
    """``$CODEX_HOME``, else ``~/.codex``."""
    configured = os.environ.get("CODEX_HOME", "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".codex"


def codex_files(root: Path) -> tuple[list[Path], list[Path]]:
    """(rollouts to read, compressed ``.jsonl.zst`` rollouts that cannot be read) under ``root``
    (a Codex home, or any folder of rollouts, or one ``.jsonl`` file)."""
    bases = [root / "sessions", root / "archived_sessions"]
    bases = [b for b in bases if b.is_dir()] or [root]
    found: set[Path] = set()
    packed: set[Path] = set()
    for base in bases:
        if base.is_file():  # one rollout named by --path (any name, as Claude Code's)
            if base.name.endswith(".jsonl.zst"):
                packed.add(base)
            elif base.suffix == ".jsonl":
                found.add(base)
            continue
        found.update(p for p in base.rglob("rollout-*.jsonl") if p.is_file())
        packed.update(p for p in base.rglob("rollout-*.jsonl.zst") if p.is_file())
    return sorted(found), sorted(packed)


def codex_priority_tier(root: Path) -> str | None:
    """``priority`` if ``config.toml`` selects the fast tier (``service_tier = "priority"`` or
    the legacy ``"fast"``): the logs do not say, so (like ccusage) every call is priced so."""
    import tomllib

    try:
        config = tomllib.loads((root / "config.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    return "priority" if config.get("service_tier") in ("priority", "fast") else None


def codex_imported_sessions(root: Path) -> set[str]:
    """Session ids and file names listed in ``external_agent_session_imports.json`` (rollouts
    Codex made from Claude Code sessions). The format is not documented: every session-id-like
    string and every rollout file name in it is taken."""
    try:
        text = (root / "external_agent_session_imports.json").read_text(encoding="utf-8")
    except OSError:
        return set()
    found = {match.lower() for match in re.findall(_UUID, text, re.IGNORECASE)}
    found.update(re.findall(r"rollout-[^\"/\\\\]+\.jsonl", text))
    return found


def codex_skip_file(path: Path, imported: set[str]) -> bool:
    """True if ``path`` is a rollout Codex imported from Claude Code."""
    if not imported:
        return False
    if path.name in imported:
        return True
    match = re.search(_UUID, path.name, re.IGNORECASE)
    return match is not None and match.group(0).lower() in imported
