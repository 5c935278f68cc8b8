"""hourly usage rollup kept by triggers; ledger indexes imported rows skip

Summaries read ``usage_rollup`` (sums per UTC hour, runtime, model, project, source,
simulated flag and call status) instead of the ledger's rows, so their cost follows the number
of hours and groups, not calls. Like ``spend_totals`` (0018) it is kept by triggers in the
writing transaction itself, so every writer (runs, imports, outcomes, repricing, deletes) keeps
it exact: row triggers on SQLite, statement triggers with transition tables on PostgreSQL (one
grouped upsert per statement, ordered by key so concurrent writers lock rows in one order).
Only call rows count (status completed, failed or cancelled). A NULL model or project is kept
as ``''`` (key columns cannot be NULL).

Indexes: the spend indexes by runtime and by project serve only budget sums of runs, so they
hold only ``source = 'run'`` rows; the task and run indexes only rows that have one. Imported
calls (most of a large ledger) skip all four.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CALLS = "('completed', 'failed', 'cancelled')"
KEY = ("hour", "runtime", "model", "project_id", "source", "simulated", "status")
SUMS = (
    "requests", "input_tokens", "output_tokens", "cache_write_5m_tokens",
    "cache_write_1h_tokens", "cache_read_tokens", "cost_micros", "unpriced",
)  # fmt: skip
TOKENS = SUMS[1:6]
WATCHED = (
    "finished_at, runtime, model, project_id, source, simulated, status, input_tokens,"
    " output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens,"
    " cost_micros, cost_source"
)
COLUMNS = ", ".join((*KEY, *SUMS))
UPSERT = f" ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET " + ", ".join(
    f"{name} = usage_rollup.{name} + excluded.{name}" for name in SUMS
)
SPEND_COLUMNS = ["finished_at", "simulated", "source", "cost_micros"]
SPEND_INDEXES = {
    "ix_usage_ledger_runtime_spend": ["runtime", *SPEND_COLUMNS],
    "ix_usage_ledger_project_spend": ["project_id", *SPEND_COLUMNS],
}
PRESENT = {"ix_usage_ledger_task_id": "task_id", "ix_usage_ledger_run_id": "run_id"}


def _hour(dialect: str, column: str) -> str:
    if dialect == "sqlite":
        return f"(CAST(strftime('%s', {column}) AS INTEGER) / 3600)"
    return f"CAST(floor(extract(epoch FROM {column}) / 3600) AS BIGINT)"


def _key(dialect: str, row: str) -> list[str]:
    return [
        _hour(dialect, f"{row}.finished_at"),
        f"{row}.runtime",
        f"coalesce({row}.model, '')",
        f"coalesce({row}.project_id, '')",
        f"{row}.source",
        f"{row}.simulated",
        f"{row}.status",
    ]


def _sqlite_apply(row: str, sign: str) -> str:
    """Add (sign '') or take away (sign '-') one row's figures, if it is a call."""
    values = [
        *_key("sqlite", row),
        f"{sign}1",
        *(f"{sign}{row}.{name}" for name in TOKENS),
        f"{sign}{row}.cost_micros",
        f"{sign}({row}.cost_source = 'unpriced')",
    ]
    return (
        f"INSERT INTO usage_rollup ({COLUMNS}) SELECT {', '.join(values)}"
        f" WHERE {row}.status IN {CALLS}{UPSERT};"
    )


def _sqlite_triggers() -> list[str]:
    return [
        "CREATE TRIGGER usage_rollup_on_insert AFTER INSERT ON usage_ledger"
        f" WHEN NEW.status IN {CALLS} BEGIN {_sqlite_apply('NEW', '')} END",
        f"CREATE TRIGGER usage_rollup_on_update AFTER UPDATE OF {WATCHED} ON usage_ledger"
        f" WHEN OLD.status IN {CALLS} OR NEW.status IN {CALLS}"
        f" BEGIN {_sqlite_apply('OLD', '-')} {_sqlite_apply('NEW', '')} END",
        "CREATE TRIGGER usage_rollup_on_delete AFTER DELETE ON usage_ledger"
        f" WHEN OLD.status IN {CALLS} BEGIN {_sqlite_apply('OLD', '-')} END",
    ]


