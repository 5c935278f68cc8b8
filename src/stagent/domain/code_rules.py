"""Which allow rules let an agent run code (and so, without a sandbox, act as the person).

A shell rule runs code unless it only allows a command that reads (``ls``, ``cat``, read-only
git...): ``Bash(npm run test *)`` runs code, since test scripts are code; ``Bash(git commit *)``
runs the repository's hooks. Without an OS sandbox such an agent can read the owner token and
approve its own requests, so saving one needs the person's explicit acknowledgement.
"""

from __future__ import annotations

from stagent.domain.errors import ValidationError
from stagent.domain.permissions import PermissionRule

UNSANDBOXED_WARNING = "this agent can act as you, including approving its own requests"
CODE_TOOLS = frozenset({"Bash", "NotebookEdit"})
READ_ONLY_COMMANDS = (
    "ls",
    "cat",
    "head",
    "tail",
    "wc",
    "grep",
    "pwd",
    "which",
    "stat",
    "diff",
    "git status",
    "git diff",
    "git log",
    "git show",
    "git blame",
    "git ls-files",
    "git rev-parse",
    "git describe",
    "git branch",
    "git remote -v",
)


def runs_code(rule: PermissionRule) -> bool:
    """True for an allow rule that lets an agent run code of its choosing."""
    if rule.effect != "allow" or rule.tool not in CODE_TOOLS:
        return False
    if rule.tool != "Bash" or rule.specifier is None:
        return True
    command = rule.specifier.removesuffix("*").removesuffix(":").strip()
    return not any(command == safe or command.startswith(f"{safe} ") for safe in READ_ONLY_COMMANDS)


class UnsandboxedRuleError(ValidationError):
    """Saving a rule that lets an agent run code where agents run without a sandbox."""

    code = "acknowledgement_required"


def require_acknowledgement(rules: list[PermissionRule], *, contained: bool, ack: bool) -> None:
    """Refuse code-running allow rules without a sandbox unless the person acknowledged it."""
    risky = [rule.text for rule in rules if runs_code(rule)]
    if contained or ack or not risky:
        return
    shown = ", ".join(f"`{text}`" for text in risky[:5]) + (" ..." if len(risky) > 5 else "")
    raise UnsandboxedRuleError(
        f"{shown} let the agent run code, and agents run without a sandbox here: "
        f"{UNSANDBOXED_WARNING}",
        hint="to save anyway, acknowledge it (CLI --acknowledge-risk, the form's checkbox, "
        'API "acknowledge_risk": true); or install bubblewrap so agents run contained',
    )
