"""``stagent ledger`` and ``stagent pricing`` as a person (and a script) uses them."""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.ledger.logtools import (
    claude_assistant,
    claude_transcript,
    claude_user,
    codex_meta,
    codex_rollout,
    codex_tokens,
    codex_turn,
)
from typer.testing import CliRunner, Result

from stagent.cli.app import app


@pytest.fixture(autouse=True)
def _cli_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGENT_RAISE_ERRORS", "1")
    logger = logging.getLogger("dbos")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.__stderr__)
        handler.name = "__dbos_console_log_handler__"
        logger.addHandler(handler)
        logger.propagate = False


class Cli:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(app, ["--home", str(self.home), *args], catch_exceptions=False)

    def json(self, *args: str, expect_exit: int = 0) -> Any:
        result = self(*args, "--json")
        assert result.exit_code == expect_exit, result.output
        return json.loads(result.stdout)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


@pytest.fixture
def logs(tmp_path: Path) -> tuple[Path, Path]:
    claude = tmp_path / "claude"
    claude_transcript(
        claude,
        [
            claude_user(),
            claude_assistant("msg_A", "req_A", input_tokens=1000, output_tokens=100,
                             timestamp="2026-11-20T10:00:00Z"),
            claude_assistant("msg_A", "req_A", input_tokens=1000, output_tokens=100,
                             timestamp="2026-11-20T10:00:00Z"),
            claude_assistant("msg_B", "req_B", model="claude-opus-9", input_tokens=50,
                             timestamp="2026-11-21T10:00:00Z"),
            '{"type": "assistant", "message": {"usage": ',
        ],
    )  # fmt: skip
    codex = tmp_path / "codex"
    codex_rollout(
        codex,
        "0199a7c2-5b1e-7d30-9c4a-1f2e3d4c5b6a",
        [codex_meta("0199a7c2-5b1e-7d30-9c4a-1f2e3d4c5b6a"), codex_turn("gpt-5"),
         codex_tokens((10_000, 4_000, 200, 0), ts="2026-11-21T12:00:00Z")],
    )  # fmt: skip
    return claude, codex


def test_import_then_summary_totals_and_groups(cli: Cli, logs: tuple[Path, Path]) -> None:
    claude, codex = logs
    (cc,) = cli.json("ledger", "import", "claude-code", "--path", str(claude))
    assert (cc["calls_added"], cc["duplicates_skipped"], cc["malformed_lines"]) == (2, 1, 1)
    assert cc["malformed_examples"][0].endswith(
        ".jsonl:5: not a JSON object (invalid JSON: unexpected end of data)"
    )
    assert cc["unpriced_models"] == {"claude-opus-9": 1}
    (cx,) = cli.json("ledger", "import", "codex", "--path", str(codex))
    assert cx["calls_added"] == 1

    totals = cli.json("ledger", "summary")["totals"]
    # Sonnet 4.5: 1000 x $3 + 100 x $15 = $0.0045; gpt-5: 6000 x $1.25 + 4000 x $0.125 + 200 x $10
    assert totals["requests"] == 3
    assert totals["total_tokens"] == 1100 + (50 + 120) + 10_200
    assert totals["total_cost_usd"] == "0.0145"
    assert totals["unpriced_requests"] == 1

    by_source = cli.json("ledger", "summary", "--by", "source")["groups"]
    assert {g["key"]: g["requests"] for g in by_source} == {
        "import:claude-code": 2,
        "import:codex": 1,
    }
    by_day = cli.json("ledger", "summary", "--by", "day")["groups"]
    assert [g["key"] for g in by_day] == ["2026-11-20", "2026-11-21"]
    since = cli.json("ledger", "summary", "--since", "2026-11-21", "--by", "model")
    assert since["totals"]["requests"] == 2
    assert {g["key"] for g in since["groups"]} == {"claude-opus-9", "gpt-5"}
    until = cli.json("ledger", "summary", "--until", "2026-11-20")
    assert until["totals"]["requests"] == 1


def test_the_human_summary_flags_unpriced_models_and_never_shows_them_as_free(
    cli: Cli, logs: tuple[Path, Path]
) -> None:
    claude, _ = logs
    imported = cli("ledger", "import", "claude-code", "--path", str(claude))
    assert "1 malformed lines skipped" in imported.stdout
    assert f"{claude}" in imported.stdout and ".jsonl:5:" in imported.stdout
    assert "claude-opus-9 (1)" in imported.stdout
    shown = cli("ledger", "summary", "--by", "model")
    assert "Unpriced (cost unknown, not $0)" in shown.stdout
    opus = next(line for line in shown.stdout.splitlines() if line.startswith("  claude-opus-9"))
    assert "UNPRICED" in opus and "$0" not in opus
    assert "+1 unpriced" in cli("ledger", "summary").stdout
    listing = cli("ledger", "list")
    assert "UNPRICED" in listing.stdout
    rows = cli.json("ledger", "list")
    unpriced = next(r for r in rows if r["model"] == "claude-opus-9")
    assert unpriced["cost_usd"] is None and unpriced["unpriced"] is True


