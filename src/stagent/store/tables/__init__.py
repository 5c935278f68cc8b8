"""ORM tables, one module per aggregate. Column comments say what a user would want to know when
querying the file.

Every table is importable from here (``from stagent.store.tables import RunRow``), and importing
this package registers all of them on `Base.metadata`, which Alembic's autogenerate and the drift
test compare with the migrations. A new table goes in its aggregate's module and in the lists below.
"""

from stagent.store.tables.automation import (
    ScheduleFiringRow,
    ScheduleRow,
    WorkflowRow,
    WorkflowRunDefinitionRow,
    WorkflowStepRow,
)
from stagent.store.tables.base import NAMING_CONVENTION, Base, SeqType, Timestamp
from stagent.store.tables.feed import (
    SQLITE_ONLY_FOREIGN_KEYS,
    AgentEventRow,
    FeedOutboxRow,
    InboxItemRow,
)
from stagent.store.tables.governance import (
    ApprovalRequestRow,
    BudgetRow,
    BudgetWindowRow,
    PermissionRuleRow,
)
from stagent.store.tables.ledger import (
    LedgerImportFileRow,
    SpendTotalRow,
    UsageLedgerRow,
    UsageRollupRow,
)
from stagent.store.tables.work import ProjectRow, RunRow, TaskRow
from stagent.store.tables.workspace import EnvironmentScanRow, ExecutorRow, SettingRow

__all__ = [
    "NAMING_CONVENTION",
    "SQLITE_ONLY_FOREIGN_KEYS",
    "AgentEventRow",
    "ApprovalRequestRow",
    "Base",
    "BudgetRow",
    "BudgetWindowRow",
    "EnvironmentScanRow",
    "ExecutorRow",
    "FeedOutboxRow",
    "InboxItemRow",
    "LedgerImportFileRow",
    "PermissionRuleRow",
    "ProjectRow",
    "RunRow",
    "ScheduleFiringRow",
    "ScheduleRow",
    "SeqType",
    "SettingRow",
    "SpendTotalRow",
    "TaskRow",
    "Timestamp",
    "UsageLedgerRow",
    "UsageRollupRow",
    "WorkflowRow",
    "WorkflowRunDefinitionRow",
    "WorkflowStepRow",
]
