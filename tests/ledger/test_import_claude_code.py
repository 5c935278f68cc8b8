"""Importing Claude Code transcripts: one row per API response, incremental, never stopped by a
bad line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.ledger.logtools import (
    SESSION,
    claude_assistant,
    claude_transcript,
    claude_user,
)

from stagent.ledger.importers import CLAUDE_CODE, ImportReport
from stagent.store.ledger import LedgerEntry, LedgerFilter
from stagent.store.ledger_imports import StoreImports
from stagent.workspace import Workspace


def run_import(ws: Workspace, path: Path | None) -> ImportReport:
    (plan,) = ws.ledger.import_plans("claude-code", path)
    return ws.ledger.run_import(plan)


def imported(ws: Workspace) -> list[LedgerEntry]:
    return ws.ledger.entries(LedgerFilter(source=CLAUDE_CODE), limit=None, oldest_first=True)


def test_a_streamed_response_is_one_row_with_its_final_output_count(
    workspace: Workspace, tmp_path: Path
) -> None:
    config = tmp_path / "claude"
    claude_transcript(
        config,
        [
            claude_user(),
            # three content blocks of one response; the first carries message_start's placeholder
            claude_assistant("msg_01A", "req_01A", output_tokens=1, cache_1h=4000),
            claude_assistant("msg_01A", "req_01A", output_tokens=1, cache_1h=4000),
            claude_assistant("msg_01A", "req_01A", output_tokens=250, cache_1h=4000),
            claude_assistant("msg_01B", "req_01B", output_tokens=40, cache_read=4000),
        ],
    )
    report = run_import(workspace, config)
    rows = sorted(imported(workspace), key=lambda r: r.dedupe_key or "")
    assert [(r.output_tokens, r.cache_write_1h_tokens) for r in rows] == [(250, 4000), (40, 0)]
    assert (report.added, report.duplicates, report.malformed) == (2, 2, 0)
    first = rows[0]
    # Sonnet 4.5: 3 input x $3 + 250 output x $15 + 4,000 one-hour writes x $6 (per MTok)
    assert first.cost_micros == 3 * 3 + 250 * 15 + 4000 * 6
    assert (first.runtime, first.source, first.activity) == ("claude", CLAUDE_CODE, "import")
    assert (first.session_id, first.project_path) == (SESSION, "/home/dev/work/site")
    assert first.dedupe_key == "claude-code:msg_01A"
    assert first.raw is not None and first.raw["request_id"] == "req_01A"


def test_a_btw_side_chain_replay_is_not_counted_again(workspace: Workspace, tmp_path: Path) -> None:
    config = tmp_path / "claude"
    claude_transcript(config, [claude_assistant("msg_02", "req_02", output_tokens=90)])
    side = config / "projects" / "-home-dev-work-site" / SESSION / "subagents"
    side.mkdir(parents=True)
    (side / "agent-a1.jsonl").write_text(
        claude_assistant("msg_02", "req_99", output_tokens=90, sidechain=True)
        + "\n"
        + claude_assistant("msg_03", "req_03", output_tokens=7, sidechain=True)
        + "\n"
    )
    report = run_import(workspace, config)
    rows = imported(workspace)
    assert sorted(r.dedupe_key or "" for r in rows) == ["claude-code:msg_02", "claude-code:msg_03"]
    assert report.added == 2 and report.duplicates == 1
    main = next(r for r in rows if r.dedupe_key == "claude-code:msg_02")
    assert main.raw is not None and main.raw["request_id"] == "req_02"  # the main-chain copy


def test_malformed_lines_are_counted_with_file_and_line_and_never_stop_the_import(
    workspace: Workspace, tmp_path: Path
) -> None:
    config = tmp_path / "claude"
    good = claude_assistant("msg_04", "req_04")
    path = claude_transcript(
        config,
        [
            claude_user(),
            good[: len(good) // 2],  # a line cut short (a crash mid-write)
            "not json at all",
            '{"type": "assistant", "message": {"usage": {"input_tokens": 5}}, "timestamp": "x"}',
            claude_assistant("msg_05", "req_05"),
        ],
    )
    report = run_import(workspace, config)
    assert report.malformed == 3 and report.added == 1
    assert report.malformed_examples[0].startswith(f"{path}:2: ")
    assert report.malformed_examples[1].startswith(f"{path}:3: ")
    assert f"{path}:4: " in report.malformed_examples[2]
    assert [r.dedupe_key for r in imported(workspace)] == ["claude-code:msg_05"]


def test_counts_of_unexpected_types_are_read_as_zero_not_dropped(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Most lines take a fast typed decoder; a line whose fields have other types (a count
    written as a string or a float, a negative count, a null side-chain flag) is read by the
    general path with the same rules, so the call still counts with what can be trusted."""
    config = tmp_path / "claude"
    odd = json.loads(claude_assistant("msg_0a", "req_0a", cache_read=700, output_tokens=50))
    odd["message"]["usage"]["input_tokens"] = "12"
    odd["isSidechain"] = None
    negative = json.loads(claude_assistant("msg_0b", "req_0b", output_tokens=40))
    negative["message"]["usage"]["input_tokens"] = -5
    floating = json.loads(claude_assistant("msg_0c", "req_0c", output_tokens=30))
    floating["message"]["usage"]["cache_read_input_tokens"] = 2.0
    claude_transcript(
        config,
        [
            claude_assistant("msg_09", "req_09", input_tokens=7, cache_1h=300, output_tokens=60),
            *(json.dumps(line) for line in (odd, negative, floating)),
        ],
    )
    report = run_import(workspace, config)
    assert report.added == 4 and report.malformed == 0
    rows = {r.dedupe_key: r for r in imported(workspace)}
    plain = rows["claude-code:msg_09"]
    assert (plain.input_tokens, plain.cache_write_1h_tokens, plain.output_tokens) == (7, 300, 60)
    assert (
        rows["claude-code:msg_0a"].input_tokens,
        rows["claude-code:msg_0a"].cache_read_tokens,
    ) == (0, 700)
    assert rows["claude-code:msg_0b"].input_tokens == 0
    assert rows["claude-code:msg_0c"].cache_read_tokens == 0
    assert all(r.cost_micros > 0 for r in rows.values())


