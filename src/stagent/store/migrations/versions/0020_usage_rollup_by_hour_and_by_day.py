"""usage rollup kept per UTC hour and per UTC day; bulk inserts write it once per statement

``usage_rollup`` (0019) summed calls per hour only, so a summary over months read tens of
thousands of hour rows per group. It is rebuilt with a ``grain`` (3600 or 86400 seconds) and a
``bucket`` (``floor(epoch / grain)``) in its key, both grains kept by the same triggers: whole
days are read from the day grain, part days from hours, part hours from the ledger's rows
(`stagent.store.ledger_rollup`). On SQLite the table is ``WITHOUT ROWID`` (its rows are stored
in key order, so a range of buckets is one range of the table, with no lookup per row).

SQLite's row triggers skip rows while ``usage_rollup_deferred`` has a row: a bulk insert
(`stagent.store.ledger_imports`) holds one for its single ``INSERT ... SELECT`` and then adds
the staged rows to the rollup in one grouped upsert, in the same transaction (SQLite has one
writer at a time, so no other writer's rows can pass untallied). PostgreSQL's statement
triggers already do one grouped upsert per statement. The spend totals' insert trigger (0018)
gets a ``WHEN`` clause, so rows budgets never count (imports) skip its body.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 15:30:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CALLS = "('completed', 'failed', 'cancelled')"
GRAINS = (3600, 86400)
GROUP = ("runtime", "model", "project_id", "source", "simulated", "status")
KEY = ("grain", "bucket", *GROUP)
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
DEFERRED = "NOT EXISTS (SELECT 1 FROM usage_rollup_deferred)"
SPEND_TRACKED = "NEW.source = 'run' AND NEW.simulated = 0 AND NEW.cost_micros <> 0"


def _epoch(dialect: str, column: str) -> str:
    if dialect == "sqlite":
        return f"CAST(strftime('%s', {column}) AS INTEGER)"
    return f"CAST(floor(extract(epoch FROM {column})) AS BIGINT)"


def _group(row: str) -> list[str]:
    return [
        f"{row}.runtime",
        f"coalesce({row}.model, '')",
        f"coalesce({row}.project_id, '')",
        f"{row}.source",
        f"{row}.simulated",
        f"{row}.status",
    ]


def _sqlite_apply(row: str, sign: str) -> str:
    """Add (sign '') or take away (sign '-') one row's figures in both grains, if a call."""
    values = [
        *_group(row),
        f"{sign}1",
        *(f"{sign}{row}.{name}" for name in TOKENS),
        f"{sign}{row}.cost_micros",
        f"{sign}({row}.cost_source = 'unpriced')",
    ]
    epoch = _epoch("sqlite", f"{row}.finished_at")
    return " ".join(
        f"INSERT INTO usage_rollup ({COLUMNS}) SELECT {grain}, {epoch} / {grain},"
        f" {', '.join(values)} WHERE {row}.status IN {CALLS}{UPSERT};"
        for grain in GRAINS
    )


def _sqlite_triggers() -> list[str]:
    return [
        "CREATE TRIGGER usage_rollup_on_insert AFTER INSERT ON usage_ledger"
        f" WHEN NEW.status IN {CALLS} AND {DEFERRED} BEGIN {_sqlite_apply('NEW', '')} END",
        f"CREATE TRIGGER usage_rollup_on_update AFTER UPDATE OF {WATCHED} ON usage_ledger"
        f" WHEN OLD.status IN {CALLS} OR NEW.status IN {CALLS}"
        f" BEGIN {_sqlite_apply('OLD', '-')} {_sqlite_apply('NEW', '')} END",
        "CREATE TRIGGER usage_rollup_on_delete AFTER DELETE ON usage_ledger"
        f" WHEN OLD.status IN {CALLS} BEGIN {_sqlite_apply('OLD', '-')} END",
    ]


