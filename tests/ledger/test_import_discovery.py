"""Which Claude Code transcripts an import reads, and in which order: what ``Path.rglob`` with
a sort by path finds (the reference), spelled as `pathlib` spells paths, main transcripts
before subagent files."""

from __future__ import annotations

from pathlib import Path

import pytest

from stagent.ledger.importers import discovery


def reference(roots: list[Path]) -> list[str]:
    """The files as `discovery.claude_code_files` found them with ``rglob`` and `Path` sorting."""
    found: set[Path] = set()
    for root in roots:
        base = root / "projects" if (root / "projects").is_dir() else root
        if base.is_dir():
            found.update(p for p in base.rglob("*.jsonl") if p.is_file())
        elif base.is_file() and base.suffix == ".jsonl":
            found.add(base)
    return [str(p) for p in sorted(found, key=lambda p: ("subagents" in p.parts, p))]


def tree(root: Path) -> None:
    """Names that sort differently as text and as parts (``a-b`` vs ``a/``), a folder named
    ``*.jsonl``, subagent files, links to a file and to a folder, files that do not count."""
    for rel in (
        "projects/a/s1.jsonl",
        "projects/a-b/s2.jsonl",
        "projects/a.b/s3.jsonl",
        "projects/a/s1/subagents/agent-1.jsonl",
        "projects/b/x.jsonl/inner.jsonl",
        "projects/b/.hidden.jsonl",
        "projects/b/notes.txt",
        "projects/b/s4.JSONL",
        "outside/linked.jsonl",
        "outside/dir/deep.jsonl",
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("{}\n")
    (root / "projects/b/link.jsonl").symlink_to(root / "outside/linked.jsonl")
    (root / "projects/b/dirlink").symlink_to(root / "outside/dir")
    (root / "projects/b/broken.jsonl").symlink_to(root / "nowhere.jsonl")


@pytest.mark.parametrize("spelling", ["absolute", "relative", "dot", "trailing-slash"])
def test_transcripts_are_what_rglob_finds_in_its_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    tree(tmp_path / "config")
    monkeypatch.chdir(tmp_path)
    root = {
        "absolute": tmp_path / "config",
        "relative": Path("config"),
        "dot": Path(),
        "trailing-slash": Path("config/projects/"),
    }[spelling]
    if spelling == "dot":
        monkeypatch.chdir(tmp_path / "config")
    found = discovery.claude_code_files([root, root])
    assert found == reference([root])
    assert found[-1].endswith("agent-1.jsonl")  # subagent files last
    names = [Path(p).name for p in found]
    assert "inner.jsonl" in names and "link.jsonl" in names
    assert "deep.jsonl" not in names and "broken.jsonl" not in names and "s4.JSONL" not in names


def test_a_single_file_root_is_read_as_given(tmp_path: Path) -> None:
    log = tmp_path / "one.jsonl"
    log.write_text("{}\n")
    assert discovery.claude_code_files([log]) == [str(log)] == reference([log])