def test_an_override_file_and_reprice_price_what_was_unpriced(
    cli: Cli, logs: tuple[Path, Path]
) -> None:
    claude, _ = logs
    cli.json("ledger", "import", "claude-code", "--path", str(claude))
    before = cli.json("pricing", "list")["version"]
    cli.home.mkdir(parents=True, exist_ok=True)
    (cli.home / "prices.yaml").write_text(
        "models:\n  - id: claude-opus-9\n    provider: anthropic\n"
        "    prices: [{input: 20, output: 100, source: my guess until it is published}]\n"
    )
    shown = cli.json("pricing", "show", "claude-opus-9")
    assert shown["overridden"] is True and shown["version"] != before
    report = cli.json("ledger", "reprice")
    assert (report["newly_priced"], report["still_unpriced"]) == (1, {})
    assert report["delta_micros"] == 50 * 20 + 120 * 100
    totals = cli.json("ledger", "summary")["totals"]
    assert (totals["unpriced_requests"], totals["total_cost_usd"]) == (0, "0.0175")
    assert cli.json("ledger", "reprice")["rows"] == 0  # nothing left on an older version


def test_pricing_list_and_show(cli: Cli) -> None:
    listed = cli.json("pricing", "list")
    models = {m["model"]: m for m in listed["models"]}
    sonnet = models["claude-sonnet-4-5"]
    assert sonnet["periods"][0]["prices"]["cache_write_1h"] == "6"
    assert sonnet["periods"][0]["tiers"][0]["above_prompt_tokens"] == 200_000
    assert models["claude-opus-4-6"]["multipliers"]["fast"] == "6"
    assert cli.json("pricing", "show", "claude-opus-4-7-20260101")["model"] == "claude-opus-4-6"
    missing = cli("pricing", "show", "gpt-6-astra")
    assert missing.exit_code != 0 and "unpriced" in missing.output
    assert "Traceback" not in missing.output
    human = cli("pricing", "list")
    assert "claude-haiku-5-5" in human.stdout


def test_export_csv_has_every_row_and_quotes_formulas(cli: Cli, tmp_path: Path) -> None:
    claude = tmp_path / "claude"
    claude_transcript(
        claude,
        [claude_assistant("msg_C", "req_C", model="=HYPERLINK(1)", cwd="=cmd|calc")],
    )
    cli.json("ledger", "import", "claude-code", "--path", str(claude))
    result = cli("ledger", "export", "--csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 1
    assert rows[0]["model"] == "'=HYPERLINK(1)" and rows[0]["project_path"] == "'=cmd|calc"
    assert rows[0]["source"] == "import:claude-code" and rows[0]["total_tokens"] == "123"
    out = tmp_path / "ledger.csv"
    assert cli("ledger", "export", "--csv", "-o", str(out)).exit_code == 0
    assert out.read_text().count("\n") == 2


AUDITED = """\
steps:
  - usage: {model: claude-haiku-4-5, input_tokens: 1000, output_tokens: 10}
  - tool: Write
    input: {file_path: notes.md, content: hi}
    output: wrote 2 bytes
  - usage: {model: claude-haiku-4-5, input_tokens: 2000, output_tokens: 20}
result: done
"""


def test_audit_interleaves_calls_with_tool_requests_and_decisions(cli: Cli, tmp_path: Path) -> None:
    scenario = tmp_path / "audited.yaml"
    scenario.write_text(AUDITED)
    cli.json("rules", "add", "Write")
    task = cli.json("task", "add", "audited", "--scenario", str(scenario))["id"]
    assert cli.json("task", "run", task)["status"] == "completed"
    data = cli.json("ledger", "audit", task)
    kinds = [item["type"] for item in data["items"] if item["type"] != "status"]
    assert kinds == ["call", "tool_request", "decision", "tool_result", "call"]
    decision = next(item for item in data["items"] if item["type"] == "decision")
    assert "Write allowed by" in decision["summary"]
    assert data["requests"] == 2 and data["simulated"] is True
    # Haiku 4.5: 1000 x $1 + 10 x $5, then 2000 x $1 + 20 x $5 (simulated: never real spend)
    assert data["total_cost_usd"] == "0.00315"
    human = cli("ledger", "audit", task)
    assert "claude-haiku-4-5" in human.stdout and "(simulated)" in human.stdout


def test_budget_usage_is_the_ledger_listing(cli: Cli, logs: tuple[Path, Path]) -> None:
    claude, _ = logs
    cli.json("ledger", "import", "claude-code", "--path", str(claude))
    assert cli.json("budget", "usage") == cli.json("ledger", "list")


def test_bad_arguments_are_one_line_errors(cli: Cli) -> None:
    for args, text in (
        (("ledger", "summary", "--by", "week"), "not a grouping"),
        (("ledger", "summary", "--since", "yesterday"), "since: 'yesterday' is not a date"),
        (("ledger", "import", "cursor"), "import claude-code, codex or all"),
        (("ledger", "list", "--source", "cursor"), "source: 'cursor' is unknown"),
        (("ledger", "audit", "tsk_nope"), "tsk_nope"),
    ):
        result = cli(*args)
        assert result.exit_code != 0 and text in result.output, (args, result.output)
        assert "Traceback" not in result.output
