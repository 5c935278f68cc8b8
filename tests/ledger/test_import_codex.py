"""Importing Codex rollouts: cumulative token counts become per-turn calls, booked once."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.ledger.logtools import codex_message, codex_meta, codex_rollout, codex_tokens, codex_turn

from stagent.ledger.importers import CODEX, ImportReport
from stagent.store.ledger import LedgerEntry, LedgerFilter
from stagent.workspace import Workspace

SESSION = "0199a7c2-5b1e-7d30-9c4a-1f2e3d4c5b6a"
CHILD = "0199a7c9-0000-7d30-9c4a-1f2e3d4c5b6b"


def run_import(ws: Workspace, path: Path | None) -> ImportReport:
    (plan,) = ws.ledger.import_plans("codex", path)
    return ws.ledger.run_import(plan)


def imported(ws: Workspace) -> list[LedgerEntry]:
    return ws.ledger.entries(LedgerFilter(source=CODEX), limit=None, oldest_first=True)


def three_turns() -> list[str]:
    return [
        codex_meta(SESSION),
        codex_turn("gpt-5.6-sol"),
        codex_message("Reading the repository."),
        codex_tokens((10_000, 0, 500, 200), ts="2026-11-21T08:00:05.000Z"),
        codex_tokens((10_000, 0, 500, 200), ts="2026-11-21T08:00:05.500Z"),  # repeated event
        codex_tokens(
            (25_000, 9_000, 900, 300), (15_000, 9_000, 400, 100), ts="2026-11-21T08:01:00.000Z"
        ),
        codex_turn("gpt-5.4"),
        codex_tokens(
            (40_000, 20_000, 1_000, 300), (15_000, 11_000, 100, 0), ts="2026-11-21T08:02:00.000Z"
        ),
    ]


def test_cumulative_token_counts_become_per_turn_calls(
    workspace: Workspace, tmp_path: Path
) -> None:
    home = tmp_path / "codex"
    codex_rollout(home, SESSION, three_turns())
    report = run_import(workspace, home)
    rows = imported(workspace)
    assert report.added == 3 and report.malformed == 0
    got = [(r.model, r.input_tokens, r.cache_read_tokens, r.output_tokens) for r in rows]
    assert got == [
        ("gpt-5.6-sol", 10_000, 0, 500),
        ("gpt-5.6-sol", 6_000, 9_000, 400),  # 15,000 new input of which 9,000 cached
        ("gpt-5.4", 4_000, 11_000, 100),
    ]
    assert [r.reasoning_tokens for r in rows] == [200, 100, 0]
    # gpt-5.6 Sol: $5 in, $0.50 cached, $30 out per MTok
    assert rows[1].cost_micros == 6_000 * 5 + 9_000 * 0.5 + 400 * 30
    assert sum(r.input_tokens + r.cache_read_tokens for r in rows) == 40_000
    assert {r.session_id for r in rows} == {SESSION}
    assert rows[0].runtime == "codex" and rows[0].project_path == "/home/dev/work/site"


def test_a_forked_rollout_replaying_its_parent_books_nothing_twice(
    workspace: Workspace, tmp_path: Path
) -> None:
    home = tmp_path / "codex"
    parent = three_turns()
    codex_rollout(home, SESSION, parent)
    # the child starts with its own meta, replays the parent (its meta mid-file), then goes on
    codex_rollout(
        home,
        CHILD,
        [codex_meta(CHILD), *parent, codex_tokens((50_000, 20_000, 1_500, 300))],
        day="2026/11/22",
    )
    report = run_import(workspace, home)
    assert report.added == 4 and report.duplicates == 3
    assert sum(r.output_tokens for r in imported(workspace)) == 1_500


def test_an_incremental_import_continues_from_the_stored_totals(
    workspace: Workspace, tmp_path: Path
) -> None:
    home = tmp_path / "codex"
    path = codex_rollout(home, SESSION, three_turns())
    run_import(workspace, home)
    with path.open("a") as handle:
        handle.write(codex_tokens((41_000, 20_000, 1_050, 300), ts="2026-11-21T08:03:00Z") + "\n")
    report = run_import(workspace, home)
    assert report.added == 1
    last = imported(workspace)[-1]
    assert (last.model, last.input_tokens, last.output_tokens) == ("gpt-5.4", 1_000, 50)


def test_a_counter_that_restarts_uses_the_last_turns_usage(
    workspace: Workspace, tmp_path: Path
) -> None:
    home = tmp_path / "codex"
    codex_rollout(
        home,
        SESSION,
        [
            codex_meta(SESSION),
            codex_turn("gpt-5"),
            codex_tokens((30_000, 0, 900, 0)),
            codex_tokens((2_000, 0, 100, 0), last=(2_000, 0, 100, 0), ts="2026-11-21T09:00:00Z"),
        ],
    )
    run_import(workspace, home)
    assert [(r.input_tokens, r.output_tokens) for r in imported(workspace)] == [
        (30_000, 900),
        (2_000, 100),
    ]


def test_sessions_codex_imported_from_claude_code_are_skipped(
    workspace: Workspace, tmp_path: Path
) -> None:
    home = tmp_path / "codex"
    codex_rollout(home, SESSION, three_turns())
    codex_rollout(home, CHILD, [codex_meta(CHILD), codex_turn(), codex_tokens((5, 0, 5, 0))])
    (home / "external_agent_session_imports.json").write_text(
        '{"imports": [{"source": "claude-code", "source_session_id": "abc", '
        f'"codex_session_id": "{CHILD}"}}]}}'
    )
    report = run_import(workspace, home)
    assert report.added == 3
    assert any("imported by Codex from Claude Code" in s for s in report.skipped)


def test_a_priority_tier_in_config_toml_prices_every_call_fast(
    workspace: Workspace, tmp_path: Path
) -> None:
    home = tmp_path / "codex"
    codex_rollout(home, SESSION, [codex_meta(SESSION), codex_turn("gpt-5"),
                                  codex_tokens((1_000, 0, 0, 0))])  # fmt: skip
    (home / "config.toml").write_text('model = "gpt-5"\nservice_tier = "priority"\n')
    run_import(workspace, home)
    assert imported(workspace)[0].cost_micros == 2 * 1_000 * 1.25


def test_a_call_before_any_turn_context_is_unpriced_and_says_why(
    workspace: Workspace, tmp_path: Path
) -> None:
    home = tmp_path / "codex"
    codex_rollout(home, SESSION, [codex_meta(SESSION), codex_tokens((1_000, 0, 10, 0))])
    report = run_import(workspace, home)
    (row,) = imported(workspace)
    assert row.cost_source == "unpriced" and row.note is not None
    assert "model is unknown" in row.note
    assert report.unpriced == {"codex-unknown-model": 1}


def test_codex_home_is_honoured_and_compressed_rollouts_are_reported(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "elsewhere"
    path = codex_rollout(home, SESSION, three_turns())
    path.with_suffix(".jsonl.zst").write_bytes(b"\x28\xb5\x2f\xfd")
    monkeypatch.setenv("CODEX_HOME", str(home))
    report = run_import(workspace, None)
    assert report.added == 3
    assert any("compressed" in s for s in report.skipped)


def test_malformed_rollout_lines_are_reported_and_skipped(
    workspace: Workspace, tmp_path: Path
) -> None:
    home = tmp_path / "codex"
    lines = three_turns()
    lines.insert(3, lines[3][:40])
    path = codex_rollout(home, SESSION, lines)
    report = run_import(workspace, home)
    assert report.malformed == 1 and report.malformed_examples[0].startswith(f"{path}:4: ")
    assert report.added == 3
