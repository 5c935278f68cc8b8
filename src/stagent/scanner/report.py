"""The scan report: one pydantic schema shared by `stagent scan --json`, the API and the page.

No field ever holds a secret's value: parsers redact before an artifact or finding is built.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field

M = TypeVar("M", bound=BaseModel)
_new = object.__new__
_set = object.__setattr__

Tool = Literal["claude-code", "codex", "shared"]
Scope = Literal["managed", "user", "project", "local", "plugin"]
Severity = Literal["error", "warning", "info"]
Dimension = Literal["instructions", "safety", "capability", "maintenance"]

SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "error": 2}
DIMENSIONS: tuple[Dimension, ...] = ("instructions", "safety", "capability", "maintenance")


class Artifact(BaseModel):
    """One thing a tool loads: a skill, an MCP server, a settings file, an instruction file..."""

    id: str = Field(description="stable id: a hash of tool, category, scope, path and name")
    tool: Tool
    category: str = Field(description="skill, subagent, command, mcp-server, settings, ...")
    scope: Scope
    project: str | None = Field(description="the project root it belongs to (None: user level)")
    name: str
    path: str
    line: int | None = None
    content_hash: str = Field(description="SHA-256 of the file (or of the redacted entry)")
    size: int
    modified_at: datetime
    metadata: dict[str, Any] = Field(
        default_factory=lambda: {}, description="parsed content; secret values are redacted"
    )
    shared_with: list[str] = Field(
        default_factory=lambda: [], description="for a skill both tools have: the other tool's path"
    )
    drift: bool = Field(default=False, description="a shared skill whose two copies differ")


class Finding(BaseModel):
    """A problem in one file, with where it is and how to fix it."""

    kind: str
    severity: Severity
    dimension: Dimension
    cost: int = Field(description="points this finding takes off its health dimension")
    path: str
    line: int | None = None
    message: str
    fix: str
    tool: Tool | None = None
    project: str | None = None


class Deduction(BaseModel):
    """What one kind of finding took off a dimension (capped per kind)."""

    kind: str
    count: int
    points: int


class DimensionScore(BaseModel):
    """One health dimension: 100 minus its deductions, never below 0."""

    name: Dimension
    score: int
    deductions: list[Deduction] = Field(default_factory=lambda: [])


class Health(BaseModel):
    """The health score: the rounded mean of the four dimensions."""

    score: int
    dimensions: list[DimensionScore]


class ProjectInfo(BaseModel):
    """A project found under a scanned folder."""

    path: str
    name: str
    branch: str | None = None
    markers: list[str] = Field(default_factory=lambda: [])


class ScanReport(BaseModel):
    """A whole scan: what was found, what is wrong, the score and how long it took."""

    id: str | None = Field(default=None, description="set once the scan is stored")
    scanned_at: datetime
    roots: list[str]
    locations: dict[str, str] = Field(description="the user-level folders that were read")
    projects: list[ProjectInfo]
    artifacts: list[Artifact]
    findings: list[Finding]
    score: int
    health: Health
    duration_ms: float

    def counts(self) -> dict[str, int]:
        """Findings per severity."""
        out = {"error": 0, "warning": 0, "info": 0}
        for finding in self.findings:
            out[finding.severity] += 1
        return out


def trusted(cls: type[M], fields: dict[str, Any]) -> M:
    """A model built from ``fields`` the scanner already typed, without validation.

    ``fields`` must hold every field, with values of the declared types (the scanner's hot path
    builds thousands of artifacts per scan; validating each costs more than parsing its file).
    pydantic's own ``model_construct`` does the same but is slower than validating.
    """
    model = _new(cls)
    _set(model, "__dict__", fields)
    _set(model, "__pydantic_fields_set__", set(fields))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


class ScanSummary(BaseModel):
    """A stored scan without its artifacts (history rows)."""

    id: str
    scanned_at: datetime
    roots: list[str]
    score: int
    duration_ms: float
    artifact_count: int
    project_count: int
    errors: int
    warnings: int
    infos: int
