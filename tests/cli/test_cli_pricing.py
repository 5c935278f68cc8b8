"""``stagent pricing list|show`` as a person (and a script) reads the price table in use: the
shipped table with the home's ``prices.yaml`` applied."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from clitools import Cli, assert_one_line_error

from stagent.web.app import create_app
from stagent.workspace import Workspace

UNREACHABLE_DB = "postgresql+psycopg://stagent:s3cret@127.0.0.1:1/nowhere"

OVERRIDES = """\
models:
  - id: acme-large
    provider: anthropic
    aliases: [acme-l]
    multipliers: {batch: 0.5}
    note: our own contract
    prices:
      - {input: 2, output: 8, source: the contract of March}
  - id: acme-next
    provider: openai
    prices:
      - from: 2099-01-01
        input: 1
        output: 4
        source: announced
        tiers: [{above: 100000, input: 2}]
"""


def _overrides(cli: Cli, text: str = OVERRIDES) -> Path:
    cli.home.mkdir(parents=True, exist_ok=True)
    path = cli.home / "prices.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def _api(home: Path, *paths: str) -> list[tuple[int, Any]]:
    with Workspace.temporary(home) as ws:
        ws.open()
        transport = httpx.ASGITransport(app=create_app(ws), client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as api:
            answers = [await api.get(f"/api/v1{path}") for path in paths]
    return [(answer.status_code, answer.json()) for answer in answers]


def test_json_is_the_apis_objects_and_errors(cli: Cli) -> None:
    _overrides(cli)
    listed = cli.json("pricing", "list")
    shown = cli.json("pricing", "show", "acme-l")
    missing = cli.json("pricing", "show", "acme-tiny", expect_exit=1)

    api = asyncio.run(_api(cli.home, "/pricing", "/pricing/acme-l", "/pricing/acme-tiny"))

    assert api == [(200, listed), (200, shown), (404, missing)]
    assert shown["version"] == listed["version"] and "+user-" in shown["version"]
    assert (shown["model"], shown["aliases"], shown["overridden"]) == (
        "acme-large",
        ["acme-l"],
        True,
    )
    assert shown["multipliers"] == {"batch": "0.5"} and shown["note"] == "our own contract"
    assert shown["periods"] == [
        {
            "from": None,
            "prices": {
                "input": "2",
                "output": "8",
                "cache_write_5m": None,
                "cache_write_1h": None,
                "cache_read": None,
            },
            "tiers": [],
            "source": "the contract of March",
        }
    ]
    models = {model["model"] for model in listed["models"]}
    assert {"acme-large", "acme-next", "gpt-5", "claude-sonnet-4-5"} <= models
    assert (missing["code"], missing["status"]) == ("not_found", 404)
    assert "'acme-tiny'" in missing["error"] and "unpriced" in missing["error"]
    assert "prices.yaml" in missing["hint"]


def test_an_unknown_model_is_one_line_with_where_to_add_it(cli: Cli) -> None:
    result = cli("pricing", "show", "gpt-6-astra")
    line = assert_one_line_error(result, contains="'gpt-6-astra' is not in price table")
    assert line.endswith("its calls are unpriced")
    assert result.stderr.splitlines()[1] == (
        "hint: add it to $STAGENT_HOME/prices.yaml (see `stagent pricing list`)"
    )


def test_the_human_list_marks_your_models_and_those_priced_later(cli: Cli) -> None:
    _overrides(cli)
    result = cli("pricing", "list")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "(yours)" in rows["acme-large"]
    assert "(from 2099-01-01)" in rows["acme-next"]
    assert "(yours)" not in rows["gpt-5"]
    assert result.stdout.startswith("Prices stagent-")
    assert "$STAGENT_HOME/prices.yaml" in result.stdout


def test_show_tells_aliases_modes_tiers_and_sources(cli: Cli) -> None:
    _overrides(cli)
    large = cli("pricing", "show", "acme-large").stdout.splitlines()
    later = cli("pricing", "show", "acme-next").stdout.splitlines()

    assert large[0].startswith("acme-large (anthropic), table stagent-")
    assert large[1:] == [
        "  aliases: acme-l",
        "  modes (whole request): batch x0.5",
        "  note: our own contract",
        "  from the start of the table: input 2, output 8",
        "    source: the contract of March",
    ]
    assert later[1:] == [
        "  modes (whole request): fast x2, regional x1.1, batch x0.5, flex x0.5",  # openai's
        "  from 2099-01-01: input 1, output 4",
        "    prompts over 100,000 tokens (the whole request): input 2, output 4",
        "    source: announced",
    ]


def test_an_override_file_error_names_file_line_and_field(cli: Cli) -> None:
    path = _overrides(
        cli,
        "models:\n"
        "  - id: acme-large\n"
        "    provider: anthropic\n"
        "    prices:\n"
        "      - {input: cheap, output: 8, source: s}\n",
    )
    for args in (("pricing", "list"), ("pricing", "show", "gpt-5")):
        line = assert_one_line_error(cli(*args), contains=f"{path}:5: ")
        assert line == (
            f"Error: {path}:5: models[0].prices[0].input: input should be a valid decimal"
        )

    error = cli.json("pricing", "list", expect_exit=1)

    assert (error["code"], error["status"]) == ("invalid_input", 422)
    assert error["errors"] == [
        {
            "field": "models[0].prices[0].input",
            "message": "input should be a valid decimal",
            "hint": "see the header of prices.yaml",
            "file": str(path),
            "line": 5,
            "column": None,
            "step": None,
        }
    ]
    [(status, body)] = asyncio.run(_api(cli.home, "/pricing"))
    assert (status, body) == (422, error)


def test_every_problem_of_an_override_file_is_listed_on_its_line(cli: Cli) -> None:
    path = _overrides(
        cli,
        "models:\n"
        "  - id: acme-large\n"
        "    provider: anthropic\n"
        "    prices:\n"
        "      - {input: 2, output: -8, source: s}\n"
        "  - id: acme-small\n"
        "    prices: [{input: 1, output: 2}]\n",
    )
    result = cli("pricing", "list")

    assert result.exit_code == 1 and result.stdout == "" and "Traceback" not in result.output
    assert result.stderr.splitlines() == [
        "Error: 3 problems",
        f"  {path}:5: models[0].prices[0].output: input should be greater than or equal to 0",
        "    hint: see the header of prices.yaml",
        f"  {path}:6: models[1].provider: field required",
        "    hint: see the header of prices.yaml",
        f"  {path}:7: models[1].prices[0].source: field required",
        "    hint: see the header of prices.yaml",
    ]


def test_an_override_file_that_is_no_yaml_or_no_table_is_placed(cli: Cli) -> None:
    path = _overrides(cli, "models:\n  - id: acme\n    note: one: two\n")
    line = assert_one_line_error(cli("pricing", "list"), contains=f"{path}:3: price table:")
    assert "is not valid YAML: mapping values are not allowed" in line
    assert "needs quotes" in cli("pricing", "list").stderr.splitlines()[1]

    _overrides(cli, "- just a list\n")
    line = assert_one_line_error(cli("pricing", "list"), contains=f"{path}:1: price table:")
    assert line.endswith("expected a mapping with a 'models' list")

    _overrides(
        cli,
        "models:\n"
        "  - id: acme\n"
        "    provider: openai\n"
        "    prices:\n"
        "      - {from: 2026-05-01, input: 1, output: 2, source: s}\n"
        "      - {input: 1, output: 2, source: s}\n",
    )
    line = assert_one_line_error(cli("pricing", "show", "acme"), contains=f"{path}:5: ")
    assert "models[0].prices: model acme: price periods must be in date order" in line


def test_prices_are_read_without_the_database(cli: Cli) -> None:
    _overrides(cli)
    shown = cli(
        "pricing", "show", "acme-large", "--json", global_args=("--database-url", UNREACHABLE_DB)
    )
    listed = cli("pricing", "list", global_args=("--database-url", UNREACHABLE_DB))

    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["overridden"] is True
    assert listed.exit_code == 0 and "acme-large (yours)" in listed.stdout
    assert sorted(p.name for p in cli.home.iterdir()) == ["prices.yaml"]  # no database made
