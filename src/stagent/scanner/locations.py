"""Where each tool keeps its user-level files (``HOME``, ``CLAUDE_CONFIG_DIR``, ``CODEX_HOME``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Locations:
    """The user-level folders and files a scan reads."""

    home: Path
    claude_dir: Path
    claude_json: Path
    codex_home: Path
    agents_skills: Path
    claude_managed: Path = Path("/etc/claude-code")
    """Managed (enterprise) Claude Code settings and CLAUDE.md (the Linux location)."""
    codex_system: Path = Path("/etc/codex")
    """System-wide Codex config.toml, requirements.toml and admin skills."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Locations:
        """Resolve the folders the way the tools do.

        ``CLAUDE_CONFIG_DIR`` moves ``~/.claude`` and, with it, ``.claude.json``; a comma-separated
        list (as ccusage accepts) uses its first entry. ``CODEX_HOME`` moves ``~/.codex``.
        """
        env = os.environ if env is None else env
        home = Path(env.get("HOME") or Path.home())
        claude_env = (env.get("CLAUDE_CONFIG_DIR") or "").split(",")[0].strip()
        if claude_env:
            claude_dir = Path(claude_env).expanduser()
            claude_json = claude_dir / ".claude.json"
        else:
            claude_dir = home / ".claude"
            claude_json = home / ".claude.json"
        codex_env = (env.get("CODEX_HOME") or "").strip()
        codex_home = Path(codex_env).expanduser() if codex_env else home / ".codex"
        return cls(
            home=home,
            claude_dir=claude_dir,
            claude_json=claude_json,
            codex_home=codex_home,
            agents_skills=home / ".agents" / "skills",
            claude_managed=_managed_claude_dir(),
        )

    def as_dict(self) -> dict[str, str]:
        """For the report: which folders were read."""
        return {
            "home": str(self.home),
            "claude_dir": str(self.claude_dir),
            "claude_json": str(self.claude_json),
            "codex_home": str(self.codex_home),
            "agents_skills": str(self.agents_skills),
            "claude_managed": str(self.claude_managed),
            "codex_system": str(self.codex_system),
        }


def _managed_claude_dir() -> Path:
    mac = Path("/Library/Application Support/ClaudeCode")
    return mac if mac.is_dir() else Path("/etc/claude-code")