def grouped(dialect: str, rows: str, sign: str) -> str:
    """The net change of ``rows`` (carrying a ``sign`` column, or signed by ``sign``) per key of
    both grains, as one upsert (ordered by key, so concurrent writers lock rows in one order).
    Also what a SQLite bulk insert runs over its staged rows."""
    s = sign or "d.sign"
    epoch = _epoch(dialect, "d.finished_at")
    sums = [
        f"sum({s})",
        *(f"sum({s} * d.{name})" for name in TOKENS),
        f"sum({s} * d.cost_micros)",
        f"sum(CASE WHEN d.cost_source = 'unpriced' THEN {s} ELSE 0 END)",
    ]
    grains = " UNION ALL ".join(f"SELECT {grain} AS grain" for grain in GRAINS)
    positions = ", ".join(str(n) for n in range(1, len(KEY) + 1))
    return (
        f"INSERT INTO usage_rollup ({COLUMNS}) SELECT g.grain, {epoch} / g.grain,"
        f" {', '.join(_group('d'))}, {', '.join(sums)}"
        f" FROM {rows} AS d, ({grains}) AS g WHERE d.status IN {CALLS} GROUP BY {positions}"
        f" HAVING {' OR '.join(f'{total} <> 0' for total in sums)}"
        f" ORDER BY {positions}{UPSERT}"
    )


def _pg_triggers() -> list[str]:
    update_rows = (
        f"(SELECT 1 AS sign, {WATCHED} FROM new_rows UNION ALL SELECT -1, {WATCHED} FROM old_rows)"
    )
    bodies = {
        "insert": (grouped("postgresql", "new_rows", "1"), "REFERENCING NEW TABLE AS new_rows"),
        "delete": (grouped("postgresql", "old_rows", "-1"), "REFERENCING OLD TABLE AS old_rows"),
        "update": (
            grouped("postgresql", update_rows, ""),
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


def _drop_triggers(dialect: str) -> None:
    for name in ("insert", "update", "delete"):
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS usage_rollup_on_{name}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS usage_rollup_on_{name} ON usage_ledger")
            op.execute(f"DROP FUNCTION IF EXISTS usage_rollup_on_{name}()")


def _spend_insert_trigger(when: str) -> None:
    """0018's SQLite insert trigger, with ``when`` as its WHEN clause (the body is 0018's)."""
    bind = op.get_bind()
    found = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'spend_totals_on_insert'"
    ).scalar()
    if found is None:
        return
    body = str(found)[str(found).index(" BEGIN ") :]
    op.execute("DROP TRIGGER spend_totals_on_insert")
    op.execute(f"CREATE TRIGGER spend_totals_on_insert AFTER INSERT ON usage_ledger{when}{body}")


def _revision_0019() -> Any:
    """0019's module (its hourly table's key and triggers), loaded from beside this file."""
    path = Path(__file__).with_name("0019_usage_rollup_and_lighter_ledger_indexes.py")
    spec = importlib.util.spec_from_file_location("stagent_migration_0019", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    """Apply this revision."""
    dialect = op.get_bind().dialect.name
    _drop_triggers(dialect)
    op.drop_table("usage_rollup")
    op.create_table(
        "usage_rollup",
        sa.Column("grain", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("runtime", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("project_id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in SUMS),
        sa.PrimaryKeyConstraint(*KEY, name=op.f("pk_usage_rollup")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "usage_rollup_deferred",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_rollup_deferred")),
    )
    for statement in _sqlite_triggers() if dialect == "sqlite" else _pg_triggers():
        op.execute(statement)
    op.execute(grouped(dialect, "usage_ledger", "1").split(" ON CONFLICT")[0])
    if dialect == "sqlite":
        _spend_insert_trigger(f" WHEN {SPEND_TRACKED}")


def downgrade() -> None:
    """Revert this revision (back to 0019's hourly rollup)."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _spend_insert_trigger("")
    _drop_triggers(dialect)
    op.drop_table("usage_rollup_deferred")
    op.drop_table("usage_rollup")
    hourly = _revision_0019()
    op.create_table(
        "usage_rollup",
        sa.Column("hour", sa.BigInteger(), nullable=False),
        *(
            sa.Column(name, sa.String(length=size), nullable=False)
            for name, size in (("runtime", 40), ("model", 200), ("project_id", 32), ("source", 24))
        ),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in SUMS),
        sa.PrimaryKeyConstraint(*hourly.KEY, name=op.f("pk_usage_rollup")),
    )
    for statement in hourly._sqlite_triggers() if dialect == "sqlite" else hourly._pg_triggers():  # pyright: ignore[reportPrivateUsage]
        op.execute(statement)
    op.execute(hourly._backfill(dialect))  # pyright: ignore[reportPrivateUsage]
