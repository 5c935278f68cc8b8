"""Every money figure the CLI prints for people follows the pages' one rule (`shown_usd`: cents
from a cent up, two significant digits below, ``$0.00`` for nothing, "simulated" for what ran
on a runtime that calls no model); ``--json`` keeps its exact text (``"0.0145"``).

The runs here are on the test-only ``metered`` runtime: scripted scenarios booked as real
spend. 14,500 micro-USD is ``$0.0145`` exactly but ``$0.01`` to a person, as on the pages.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from clitools import Cli

from captools import metered_runtime_fixture  # noqa: F401
from stagent.testing.workflows import step

COSTS_A_CENT_AND_A_HALF = """\
steps:
  - usage: {model: scripted-1, input_tokens: 100, output_tokens: 10, cost_usd: 0.0145}
result: "ok"
"""


def _spent(cli: Cli, tmp_path: Path) -> str:
    """A completed ``metered`` task whose one call reported $0.0145; its id."""
    scenario = tmp_path / "cent.yaml"
    scenario.write_text(COSTS_A_CENT_AND_A_HALF)
    task = cli.add_task("spender", "--runtime", "metered", "--scenario", str(scenario))
    assert cli.json("task", "run", task)["status"] == "completed"
    return task


def test_ledger_list_summary_and_audit_show_cents_json_keeps_the_exact_text(
    cli: Cli, tmp_path: Path
) -> None:
    task = _spent(cli, tmp_path)
    (row,) = cli.json("ledger", "list")
    assert (row["cost_micros"], row["cost_usd"]) == (14_500, "0.0145")
    listing = cli("ledger", "list").stdout
    assert "$0.01 (reported)" in listing and "0.0145" not in listing

    assert cli.json("ledger", "summary")["totals"]["total_cost_usd"] == "0.0145"
    summary = cli("ledger", "summary").stdout
    total = next(line for line in summary.splitlines() if line.strip().startswith("Total"))
    assert total.rstrip().endswith("$0.01") and "0.0145" not in summary

    audit = cli.json("ledger", "audit", task)
    call = next(item for item in audit["items"] if item["type"] == "call")
    assert "0.0145 USD (reported)" in call["summary"]
    human = cli("ledger", "audit", task).stdout
    assert "scripted-1: 110 tokens, $0.01 (reported)" in human
    assert "1 provider calls, 110 tokens, $0.01" in human and "0.0145" not in human


def test_a_run_heading_shows_its_cost_as_the_task_page_does(cli: Cli, tmp_path: Path) -> None:
    task = _spent(cli, tmp_path)
    runs = cli("task", "runs", task).stdout
    heading = next(line for line in runs.splitlines() if "Run 1 completed" in line)
    assert heading.split(" · ")[-1] == "$0.01", heading


def test_budget_show_set_and_forecast_show_cents(cli: Cli, tmp_path: Path) -> None:
    _spent(cli, tmp_path)
    made = cli("budget", "set", "--daily", "1.2345", "--monthly", "30")
    assert "daily $1.23, monthly $30.00" in made.stdout, made.stdout
    limit = cli.json("budget", "show")["scopes"][0]["daily"]
    assert (limit["spent_usd"], limit["headroom_usd"], limit["cap_usd"]) == (
        "0.0145",
        "1.22",
        "1.2345",
    )
    shown = cli("budget", "show").stdout
    today = next(line for line in shown.splitlines() if " today " in f" {line} ")
    assert today.split()[-6:-3] == ["$0.01", "$1.23", "$1.22"], today

    (forecast,) = cli.json("ledger", "forecast")
    assert forecast["spent_usd"] == "0.0145"
    table = cli("ledger", "forecast").stdout
    row = next(line for line in table.splitlines() if "overall" in line)
    assert "$0.01" in row and "$30.00" in row and "0.0145" not in row


def test_a_simulated_call_reads_simulated_not_an_amount(cli: Cli, tmp_path: Path) -> None:
    scenario = tmp_path / "free.yaml"
    scenario.write_text("steps:\n  - usage: {model: scripted-1, input_tokens: 5}\nresult: ok\n")
    task = cli.add_task("sim", "--scenario", str(scenario))
    assert cli.json("task", "run", task)["status"] == "completed"
    (row,) = cli.json("ledger", "list")
    assert (row["simulated"], row["cost_usd"]) == (True, "0.00")
    line = next(li for li in cli("ledger", "list").stdout.splitlines() if task in li)
    assert line.split()[-2] == "simulated" and "$0.00" not in line, line


def test_schedule_and_workflow_show_real_spend_in_cents(cli: Cli, tmp_path: Path) -> None:
    scenario = tmp_path / "cent.yaml"
    scenario.write_text(COSTS_A_CENT_AND_A_HALF)
    cli.json("schedule", "add", "digest", "--every", "1d", "--prompt", "Digest",
             "--runtime", "metered", "--scenario", str(scenario))  # fmt: skip
    assert cli("schedule", "fire", "digest").exit_code == 0
    (firing,) = cli.json("schedule", "show", "digest")["firings"]
    assert (firing["cost_usd"], firing["simulated"]) == ("0.0145", False)
    table = cli("schedule", "show", "digest").stdout
    assert "$0.01" in table and "0.0145" not in table and "simulated" not in table

    paid = {**step("paid", "p"), "runtime": "metered"}
    paid["options"]["scripted"]["scenario"] = yaml.safe_load(COSTS_A_CENT_AND_A_HALF)
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump({"name": "mixed", "pattern": "sequence",
                                    "steps": [paid, step("free", "f")]}))  # fmt: skip
    done = cli.json("workflow", "run", str(path))
    assert [(s["cost_usd"], s["simulated"]) for s in done["steps"]] == [
        ("0.0145", False),
        ("0.00", True),
    ]
    lines = cli("workflow", "show", done["id"]).stdout.splitlines()
    paid_line = next(line for line in lines if line.strip().startswith("paid"))
    free_line = next(line for line in lines if line.strip().startswith("free"))
    assert " · $0.01 task tsk_" in paid_line, paid_line
    assert " · simulated task tsk_" in free_line, free_line


def test_a_cap_typed_with_a_decimal_comma_is_refused_not_read_as_hundreds(cli: Cli) -> None:
    refused = cli("budget", "set", "--daily", "12,50")
    made = cli("budget", "set", "--daily", "1,204.50", "--monthly", "30.0000000")

    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert refused.stderr.splitlines() == [
        "Error: daily: '12,50' is not an amount in USD",
        "hint: write it like 12.50 or 1,204.50 (a dot before the cents)",
    ]
    assert "daily $1,204.50, monthly $30.00" in made.stdout, made.output
