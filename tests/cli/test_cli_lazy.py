"""Each command imports only what it uses: ``--help`` no command module, ``task list`` no engine.

The checks run ``stagent`` in a fresh interpreter and list the modules it loaded, so an import
added at the top of a module that every command reaches fails here, not in a benchmark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from clitools import Cli

from stagent.cli.app import COMMANDS, RootGroup
from stagent.cli.lazy import CommandEntry, load_command
from stagent.cli.startup import PYDANTIC_PLUGIN_LOADER

HEAVY = ("sqlalchemy", "pydantic_settings", "dbos", "alembic", "mako", "psycopg", "fastapi")
"""What no ``--help`` needs."""

NOT_FOR_READING = (
    "sqlalchemy",
    "dbos",
    "alembic",
    "mako",
    "psycopg",
    "fastapi",
    "uvicorn",
    "jinja2",
    "anthropic",
    "claude_agent_sdk",
    "stagent.engine.durable",
    "stagent.governance",
    "stagent.ledger",
    "stagent.web",
)
"""What ``task list``/``show``/``runs`` on a migrated SQLite file must not load: SQLAlchemy (they
read with plain sqlite3), the engine, migrations, PostgreSQL, the web app, the model SDKs,
governance and the ledger."""

NOT_FOR_LISTING = (
    *NOT_FOR_READING,
    "pydantic_settings",
    "asyncio",
    "yaml",
    "stagent.runtimes",
    "stagent.schemas",
    "stagent.domain.permissions",
    "importlib.metadata",
)
"""Nor what only other paths need: pydantic-settings (the reads take the home and database URL
from `stagent.locations`), the runtime adapters, YAML (``--options``), the JSON schemas
(``--json``), the permission-rule matchers and pydantic's plugin search (`importlib.metadata`
reading every installed distribution's entry points)."""

PROBE = """
import json, sys
sys.argv = ["stagent", *sys.argv[1:]]
from stagent.cli.app import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print("MODULES=" + json.dumps(sorted(sys.modules)), file=sys.stderr)
sys.exit(code)
"""


def loaded_modules(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[set[str], str]:
    """The modules a real ``stagent ARGS`` process imported, and its stdout."""
    environment = {**os.environ, "STAGENT_HOME": str(home)}
    environment.pop("STAGENT_RAISE_ERRORS", None)
    environment.pop("PYDANTIC_DISABLE_PLUGINS", None)
    environment.update(env or {})
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES="))
    return set(json.loads(line.removeprefix("MODULES="))), done.stdout


def under(modules: set[str], packages: tuple[str, ...]) -> set[str]:
    """The members of ``modules`` that are, or are inside, one of ``packages``."""
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in packages)}


def test_help_lists_every_command_without_importing_any(tmp_path: Path) -> None:
    modules, out = loaded_modules(tmp_path, "--help")
    for name, _, summary in COMMANDS:
        assert f"{name} " in out and summary in out
    command_modules = {target.partition(":")[0] for _, target, _ in COMMANDS}
    assert not modules & command_modules
    assert not under(modules, HEAVY)


def test_help_shows_flags_without_type_placeholders(tmp_path: Path) -> None:
    _, out = loaded_modules(tmp_path, "--help")
    assert "<bool>" not in out
    assert "--version" in out


def test_task_list_loads_neither_the_engine_nor_migrations(tmp_path: Path, cli: Cli) -> None:
    cli.add_task("first")  # the home exists and is migrated, as after any earlier command
    modules, out = loaded_modules(cli.home, "task", "list")
    assert "first" in out
    assert not under(modules, NOT_FOR_LISTING)
    assert "stagent.cli.budget" not in modules  # other command groups stay unloaded


def test_pydantic_plugins_load_when_the_person_asks_for_them(cli: Cli) -> None:
    cli.add_task("first")
    modules, out = loaded_modules(cli.home, "task", "list", env={"PYDANTIC_DISABLE_PLUGINS": ""})
    assert "first" in out
    assert "importlib.metadata" in modules  # pydantic's own loader searched the entry points


def test_the_inbox_loads_no_orm_either(cli: Cli) -> None:
    cli.add_task("first")
    modules, out = loaded_modules(cli.home, "inbox")
    assert "Nothing is waiting for you." in out
    assert not under(modules, NOT_FOR_READING)


@pytest.mark.parametrize("command", ["show", "runs"])
def test_reading_one_task_loads_no_orm_either(cli: Cli, command: str) -> None:
    task_id = cli.add_task("first")
    modules, out = loaded_modules(cli.home, "task", command, task_id)
    assert ("first" if command == "show" else "has not run yet") in out
    assert not under(modules, NOT_FOR_LISTING)


def test_listing_projects_loads_no_orm_either(cli: Cli) -> None:
    assert cli("project", "add", "site").exit_code == 0
    cli.add_task("first", "--project", "site")
    modules, out = loaded_modules(cli.home, "project", "list")
    assert "site" in out
    assert not under(modules, NOT_FOR_LISTING)


def test_listing_the_ledger_loads_no_budgets_engine_or_schemas(cli: Cli) -> None:
    cli.add_task("first")
    modules, out = loaded_modules(cli.home, "ledger", "list")
    assert "No usage yet." in out
    unwanted = (
        "stagent.governance",
        "stagent.schemas",
        "dbos",
        "alembic",
        "fastapi",
        "rich.progress",
    )
    assert not under(modules, unwanted)


