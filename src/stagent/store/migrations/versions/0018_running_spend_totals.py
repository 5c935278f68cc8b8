"""running spend totals per budget scope, kept by triggers on the usage ledger

Budget admission sums a scope's spend in a window. Summing ledger rows costs more as the ledger
grows; ``spend_totals`` keeps the same sums in buckets (15 minutes and UTC days), maintained by
triggers on ``usage_ledger`` in the writing transaction itself, so every writer (runs,
reservations, repricing, deletes) keeps them exact and a window's sum reads at most a few
hundred small rows whatever the ledger's size. Only rows budgets count are tracked: source
``run`` and not simulated.

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GRAINS = (900, 86400)
TRACKED = (
    "{row}.source = 'run' AND {row}.simulated = {false} AND {row}.cost_micros <> 0"
    " AND {row}.finished_at IS NOT NULL"
)
"""The rows budgets count (`stagent.store.ledger.spend`), with a cost and a time."""


def _bucket(dialect: str, column: str, grain: str) -> str:
    if dialect == "sqlite":
        return f"(CAST(strftime('%s', {column}) AS INTEGER) / {grain})"
    return f"CAST(floor(extract(epoch FROM {column}) / {grain}) AS BIGINT)"


def _grains() -> str:
    return " UNION ALL ".join(f"SELECT {g} AS grain" for g in GRAINS)


def _scopes(row: str) -> str:
    return (
        f"SELECT 'overall' AS scope, '' AS ref UNION ALL SELECT 'runtime', {row}.runtime"
        f" UNION ALL SELECT 'project', {row}.project_id"
    )


def _sqlite_apply(row: str, sign: str) -> str:
    """One statement adding (or, with sign '-', taking away) a row's cost to its buckets."""
    tracked = TRACKED.format(row=row, false="0")
    return (
        "INSERT INTO spend_totals (scope, ref, grain, bucket, total_micros)"
        f" SELECT s.scope, s.ref, g.grain, {_bucket('sqlite', f'{row}.finished_at', 'g.grain')},"
        f" {sign}{row}.cost_micros FROM ({_scopes(row)}) AS s, ({_grains()}) AS g"
        f" WHERE s.ref IS NOT NULL AND {tracked}"
        " ON CONFLICT (scope, ref, grain, bucket)"
        " DO UPDATE SET total_micros = total_micros + excluded.total_micros;"
    )


WATCHED = "cost_micros, finished_at, runtime, project_id, source, simulated"


def _sqlite_triggers() -> list[str]:
    return [
        "CREATE TRIGGER spend_totals_on_insert AFTER INSERT ON usage_ledger"
        f" BEGIN {_sqlite_apply('NEW', '')} END",
        f"CREATE TRIGGER spend_totals_on_update AFTER UPDATE OF {WATCHED} ON usage_ledger"
        f" BEGIN {_sqlite_apply('OLD', '-')} {_sqlite_apply('NEW', '')} END",
        "CREATE TRIGGER spend_totals_on_delete AFTER DELETE ON usage_ledger"
        f" BEGIN {_sqlite_apply('OLD', '-')} END",
    ]


def _pg_triggers() -> list[str]:
    grains = ", ".join(f"({g})" for g in GRAINS)
    apply = f"""
CREATE FUNCTION spend_totals_apply(p_runtime text, p_project text, p_at timestamptz, p_cost bigint)
RETURNS void AS $$
BEGIN
  INSERT INTO spend_totals (scope, ref, grain, bucket, total_micros)
  SELECT s.scope, s.ref, g.grain, {_bucket("postgresql", "p_at", "g.grain")}, p_cost
  FROM (VALUES ('overall', ''), ('runtime', p_runtime), ('project', p_project)) AS s(scope, ref),
       (VALUES {grains}) AS g(grain)
  WHERE s.ref IS NOT NULL
  ON CONFLICT (scope, ref, grain, bucket)
  DO UPDATE SET total_micros = spend_totals.total_micros + excluded.total_micros;
END $$ LANGUAGE plpgsql"""
    old = TRACKED.format(row="OLD", false="false")
    new = TRACKED.format(row="NEW", false="false")
    track = f"""
CREATE FUNCTION spend_totals_track() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND {old} THEN
    PERFORM spend_totals_apply(OLD.runtime, OLD.project_id, OLD.finished_at, -OLD.cost_micros);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND {new} THEN
    PERFORM spend_totals_apply(NEW.runtime, NEW.project_id, NEW.finished_at, NEW.cost_micros);
  END IF;
  RETURN NULL;
END $$ LANGUAGE plpgsql"""
    trigger = (
        "CREATE TRIGGER spend_totals_track AFTER INSERT OR DELETE OR UPDATE OF"
        f" {WATCHED} ON usage_ledger FOR EACH ROW EXECUTE FUNCTION spend_totals_track()"
    )
    return [apply, track, trigger]


def _backfill(dialect: str) -> str:
    false = "0" if dialect == "sqlite" else "false"
    tracked = TRACKED.format(row="u", false=false)
    selects: list[str] = []
    for scope, ref in (("overall", "''"), ("runtime", "u.runtime"), ("project", "u.project_id")):
        selects.append(
            f"SELECT '{scope}' AS scope, {ref} AS ref, g.grain AS grain,"
            f" {_bucket(dialect, 'u.finished_at', 'g.grain')} AS bucket, u.cost_micros AS cost"
            f" FROM usage_ledger AS u, ({_grains()}) AS g WHERE {tracked} AND {ref} IS NOT NULL"
        )
    return (
        "INSERT INTO spend_totals (scope, ref, grain, bucket, total_micros)"
        f" SELECT scope, ref, grain, bucket, SUM(cost) FROM ({' UNION ALL '.join(selects)}) AS t"
        " GROUP BY scope, ref, grain, bucket"
    )


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "spend_totals",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=40), nullable=False),
        sa.Column("grain", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("total_micros", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "ref", "grain", "bucket"),
    )
    dialect = op.get_bind().dialect.name
    for statement in _sqlite_triggers() if dialect == "sqlite" else _pg_triggers():
        op.execute(statement)
    op.execute(_backfill(dialect))


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS spend_totals_on_{name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS spend_totals_track ON usage_ledger")
        op.execute("DROP FUNCTION IF EXISTS spend_totals_track()")
        op.execute("DROP FUNCTION IF EXISTS spend_totals_apply(text, text, timestamptz, bigint)")
    op.drop_table("spend_totals")
