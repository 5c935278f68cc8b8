"""A database whose budgets, window allowances and reservations were written before the newest
migrations keeps them: after the upgrade (and after going down and up again) a budget admission
reads the same caps, spend, reservations and allowance, and new calls keep counting. On SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import command
from migrationtools import at, seed

from stagent.governance.budgets_windows import window_for
from stagent.store import budgets as budget_repo
from stagent.store import ledger as ledger_repo
from stagent.store.database import Store
from stagent.store.migrate import alembic_config
from stagent.store.spend_totals import LimitQuery, LimitSums, limit_sums

BEFORE = "0019"
"""The revision the older Stagent wrote at (before the day rollup and later revisions)."""


def write_old_budgets(engine: sa.Engine, now: datetime, day_key: str) -> None:
    tables = at(engine, BEFORE)
    with engine.begin() as conn:
        seed(conn, tables["projects"], {"id": "prj_web", "name": "Website"})
        seed(
            conn,
            tables["budgets"],
            {
                "id": "bgt_web",
                "scope": "project",
                "scope_ref": "prj_web",
                "daily_cap_micros": 5_000_000,
                "monthly_cap_micros": None,
                "warn_at": 0.5,
                "on_breach": "pause",
                "run_cap_micros": 1_000_000,
                "updated_at": now,
            },
        )
        seed(
            conn,
            tables["budget_windows"],
            {
                "id": "bwn_web",
                "scope": "project",
                "scope_ref": "prj_web",
                "period": "daily",
                "window_key": day_key,
                "allowance_micros": 2_500_000,
                "updated_at": now,
            },
        )
        web = {"project_id": "prj_web", "at": now}
        seed(
            conn,
            tables["usage_ledger"],
            {"id": "use_a", "cost_micros": 1_200, **web},
            {
                "id": "use_r",
                "cost_micros": 800_000,
                "run_id": "run_live",
                "status": "reserved",
                "cost_source": "estimate",
                **web,
            },
            {"id": "use_x", "cost_micros": 9_000, "at": now},  # no project
        )


def admission_reads(store: Store, query: LimitQuery) -> LimitSums:
    with store.read() as session:
        sums = limit_sums(session, [query])
    assert sums is not None
    return sums[0]


def test_budgets_written_before_the_newest_migrations_are_read_the_same(
    engine: sa.Engine,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    daily = window_for("daily", now, UTC)
    write_old_budgets(engine, now, daily.key)
    query = LimitQuery("project", "prj_web", "daily", daily.key, daily.start)
    expected = LimitSums(spent=801_200, reserved=800_000, allowance=2_500_000)

    store = Store(engine.url.render_as_string(hide_password=False))
    try:
        store.upgrade()
        with store.read() as session:
            [budget] = budget_repo.list_budgets(session)
        assert (budget.scope, budget.project_name, budget.daily_cap_micros) == (
            "project",
            "Website",
            5_000_000,
        )
        assert (budget.on_breach, budget.run_cap_micros, budget.warn_at) == (
            "pause",
            1_000_000,
            0.5,
        )
        assert admission_reads(store, query) == expected
        with store.write() as session:  # new calls still reach the running totals
            ledger_repo.insert(
                session,
                ledger_repo.NewLedgerEntry(
                    runtime="codex", project_id="prj_web", cost_micros=33, at=now
                ),
            )
        assert admission_reads(store, query).spent == expected.spent + 33
    finally:
        store.dispose()

    command.downgrade(alembic_config(engine), BEFORE)
    store = Store(engine.url.render_as_string(hide_password=False))
    try:
        store.upgrade()
        assert admission_reads(store, query) == LimitSums(801_233, 800_000, 2_500_000)
    finally:
        store.dispose()
