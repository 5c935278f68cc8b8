"""Request and response models of the approvals and rules API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from stagent.domain.limits import RULE_MAX
from stagent.governance.approvals import COMMENT_MAX
from stagent.governance.claude_settings import ExportResult
from stagent.governance.rule_service import PresetState, RuleImport
from stagent.schemas import ApprovalSchema, RuleSchema
from stagent.web.api.models import FilledPath, RuleText, text_schema

ScopeName = Literal["task", "project", "global"]
EffectName = Literal["allow", "deny", "ask"]


ApprovalOut = ApprovalSchema
RuleOut = RuleSchema


class _In(BaseModel):
    # Python's regular expressions, as the services' ``str.strip`` reads white space.
    model_config = ConfigDict(extra="forbid", regex_engine="python-re")


class AllowIn(_In):
    """Allow once, or always (saving a rule at a scope)."""

    always: bool = False
    scope: ScopeName | None = Field(
        default=None, description="for `always`: default the task's project, else the task"
    )
    rule: Annotated[str, Field(max_length=RULE_MAX), text_schema(RULE_MAX)] | None = Field(
        default=None, description="for `always`: the rule to save instead"
    )
    comment: Annotated[str, Field(max_length=COMMENT_MAX), text_schema(COMMENT_MAX)] = Field(
        default="",
        description="for a workflow checkpoint: a comment the step's prompt gets",
    )
    acknowledge_risk: bool = Field(
        default=False,
        description="for `always`: save a rule that lets an agent run code although agents run "
        "without a sandbox here (the agent can then act as you, including approving its own "
        "requests)",
    )


class DenyIn(_In):
    """Deny, with an optional message the agent receives."""

    message: str = Field(default="", max_length=4000)


class AnswerIn(_In):
    """Answers to a question card: question text -> the chosen label (or free text)."""

    answers: dict[str, str | list[str]]


class RuleIn(_In):
    """A rule to save, in Claude Code's syntax."""

    rule: RuleText = Field(examples=["Bash(npm run test *)"])
    effect: EffectName = "allow"
    scope: ScopeName = "global"
    ref: str | None = Field(default=None, description="task id, or project id or name")
    acknowledge_risk: bool = Field(
        default=False,
        description="save rules that let an agent run code although agents run without a "
        "sandbox here (the agent can then act as you, including approving its own requests)",
    )


class ScopeIn(_In):
    """Where a preset is applied or removed."""

    scope: ScopeName = "global"
    ref: str | None = None
    acknowledge_risk: bool = Field(
        default=False,
        description="save rules that let an agent run code although agents run without a "
        "sandbox here (the agent can then act as you, including approving its own requests)",
    )


class PresetOut(BaseModel):
    """A trust preset and whether it is active at the asked scope."""

    name: str
    tier: str
    risk: str
    description: str
    rule_count: int
    active: bool

    @classmethod
    def of(cls, state: PresetState) -> PresetOut:
        """Build from the service value."""
        return cls(
            name=state.name,
            tier=state.tier,
            risk=state.risk,
            description=state.description,
            rule_count=state.rule_count,
            active=state.active,
        )


class PresetChangeOut(BaseModel):
    """What applying or removing a preset changed."""

    name: str
    added: list[RuleOut] = Field(default_factory=lambda: [])
    removed: int = 0


class FileIn(_In):
    """A Claude Code settings file (``.claude/settings.json``) and the scope of its rules."""

    path: FilledPath = Field(description="a path on the server's machine")
    scope: ScopeName = "global"
    ref: str | None = None
    replace: bool = Field(default=False, description="export only: the lists hold exactly these")
    acknowledge_risk: bool = Field(
        default=False,
        description="save rules that let an agent run code although agents run without a "
        "sandbox here (the agent can then act as you, including approving its own requests)",
    )


class RefusedOut(BaseModel):
    """A settings entry that was not imported, and why."""

    effect: str
    text: str
    reason: str


class ImportOut(BaseModel):
    """What importing a settings file did."""

    path: str
    added: list[RuleOut]
    already: list[RuleOut]
    refused: list[RefusedOut]
    warnings: list[str]

    @classmethod
    def of(cls, result: RuleImport) -> ImportOut:
        """Build from the service value."""
        return cls(
            path=result.report.path,
            added=[RuleOut.of(r) for r in result.added],
            already=[RuleOut.of(r) for r in result.already],
            refused=[
                RefusedOut(effect=i.effect, text=i.text, reason=i.note or "refused")
                for i in result.report.refused
            ],
            warnings=list(result.report.warnings),
        )


class ExportOut(BaseModel):
    """What exporting wrote."""

    path: str
    exported: list[RuleOut]
    skipped: list[RefusedOut]

    @classmethod
    def of(cls, path: str, result: ExportResult) -> ExportOut:
        """Build from the governance value."""
        return cls(
            path=path,
            exported=[RuleOut.of(r) for r in result.exported],
            skipped=[
                RefusedOut(effect=r.effect, text=r.text, reason=why) for r, why in result.skipped
            ],
        )