def test_importing_logs_loads_no_orm(cli: Cli, tmp_path: Path) -> None:
    """``ledger import`` on a migrated SQLite file books through plain ``sqlite3``: importing
    SQLAlchemy, its ORM and the tables was most of the command's start-up."""
    cli.add_task("first")
    transcript = tmp_path / "claude" / "projects" / "-src" / "session.jsonl"
    transcript.parent.mkdir(parents=True)
    usage = {"input_tokens": 3, "output_tokens": 120}
    message = {"id": "msg_1", "model": "claude-sonnet-4-5", "usage": usage}
    line = {"type": "assistant", "requestId": "req_1", "sessionId": "s1", "cwd": "/src",
            "timestamp": "2026-11-20T10:00:00Z", "message": message}  # fmt: skip
    transcript.write_text(json.dumps(line) + "\n")
    path = str(tmp_path / "claude")

    modules, out = loaded_modules(cli.home, "ledger", "import", "claude-code", "--path", path)

    assert "1 calls added" in out
    unwanted = tuple(name for name in NOT_FOR_READING if name != "stagent.ledger")
    assert not under(modules, (*unwanted, "stagent.store.tables", "stagent.workspace"))
    assert not under(modules, NOT_FOR_IMPORTING)
    again, out = loaded_modules(cli.home, "ledger", "import", "claude-code", "--path", path)
    assert "0 calls added" in out
    assert not under(again, (*NOT_FOR_IMPORTING, *NOT_FOR_A_RERUN)) - {PYDANTIC_PLUGIN_LOADER}
    as_json, out = loaded_modules(
        cli.home, "ledger", "import", "claude-code", "--path", path, "--json"
    )
    assert json.loads(out)[0]["calls_added"] == 0
    assert not under(as_json, (*NOT_FOR_IMPORTING, *NOT_FOR_A_RERUN, *LEAN, "rich")) - {
        PYDANTIC_PLUGIN_LOADER  # `startup`'s stand-in, not pydantic
    }
    line["message"] = {**message, "id": "msg_2"}
    with transcript.open("a") as handle:
        handle.write(json.dumps(line) + "\n")
    more, out = loaded_modules(cli.home, "ledger", "import", "claude-code", "--path", path)
    assert "1 calls added" in out
    # priced with the table the first import kept in the home: no YAML, no pydantic; a Claude
    # Code line needs neither the event types nor the Codex parser, its row no orjson
    assert not under(more, (*NOT_FOR_IMPORTING, *NOT_FOR_NEW_LINES)) - {PYDANTIC_PLUGIN_LOADER}
    line["message"] = {**message, "id": "msg_3"}
    with transcript.open("a") as handle:
        handle.write(json.dumps(line) + "\n")
    lean, out = loaded_modules(
        cli.home, "ledger", "import", "claude-code", "--path", path, "--json"
    )
    assert json.loads(out)[0]["calls_added"] == 1
    unwanted = (*NOT_FOR_IMPORTING, *NOT_FOR_NEW_LINES, *LEAN, "rich")
    assert not under(lean, unwanted) - {PYDANTIC_PLUGIN_LOADER}


NOT_FOR_IMPORTING = ("typer", "click", "stagent.cli.root", "stagent.domain.runs")
"""What ``ledger import`` on a ready SQLite file never loads: Typer and Click (the express
lane, `stagent.cli.express`, reads its command line), the run options' pydantic models."""
NOT_FOR_A_RERUN = ("pydantic", "yaml", "msgspec", "stagent.ledger.prices", "tomllib")
"""Nor, with nothing new to read, the price table (YAML and pydantic) or the parsers."""
NOT_FOR_NEW_LINES = (
    "pydantic", "yaml", "orjson", "stagent.domain.events", "stagent.ledger.importers.codex",
)  # fmt: skip
"""Nor, with a few new Claude Code lines, the table's YAML and pydantic, the event types, the
Codex parser or orjson (msgspec parses the lines and renders their rows)."""
LEAN = (
    "typing_extensions", "inspect", "dataclasses", "stagent.domain.errors", "signal", "pickle",
    "platform",
)  # fmt: skip
"""Nor, printing JSON (Rich, for people, loads `dataclasses` and `inspect` itself), msgspec's
``typing_extensions`` with the `inspect` it loads (`stagent.lean`), `dataclasses` (the error
types load for an error), `signal` (to end a failed reader), `pickle` (the cached price table
loads through its C half, `_pickle`) or `platform` (msgspec's `uuid` asks it one thing)."""


def test_reading_an_unmigrated_home_still_migrates_it(tmp_path: Path) -> None:
    modules, out = loaded_modules(tmp_path / "fresh", "task", "list")
    assert "alembic" in modules  # there was something to migrate
    assert "No tasks found" in out


@pytest.mark.parametrize("entry", [CommandEntry(*row) for row in COMMANDS], ids=lambda e: e.name)
def test_each_summary_is_the_commands_own_first_help_line(entry: CommandEntry) -> None:
    command = load_command(entry)
    assert command.name == entry.name
    first_line = (command.help or "").strip().splitlines()[0]
    assert first_line == entry.summary


def test_the_root_group_knows_every_command_once() -> None:
    names = [entry.name for entry in RootGroup.entries]
    assert len(names) == len(set(names))
    assert names == [row[0] for row in COMMANDS]


def test_an_unknown_command_is_a_usage_error(cli: Cli) -> None:
    result = cli("tsak", "list")
    assert result.exit_code == 2
    assert "No such command 'tsak'" in result.output


@pytest.mark.parametrize("module", ["stagent", "stagent.cli"])
def test_python_dash_m_runs_the_same_command(tmp_path: Path, module: str) -> None:
    """``python -m stagent.cli`` was "a package and cannot be directly executed"."""
    env = {**os.environ, "STAGENT_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-m", module, "task", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("No tasks found. Create one with stagent task add TITLE.")
    helped = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120
    )
    assert helped.stdout.startswith(f"Usage: python -m {module} [OPTIONS] COMMAND")