def _grouped(dialect: str, rows: str, sign: str) -> str:
    """The net change of ``rows`` (carrying a ``sign`` column, or signed by ``sign``) per key."""
    s = sign or "d.sign"
    key = _key(dialect, "d")
    sums = [
        f"sum({s})",
        *(f"sum({s} * d.{name})" for name in TOKENS),
        f"sum({s} * d.cost_micros)",
        f"sum(CASE WHEN d.cost_source = 'unpriced' THEN {s} ELSE 0 END)",
    ]
    positions = ", ".join(str(n) for n in range(1, len(KEY) + 1))
    return (
        f"INSERT INTO usage_rollup ({COLUMNS}) SELECT {', '.join(key)}, {', '.join(sums)}"
        f" FROM {rows} AS d WHERE d.status IN {CALLS} GROUP BY {positions}"
        f" HAVING {' OR '.join(f'{total} <> 0' for total in sums)}"
        f" ORDER BY {positions}{UPSERT}"
    )


def _pg_triggers() -> list[str]:
    update_rows = (
        f"(SELECT 1 AS sign, {WATCHED} FROM new_rows UNION ALL SELECT -1, {WATCHED} FROM old_rows)"
    )
    bodies = {
        "insert": (_grouped("postgresql", "new_rows", "1"), "REFERENCING NEW TABLE AS new_rows"),
        "delete": (_grouped("postgresql", "old_rows", "-1"), "REFERENCING OLD TABLE AS old_rows"),
        "update": (
            _grouped("postgresql", update_rows, ""),
            "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        ),
    }
    statements: list[str] = []
    for op_name, (body, referencing) in bodies.items():
        statements.append(
            f"CREATE FUNCTION usage_rollup_on_{op_name}() RETURNS trigger AS $$"
            f" BEGIN {body}; RETURN NULL; END $$ LANGUAGE plpgsql"
        )
        statements.append(
            f"CREATE TRIGGER usage_rollup_on_{op_name} AFTER {op_name.upper()} ON usage_ledger"
            f" {referencing} FOR EACH STATEMENT EXECUTE FUNCTION usage_rollup_on_{op_name}()"
        )
    return statements


def _backfill(dialect: str) -> str:
    return _grouped(dialect, "usage_ledger", "1").split(" ON CONFLICT")[0]


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "usage_rollup",
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("runtime", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in SUMS),
        sa.PrimaryKeyConstraint(*KEY, name=op.f("pk_usage_rollup")),
    )
    dialect = op.get_bind().dialect.name
    for statement in _sqlite_triggers() if dialect == "sqlite" else _pg_triggers():
        op.execute(statement)
    op.execute(_backfill(dialect))
    for name, column in PRESENT.items():
        op.drop_index(name, table_name="usage_ledger")
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(name, "usage_ledger", [column], sqlite_where=where, postgresql_where=where)
    for name, columns in SPEND_INDEXES.items():
        op.drop_index(name, table_name="usage_ledger")
        where = sa.text("source = 'run'")
        op.create_index(name, "usage_ledger", columns, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    """Revert this revision."""
    for name, columns in SPEND_INDEXES.items():
        op.drop_index(name, table_name="usage_ledger")
        op.create_index(name, "usage_ledger", columns)
    for name, column in PRESENT.items():
        op.drop_index(name, table_name="usage_ledger")
        op.create_index(name, "usage_ledger", [column])
    for name in ("insert", "update", "delete"):
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS usage_rollup_on_{name}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS usage_rollup_on_{name} ON usage_ledger")
            op.execute(f"DROP FUNCTION IF EXISTS usage_rollup_on_{name}()")
    op.drop_table("usage_rollup")
