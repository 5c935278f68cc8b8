"""Every kind of finding: its health dimension and what it costs, by severity.

The score is documented from this table (README, "Environment scanner"): each dimension starts
at 100, each finding takes off its cost, and one kind never takes more than `KIND_CAP` points
off one dimension, so one noisy kind cannot hide every other problem.
"""

from __future__ import annotations

from dataclasses import dataclass

from stagent.scanner.report import Dimension, Finding, Severity, Tool

KIND_CAP = 40


@dataclass(frozen=True, slots=True)
class Kind:
    """A finding kind: what it is about and how much each severity costs."""

    code: str
    dimension: Dimension
    title: str
    error: int = 15
    warning: int = 5
    info: int = 2

    def cost(self, severity: Severity) -> int:
        """Points one finding of this kind and severity takes off its dimension."""
        return {"error": self.error, "warning": self.warning, "info": self.info}[severity]


KINDS: dict[str, Kind] = {
    k.code: k
    for k in (
        Kind("invalid-file", "maintenance", "invalid JSON, TOML or front matter", error=15),
        Kind("missing-field", "capability", "a skill or subagent without its name or description"),
        Kind("mcp-command-missing", "capability", "an MCP server whose command is not on PATH"),
        Kind("plaintext-secret", "safety", "a secret in plain text", error=25),
        Kind("broad-permission", "safety", "an over-broad permission", error=20, warning=10),
        Kind("ignored-rule", "safety", "a permission rule the tool ignores"),
        Kind("deprecated-setting", "maintenance", "a deprecated setting or location", error=10),
        Kind(
            "instruction-too-large",
            "instructions",
            "an instruction file over the size read",
            warning=10,
        ),
        Kind("hook-script-missing", "capability", "a hook pointing at a missing script"),
        Kind("duplicate-name", "maintenance", "duplicate names that shadow each other"),
        Kind("skill-drift", "maintenance", "a skill whose Claude Code and Codex copies differ"),
        Kind("no-instructions", "instructions", "a project without an instruction file", info=10),
    )
}


def finding(
    kind: str,
    severity: Severity,
    path: str,
    line: int | None,
    message: str,
    fix: str,
    *,
    tool: Tool | None = None,
    project: str | None = None,
) -> Finding:
    """Build a finding of a known kind (its dimension and cost come from `KINDS`)."""
    spec = KINDS[kind]
    return Finding(
        kind=kind,
        severity=severity,
        dimension=spec.dimension,
        cost=spec.cost(severity),
        path=path,
        line=line,
        message=message,
        fix=fix,
        tool=tool,
        project=project,
    )