def test_synthetic_messages_and_lines_without_usage_are_not_calls(
    workspace: Workspace, tmp_path: Path
) -> None:
    config = tmp_path / "claude"
    claude_transcript(
        config,
        [claude_user(), claude_assistant("msg_06", "req_06", model="<synthetic>")],
    )
    report = run_import(workspace, config)
    assert report.added == 0 and report.malformed == 0 and imported(workspace) == []


def test_a_re_run_reads_only_the_bytes_added_since(workspace: Workspace, tmp_path: Path) -> None:
    config = tmp_path / "claude"
    path = claude_transcript(config, [claude_assistant("msg_07", "req_07")])
    first = run_import(workspace, config)
    assert first.bytes_read == path.stat().st_size and first.added == 1
    again = run_import(workspace, config)
    assert (again.files_read, again.bytes_read, again.added) == (0, 0, 0)
    extra = claude_assistant("msg_08", "req_08") + "\n"
    with path.open("a") as handle:
        handle.write(extra)
    third = run_import(workspace, config)
    assert (third.bytes_read, third.added, third.duplicates) == (len(extra), 1, 0)
    assert len(imported(workspace)) == 2


def test_a_line_still_being_written_is_read_next_time(workspace: Workspace, tmp_path: Path) -> None:
    config = tmp_path / "claude"
    path = claude_transcript(config, [claude_assistant("msg_09", "req_09")])
    line = claude_assistant("msg_10", "req_10")
    with path.open("a") as handle:
        handle.write(line[:50])  # no newline yet
    report = run_import(workspace, config)
    assert report.added == 1 and report.malformed == 0
    with path.open("a") as handle:
        handle.write(line[50:] + "\n")
    assert run_import(workspace, config).added == 1
    assert len(imported(workspace)) == 2


def test_a_truncated_or_replaced_file_is_read_again_without_double_counting(
    workspace: Workspace, tmp_path: Path
) -> None:
    config = tmp_path / "claude"
    lines = [claude_assistant(f"msg_1{i}", f"req_1{i}") for i in range(3)]
    path = claude_transcript(config, lines)
    run_import(workspace, config)
    claude_transcript(config, lines[:1])  # truncated (shorter than what was read)
    report = run_import(workspace, config)
    assert report.restarted == [f"{path} (truncated)"]
    assert (report.added, report.duplicates) == (0, 1)
    # replaced: same length or longer, different first bytes
    claude_transcript(config, [claude_assistant("msg_20", "req_20"), *lines])
    report = run_import(workspace, config)
    assert report.restarted == [f"{path} (replaced)"]
    assert (report.added, report.duplicates) == (1, 3)
    assert len(imported(workspace)) == 4


