"""`profile list`, `blueprint list` and `pricing list` in a real process at 80 and 120 columns:
no word is cut ("anthrop…") or folded ("regio/nal"); a narrow terminal drops low-value columns
and says which and where to see them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def stagent(home: Path, columns: int, *args: str) -> str:
    """The stdout of a real ``stagent --home HOME ARGS`` at ``columns`` columns."""
    env = {**os.environ, "STAGENT_HOME": str(home), "COLUMNS": str(columns)}
    env.pop("STAGENT_RAISE_ERRORS", None)
    done = subprocess.run(
        [sys.executable, "-m", "stagent", "--home", str(home), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def words_of(values: list[str]) -> set[str]:
    return {word.strip(",") for value in values for word in value.split()}


def assert_whole(output: str, words: set[str], columns: int) -> None:
    """Every word is on the page whole, and no line is wider than the terminal."""
    assert "…" not in output
    seen = {token.strip(",") for token in output.split()}
    assert words <= seen, sorted(words - seen)
    assert max(len(line.rstrip()) for line in output.splitlines()) <= columns


@pytest.mark.parametrize("columns", [80, 120])
def test_profile_list_keeps_every_word_whole(tmp_path: Path, columns: int) -> None:
    listed = json.loads(stagent(tmp_path, columns, "profile", "list", "--json"))
    out = stagent(tmp_path, columns, "profile", "list")
    runtimes = [r for p in listed for r in p["runtimes"]]
    assert_whole(out, words_of([p["name"] for p in listed] + runtimes + ["anthropic"]), columns)
    assert [p["id"] for p in listed] == [
        line.split()[0]
        for line in out.splitlines()
        if line.split()[:1] in ([p["id"]] for p in listed)
    ]
    footer = out.splitlines()[-1]
    if columns == 80:
        assert footer == (
            f"{len(listed)} profiles (tools not shown at this width: `stagent profile show ID`)"
        )
    else:
        assert footer == f"{len(listed)} profiles" and " tools " in out


@pytest.mark.parametrize("columns", [80, 120])
def test_blueprint_list_keeps_every_word_whole(tmp_path: Path, columns: int) -> None:
    listed = json.loads(stagent(tmp_path, columns, "blueprint", "list", "--json"))
    out = stagent(tmp_path, columns, "blueprint", "list")
    names = [b["name"] for b in listed] + [b["pattern"] for b in listed]
    assert_whole(out, words_of(names) | {"planner-executor", "checkpoint"}, columns)
    narrow = "scope, domain not shown at this width: `stagent blueprint show ID`"
    assert (narrow in out) is (columns == 80)


@pytest.mark.parametrize("columns", [80, 120])
def test_pricing_list_keeps_every_word_whole(tmp_path: Path, columns: int) -> None:
    out = stagent(tmp_path, columns, "pricing", "list")
    assert_whole(out, {"claude-sonnet-4-5", "gpt-5.4-mini", "unpriced", "history."}, columns)
    if columns == 80:
        assert "Modes not shown at this width: `stagent pricing show MODEL`." in out
    else:
        assert "regional ×1.1" in out and "regio\n" not in out
