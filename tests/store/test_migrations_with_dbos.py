"""Alembic manages only Stagent's tables, even with DBOS's tables in the same database."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from stagent.store.tables import SQLITE_ONLY_FOREIGN_KEYS, Base
from stagent.workspace import Workspace


def _pending_diffs(ws: Workspace) -> list[object]:
    skipped = frozenset() if ws.store.is_sqlite else SQLITE_ONLY_FOREIGN_KEYS
    with ws.store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_object": lambda obj, name, type_, reflected, compare_to: (
                    (type_ != "table" or name in Base.metadata.tables)
                    and (type_ != "foreign_key_constraint" or name not in skipped)
                ),
                "compare_type": True,
            },
        )
        return list(compare_metadata(context, Base.metadata))


def test_no_schema_drift_on_sqlite_with_dbos_tables(worker: Workspace) -> None:
    assert _pending_diffs(worker) == []


@pytest.mark.postgres
def test_no_schema_drift_on_postgresql_with_dbos_tables(pg_workspace: Workspace) -> None:
    pg_workspace.start_worker("worker")
    assert _pending_diffs(pg_workspace) == []