def test_calls_are_attributed_to_the_project_whose_directory_holds_the_cwd(
    workspace: Workspace, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    (work / "site" / "docs").mkdir(parents=True)
    site = workspace.projects.create("Site", directory=str(work / "site"))
    workspace.projects.create("Work", directory=str(work))
    config = tmp_path / "claude"
    claude_transcript(
        config,
        [
            claude_assistant("msg_30", "req_30", cwd=str(work / "site" / "docs")),
            claude_assistant("msg_31", "req_31", cwd="/elsewhere"),
        ],
    )
    run_import(workspace, config)
    by_key = {r.dedupe_key: r for r in imported(workspace)}
    assert by_key["claude-code:msg_30"].project_id == site.id
    assert by_key["claude-code:msg_31"].project_id is None
    assert by_key["claude-code:msg_31"].project_path == "/elsewhere"


def test_claude_config_dir_is_honoured(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    claude_transcript(first, [claude_assistant("msg_40", "req_40")])
    claude_transcript(second, [claude_assistant("msg_41", "req_41")], name="other")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", f"{first},{second}")
    report = run_import(workspace, None)
    assert (report.files, report.added) == (2, 2)


def test_fast_and_us_only_calls_are_priced_with_their_multipliers(
    workspace: Workspace, tmp_path: Path
) -> None:
    config = tmp_path / "claude"
    claude_transcript(
        config,
        [
            claude_assistant("msg_50", "req_50", model="claude-opus-4-6", input_tokens=1000,
                             output_tokens=0, speed="fast"),
            claude_assistant("msg_51", "req_51", model="claude-opus-4-6", input_tokens=1000,
                             output_tokens=0, geo="us"),
        ],
    )  # fmt: skip
    run_import(workspace, config)
    costs = {r.dedupe_key: r.cost_micros for r in imported(workspace)}
    assert costs == {"claude-code:msg_50": 30_000, "claude-code:msg_51": 5_500}


def test_imported_spend_is_not_counted_against_budgets(
    workspace: Workspace, tmp_path: Path
) -> None:
    config = tmp_path / "claude"
    claude_transcript(config, [claude_assistant("msg_60", "req_60", output_tokens=100_000)])
    run_import(workspace, config)
    assert imported(workspace)[0].cost_micros > 1_000_000
    assert workspace.budgets.status("overall").limits[0].spent == 0


def test_the_cycle_collector_is_back_on_after_an_import_even_one_that_fails(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The import pauses Python's cycle collector while it reads (speed); the process gets it
    back afterwards, also when booking fails."""
    import gc

    from stagent.ledger.importers.service import LogImporter

    config = tmp_path / "claude"
    claude_transcript(config, [claude_user(), claude_assistant("msg_01A", "req_01A")])
    assert gc.isenabled()
    assert run_import(workspace, config).added == 1
    assert gc.isenabled()

    claude_transcript(config, [claude_assistant("msg_01B", "req_01B")], name="other")

    def broken(*_: object, **_kw: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(LogImporter, "book", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run_import(workspace, config)
    assert gc.isenabled()


def test_the_fast_row_of_a_claude_code_call_books_what_the_reference_path_books(
    workspace: Workspace,
) -> None:
    """An import builds a Claude Code call's row straight from its line; every figure, note and
    raw field must be the ones the general path (`LogImporter.row`) gives for the same call:
    modes with and without a multiplier, a long-context tier, a priority tier, a model the
    price table does not know, projects by working directory."""
    from stagent.ledger.importers import claude_code
    from stagent.ledger.importers.service import LogImporter

    priority = json.loads(claude_assistant("msg_63", "req_63"))
    priority["message"]["usage"]["service_tier"] = "priority"
    lines = [
        claude_assistant("msg_60", "req_60", model="claude-opus-4-6", speed="fast"),
        claude_assistant("msg_61", "req_61", geo="us", cache_5m=40, cache_1h=7, cache_read=9),
        claude_assistant("msg_62", "", input_tokens=250_000, output_tokens=10, cwd="/elsewhere"),
        json.dumps(priority),
        claude_assistant("msg_64", "req_64", model="claude-sonnet-4-5-20250929", speed="fast"),
        claude_assistant("msg_65", "req_65", model="gpt-unknown-1", sidechain=True),
        claude_assistant("msg_66", "req_66", timestamp="2026-11-21T10:00:00+02:00"),
    ]
    importer = LogImporter(StoreImports(workspace.store), workspace.ledger.prices)

    def project(cwd: str | None) -> str | None:
        return "proj_site" if cwd == "/home/dev/work/site" else None

    for line in lines:
        copy = claude_code.parse_line(line.encode())
        assert copy is not None
        call = copy.call()
        expected = importer.row(CLAUDE_CODE, call, project(call.cwd))
        assert importer.copy_row(CLAUDE_CODE, copy, project) == expected
        assert importer.copy_row(CLAUDE_CODE, copy, project) == expected  # remembered card
    unpriced = importer.copy_row(
        CLAUDE_CODE, claude_code.parse_line(lines[5].encode()) or pytest.fail(), project
    )
    assert unpriced[3:4] == ("gpt-unknown-1",) and "unpriced" in unpriced
