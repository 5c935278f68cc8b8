"""``stagent budget`` and a budget-refused task as the CLI shows it."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from stagent.cli.app import app
from stagent.domain.events import UsageEvent
from stagent.engine.services import TaskDraft
from stagent.governance.budgets_policy import CallScope
from stagent.settings import Settings
from stagent.workspace import Workspace

SPENDS_A_DOLLAR = """\
steps:
  - usage: {model: scripted-1, input_tokens: 100, output_tokens: 10, cost_usd: 1.0}
result: "spent"
"""


@pytest.fixture(autouse=True)
def _cli_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bugs surface as tracebacks; DBOS logs to the real stderr (see tests/cli/conftest.py)."""
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


def test_a_refused_task_names_the_cap_in_task_show_json(cli: Cli, tmp_path: Path) -> None:
    scenario = tmp_path / "spend.yaml"
    scenario.write_text(SPENDS_A_DOLLAR)
    cli.json("budget", "set", "--daily", "1", "--per-run", "1")
    first = cli.json("task", "add", "first", "--runtime", "metered", "--scenario", str(scenario))[
        "id"
    ]
    assert cli.json("task", "run", first)["status"] == "completed"
    second = cli.json("task", "add", "second", "--runtime", "metered", "--scenario", str(scenario))[
        "id"
    ]
    assert cli.json("task", "run", second, expect_exit=1)["status"] == "failed"

    shown = cli.json("task", "show", second)
    assert shown["status"] == "failed"
    assert shown["error"].startswith(
        "blocked by budget: overall daily cap $1.00 reached (spent $1.00); resets "
    )
    blocked = cli.json("budget", "usage", "--status", "blocked")
    assert [row["task_id"] for row in blocked] == [second]
    assert blocked[0]["cost_micros"] == 0

    human = cli("task", "show", second)
    assert "blocked by budget" in human.stdout


def test_budget_show_set_clear_in_both_modes(cli: Cli) -> None:
    empty = cli.json("budget", "show")
    assert [s["label"] for s in empty["scopes"]] == ["overall"]
    assert empty["scopes"][0]["health"] == "unlimited"
    assert empty["pricing_version"].startswith("stagent-")

    overall = cli.json(
        "budget", "set", "--daily", "5", "--monthly", "100", "--warn-at", "0.9",
        "--on-breach", "pause",
    )  # fmt: skip
    assert overall["daily"]["cap_usd"] == "5.00" and overall["monthly"]["cap_usd"] == "100.00"
    assert (overall["warn_at"], overall["on_breach"]) == (0.9, "pause")
    runtime = cli.json("budget", "set", "--runtime", "claude", "--monthly", "20")
    assert runtime["label"] == "runtime claude" and runtime["daily"]["cap_usd"] is None
    cli.json("project", "add", "Site")
    project = cli.json("budget", "set", "--project", "Site", "--daily", "1.5", "--per-run", "0.25")
    assert project["label"] == "project Site" and project["per_run_usd"] == "0.25"

    shown = cli.json("budget", "show")
    assert [s["label"] for s in shown["scopes"]] == ["overall", "runtime claude", "project Site"]
    for scope in shown["scopes"]:
        assert scope["health"] in ("ok", "unlimited")
        assert {"spent_usd", "headroom_usd", "health", "resets"} <= set(scope["daily"])

    table = cli("budget", "show")
    assert table.exit_code == 0 and "runtime claude" in table.stdout and "$100.00" in table.stdout

    removed = cli.json("budget", "set", "--daily", "none")
    assert removed["daily"]["cap_usd"] is None and removed["monthly"]["cap_usd"] == "100.00"
    assert cli.json("budget", "clear", "--runtime", "claude")["removed"] is True
    assert cli.json("budget", "clear", "--runtime", "claude")["removed"] is False
    assert "Removed the project Site budget." in cli("budget", "clear", "--project", "Site").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--daily", "abc"), "daily: 'abc' is not an amount in USD"),
        (("--warn-at", "1.5"), "warn_at: 1.5 is not a fraction of the cap"),
        (("--on-breach", "explode"), "on_breach: 'explode' is not fail or pause"),
        (("--runtime", "nope", "--daily", "1"), "runtime: unknown runtime 'nope'"),
        (("--project", "Ghost", "--daily", "1"), "no project with id or name 'Ghost'"),
        (("--runtime", "claude", "--project", "x", "--daily", "1"), "not both"),
        ((), "nothing to change"),
    ],
)
def test_budget_set_refuses_bad_input_in_one_line(
    cli: Cli, args: tuple[str, ...], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STAGENT_RAISE_ERRORS")
    result = cli("budget", "set", *args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert result.stderr.splitlines()[0].startswith("Error: ")
    assert message in result.stderr.splitlines()[0]


def test_budget_respond_answers_a_breach_card(cli: Cli) -> None:
    cli.json("budget", "set", "--daily", "1", "--on-breach", "pause")
    with Workspace(Settings(home=cli.home)).open() as ws:
        spent = ws.tasks.create(TaskDraft("earlier work", runtime="metered"))
        ws.budgets.record_usage(spent, UsageEvent(model="scripted-1", cost_usd=1.0))
        admission = ws.budgets.admit(CallScope(runtime="metered", task_id=spent.id), pausable=True)
    assert admission.card_id is not None
    shown = cli.json("budget", "show")
    assert [b["id"] for b in shown["breaches"]] == [admission.card_id]
    assert "waiting" in cli("budget", "show").stdout
    answered = cli.json("budget", "respond", admission.card_id, "allow", "--amount", "2.50")
    assert answered["response"]["action"] == "allow"
    assert answered["response"]["allowed_usd"] == "2.50"
    assert answered["response"]["by"] == "person (via CLI, owner token file)"
    assert cli.json("budget", "show")["breaches"] == []
    daily = cli.json("budget", "show")["scopes"][0]["daily"]
    assert (daily["allowance_micros"], daily["headroom_usd"]) == (2_500_000, "2.50")
