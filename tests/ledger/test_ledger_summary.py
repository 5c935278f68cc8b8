"""Summaries and metrics agree on SQLite and PostgreSQL (days in the person's zone, shares, the
Herfindahl index, simulated calls apart)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.ledger.logtools import claude_assistant, claude_transcript

from stagent.domain.events import UsageEvent
from stagent.engine.services import TaskDraft
from stagent.ledger.reports import Scope
from stagent.workspace import Workspace


def fill(ws: Workspace, tmp_path: Path) -> None:
    config = tmp_path / "claude"
    claude_transcript(
        config,
        [
            claude_assistant("m1", "r1", input_tokens=1_000, output_tokens=0,
                             timestamp="2026-11-20T23:30:00Z"),
            claude_assistant("m2", "r2", input_tokens=1_000, output_tokens=0,
                             timestamp="2026-11-21T00:30:00Z"),
            claude_assistant("m3", "r3", model="claude-opus-4-6", input_tokens=1_000,
                             output_tokens=0, timestamp="2026-11-21T12:00:00Z"),
        ],
    )  # fmt: skip
    (plan,) = ws.ledger.import_plans("claude-code", config)
    ws.ledger.run_import(plan)


def check(ws: Workspace, tmp_path: Path) -> None:
    fill(ws, tmp_path)
    # a scripted (simulated) run's call: shown apart, never in the totals
    task = ws.tasks.create(TaskDraft(title="rehearsal"))
    ws.budgets.record_usage(task, UsageEvent(model="claude-haiku-4-5", input_tokens=500))
    whole = ws.ledger.summary(Scope())
    assert (whole["totals"]["requests"], whole["totals"]["input_tokens"]) == (3, 3_000)
    assert whole["simulated"] is not None
    assert (whole["simulated"]["requests"], whole["simulated"]["input_tokens"]) == (1, 500)
    by_day = ws.ledger.summary(Scope(), "day")
    # UTC: 2026-11-20 has one call, 2026-11-21 two
    assert [(g["key"], g["requests"]) for g in by_day["groups"]] == [
        ("2026-11-20", 1),
        ("2026-11-21", 2),
    ]
    by_model = ws.ledger.summary(Scope(), "model")["groups"]
    # Sonnet 4.5: 2 x 1000 x $3 = 6,000; Opus 4.6: 1000 x $5 = 5,000 micro-USD
    assert [(g["key"], g["total_cost_micros"]) for g in by_model] == [
        ("claude-sonnet-4-5-20250929", 6_000),
        ("claude-opus-4-6", 5_000),
    ]
    assert by_model[0]["share"] == pytest.approx(6 / 11, abs=1e-4)
    ws.ledger.clock = lambda: datetime(2026, 11, 21, 18, tzinfo=UTC)
    board = ws.ledger.dashboard(Scope(), days=7)
    assert board["model_hhi"] == pytest.approx((6 / 11) ** 2 + (5 / 11) ** 2, abs=1e-4)
    assert [d["requests"] for d in board["daily"]][-2:] == [1, 2]
    assert board["daily_by_runtime"]["claude"][-2:] == [3_000, 8_000]


def test_summaries_on_sqlite(tmp_path: Path) -> None:
    with Workspace.temporary(tmp_path / "ws", timezone="UTC").open() as ws:
        check(ws, tmp_path)


@pytest.mark.postgres
def test_summaries_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    with Workspace.temporary(tmp_path / "ws", timezone="UTC", database_url=pg_url).open() as ws:
        check(ws, tmp_path)


def test_days_are_the_persons_days(tmp_path: Path) -> None:
    with Workspace.temporary(tmp_path / "ws", timezone="Asia/Tokyo").open() as ws:
        fill(ws, tmp_path)
        days = ws.ledger.summary(Scope(), "day")["groups"]
        # 23:30 and 00:30 UTC are 08:30 and 09:30 in Tokyo: the same day; 12:00 UTC is 21:00
        assert [(g["key"], g["requests"]) for g in days] == [("2026-11-21", 3)]
