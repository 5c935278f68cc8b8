"""The scanner's fast paths give what the slow, general ones give: front matter read without
the YAML parser, artifacts built without validation, files read with open/fstat/read/close."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from stagent.scanner import Locations, Scanner
from stagent.scanner.fscache import FileStat, FsCache
from stagent.scanner.parse import flat_mapping, front_matter, parse_toml, simple_mapping
from stagent.scanner.report import Artifact, trusted
from stagent.testing.scan_trees import write

EDGE_BLOCKS = [
    "name: a\ndescription: b\n",
    "description: first\n  second\n  third\n",
    "description: first\n\n  second\n",  # a blank line folds to a newline, not a space
    "a: +1\n",
    "b: .5\n",
    "c: .inf\n",
    "d: -1\n",
    "e: 0x1F\n",
    "f: 1_000\n",
    "yes: x\n",
    "on: push\n",
    "null: x\n",
    "123: x\n",
    "g: <<\n",
    "h: =\n",
    "i: ~\n",
    "j: Null\n",
    "k: TRUE\n",
    "l: off\n",
    "m: a:b\n",
    "n: a # comment\n",
    "o: a#b\n",
    "p: it's fine\n",
    'q: say "hi"\n',
    "r: trailing \n",
    "s: tab\there\n",
    "t: ends:\n",
    "u: 50%\n",
    "v: a, b, c\n",
    "w: Bash(git *), Read\n",
    "x: [a, b]\n",
    "y:\n  - a\n  - b\n",
    "y:\n  - a\n\n  - b\n",
    "z: 2026-01-01\n",
    "A: @at\n",
    "B: `tick`\n",
    "C: !tag\n",
    "D: &anchor x\n",
    "E: *alias\n",
    "F: {a: b}\n",
    "G: |\n  block\n",
    "H: >\n  folded\n",
    "I: 'quoted'\n",
    '"J": x\n',
    "K: x\r\n",
    "L: ünïcödé wörds\n",
    "L2: ;\xa0\n",  # YAML keeps a trailing no-break space (str.strip() would drop it)
    "L3: x\n  y\xa0\n",
    "M: x\n  - not a list\n",
    "N: x\n  # not a comment\n",
    "_under: x\n",
    "dash-key: x\n",
]


@pytest.mark.parametrize("block", EDGE_BLOCKS)
def test_fast_readers_agree_with_pyyaml_or_step_aside(block: str) -> None:
    try:
        expected = yaml.safe_load(block)
    except yaml.YAMLError:
        expected = "error"
    for reader in (flat_mapping, simple_mapping):
        got = reader(block)
        if got is not None:
            assert got == expected, (reader.__name__, block)


def test_the_flat_reader_takes_the_common_shapes() -> None:
    assert flat_mapping("name: a\ndescription: Does a.\n  And more.\n") == {
        "name": "a",
        "description": "Does a. And more.",
    }
    assert flat_mapping("tools: Read, Grep, Bash(git diff *)\nmodel: sonnet\n") == {
        "tools": "Read, Grep, Bash(git diff *)",
        "model": "sonnet",
    }
    assert flat_mapping("") == {}
    assert flat_mapping("paths:\n  - src/**\n") is None  # lists go to the general reader


WORDS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)
KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,12}", fullmatch=True)
KEYS.validate()
"""Built now, at collection: `from_regex` imports Hypothesis's regex module on first use, and
pytest rewrites that import; inside a test, with an earlier test's threads still running, the
rewrite's `ast.parse` can hit CPython 3.11's spurious "AST constructor recursion depth
mismatch" (python/cpython#106905)."""


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(KEYS, WORDS), min_size=1, max_size=5))
def test_generated_blocks_read_as_pyyaml_reads_them(pairs: list[tuple[str, str]]) -> None:
    block = "".join(f"{k}: {v}\n" for k, v in pairs)
    try:
        expected = yaml.safe_load(block)
    except yaml.YAMLError:
        expected = "error"
    for reader in (flat_mapping, simple_mapping):
        got = reader(block)
        if got is not None:
            assert got == expected, (reader.__name__, block)


def test_front_matter_fences() -> None:
    assert front_matter("---\n---\nbody\n").meta == {}
    assert front_matter("---\n---\nbody\n").body == "body\n"
    assert front_matter("----\nname: a\n---\n").present is False
    assert front_matter("--- \nname: a\n--- \nbody").meta == {"name": "a"}
    fm = front_matter("---\nname: a\ndescription: x --- y\n---\n\nbody\n")
    assert fm.meta == {"name": "a", "description": "x --- y"}
    assert fm.body_line == 5
    unclosed = front_matter("---\nname: a\n----\n")
    assert unclosed.error is not None and unclosed.error.line == 1


def test_a_toml_error_at_the_end_points_at_the_last_line() -> None:
    _, error = parse_toml('name = "x"\nbody = """\nunclosed\n')
    assert error is not None and error.line == 3
    _, error = parse_toml("a = 1\nb = \n")
    assert error is not None and error.line == 2


def test_trusted_artifacts_equal_validated_ones() -> None:
    fields = {
        "id": "0123456789abcdef",
        "tool": "codex",
        "category": "skill",
        "scope": "user",
        "project": None,
        "name": "lint",
        "path": "/h/.agents/skills/lint/SKILL.md",
        "line": None,
        "content_hash": "0" * 64,
        "size": 10,
        "modified_at": datetime(2026, 1, 1, tzinfo=UTC),
        "metadata": {"description": "Lints."},
        "shared_with": [],
        "drift": False,
    }
    fast = trusted(Artifact, dict(fields))
    slow = Artifact.model_validate(fields)
    assert fast == slow
    assert fast.model_dump_json() == slow.model_dump_json()
    copied = fast.model_copy(update={"tool": "shared", "drift": True})
    assert (copied.tool, copied.drift, fast.tool) == ("shared", True, "codex")


def test_read_gives_size_mtime_and_bytes(tmp_path: Path) -> None:
    path = write(tmp_path / "a.md", "hello\n")
    got = FsCache().read(str(path))
    assert got is not None
    stat, data = got
    assert data == b"hello\n"
    st = path.stat()
    assert stat == FileStat(6, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    assert FsCache().read(str(tmp_path / "missing.md")) is None
    assert FsCache().read(str(tmp_path)) is None  # a folder is not a file
    assert FsCache().stat(str(tmp_path)) is None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_where_a_file_should_be_never_hangs_the_scan(tmp_path: Path) -> None:
    project = tmp_path / "work" / "p"
    write(project / "AGENTS.md", "# p\n")
    os.mkfifo(project / ".mcp.json")
    (project / "CLAUDE.md").mkdir()  # a folder named like a file
    report = Scanner(Locations.from_env({"HOME": str(tmp_path / "home")})).scan([project])
    assert [a.name for a in report.artifacts] == ["AGENTS.md"]
    assert report.findings == []


def test_an_unreadable_file_is_skipped(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    project = tmp_path / "p"
    write(project / "AGENTS.md", "# p\n")
    secret = write(project / "CLAUDE.md", "# private\n")
    secret.chmod(0)
    report = Scanner(Locations.from_env({"HOME": str(tmp_path / "home")})).scan([project])
    assert [a.name for a in report.artifacts] == ["AGENTS.md"]
