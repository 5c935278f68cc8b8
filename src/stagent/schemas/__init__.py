"""Face-neutral schemas: the one JSON shape of each object, returned by the API, printed by every
``--json`` and (later) by the MCP tools. Each has ``of(...)`` (build from the domain value) and
``data()`` (JSON-ready dict). A test asserts the CLI and the API return the same objects."""

from stagent.schemas.base import Schema
from stagent.schemas.governance import (
    ApprovalSchema,
    BreachSchema,
    BudgetScopeSchema,
    LimitSchema,
    RuleSchema,
    UsageSchema,
)
from stagent.schemas.tasks import (
    EventSchema,
    ProjectSchema,
    RunSchema,
    SubjectSchema,
    TaskDetailSchema,
    TaskSchema,
)

__all__ = [
    "ApprovalSchema",
    "BreachSchema",
    "BudgetScopeSchema",
    "EventSchema",
    "LimitSchema",
    "ProjectSchema",
    "RuleSchema",
    "RunSchema",
    "Schema",
    "SubjectSchema",
    "TaskDetailSchema",
    "TaskSchema",
    "UsageSchema",
]
