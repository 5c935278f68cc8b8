"""Fixtures for CLI tests: a runner bound to a throwaway home, and scenario files."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from clitools import FAILING_SCENARIO, HELLO_SCENARIO, Cli
from typer.testing import CliRunner

from stagent.workspace import Workspace


@pytest.fixture(autouse=True)
def _raise_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bugs surface as tracebacks in tests (the internal-error test turns this off)."""
    monkeypatch.setenv("STAGENT_RAISE_ERRORS", "1")


@pytest.fixture(autouse=True)
def _dbos_logs_to_real_stderr() -> None:
    """DBOS attaches a console handler to the stderr of the moment it first launches.

    Under `CliRunner` that is a capture stream closed after the invocation, so the next launch
    would write to a closed file. Give DBOS a handler on the process's real stderr first.
    """
    logger = logging.getLogger("dbos")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.__stderr__)
        handler.name = "__dbos_console_log_handler__"
        logger.addHandler(handler)
        logger.propagate = False


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A CLI runner whose workspace lives under ``tmp_path``."""
    return Cli(home=tmp_path / "home", runner=CliRunner())


@pytest.fixture
def scenario_file(tmp_path: Path) -> Callable[..., Path]:
    """Write scenario text to a file and return its path."""

    def write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def hello_scenario(scenario_file: Callable[..., Path], cli: Cli) -> Path:
    """A short scenario that completes with result "Done.".

    Its Write is allowed by a saved rule in the CLI's workspace (no rule: it would wait in the
    inbox for a person).
    """
    with Workspace.temporary(cli.home) as ws:
        ws.open().rules.add("Write")
    return scenario_file(HELLO_SCENARIO, "hello.yaml")


@pytest.fixture
def failing_scenario(scenario_file: Callable[..., Path]) -> Path:
    """A scenario whose run fails with "simulated provider error"."""
    return scenario_file(FAILING_SCENARIO, "failing.yaml")
