"""Booking imported calls across imports, on SQLite and PostgreSQL: a later, fuller copy of a
call replaces the stored one; a copy with no more tokens is skipped."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.ledger.logtools import SESSION, claude_assistant, claude_transcript, claude_user

from stagent.ledger.importers import CLAUDE_CODE, ImportReport
from stagent.ledger.reports import Scope
from stagent.store.ledger import LedgerEntry, LedgerFilter
from stagent.workspace import Workspace


@pytest.fixture(params=["sqlite", "postgres"])
def any_workspace(request: pytest.FixtureRequest) -> Workspace:
    """A fresh workspace on each database."""
    name = "workspace" if request.param == "sqlite" else "pg_workspace"
    return request.getfixturevalue(name)


def run_import(ws: Workspace, path: Path) -> ImportReport:
    (plan,) = ws.ledger.import_plans("claude-code", path)
    return ws.ledger.run_import(plan)


def imported(ws: Workspace) -> list[LedgerEntry]:
    return ws.ledger.entries(LedgerFilter(source=CLAUDE_CODE), limit=None, oldest_first=True)


def test_a_fuller_copy_in_a_later_import_replaces_the_booked_one(
    any_workspace: Workspace, tmp_path: Path
) -> None:
    ws = any_workspace
    config = tmp_path / "claude"
    placeholder = claude_assistant("msg_01A", "req_01A", output_tokens=1, cache_1h=4000)
    path = claude_transcript(config, [claude_user(), placeholder])
    first = run_import(ws, config)
    assert (first.added, first.replaced) == (1, 0)

    with path.open("a") as handle:
        handle.write(claude_assistant("msg_01A", "req_01A", output_tokens=250, cache_1h=4000))
        handle.write("\n" + placeholder + "\n")
    again = run_import(ws, config)

    assert (again.added, again.replaced, again.duplicates) == (0, 1, 1)
    (row,) = imported(ws)
    assert (row.output_tokens, row.cache_write_1h_tokens, row.cache_write_5m_tokens) == (
        250,
        4000,
        0,
    )
    # Sonnet 4.5: 3 input x $3 + 250 output x $15 + 4,000 one-hour writes x $6 (per MTok)
    assert row.cost_micros == 3 * 3 + 250 * 15 + 4000 * 6
    assert (row.runtime, row.activity, row.status, row.simulated) == (
        "claude",
        "import",
        "completed",
        False,
    )
    assert (row.session_id, row.dedupe_key) == (SESSION, "claude-code:msg_01A")
    assert row.raw is not None and row.raw["request_id"] == "req_01A"
    at = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert (row.started_at, row.finished_at) == (at, at)
    totals = ws.ledger.summary(Scope())["totals"]
    assert (totals["requests"], totals["total_tokens"]) == (1, 3 + 250 + 4000)
