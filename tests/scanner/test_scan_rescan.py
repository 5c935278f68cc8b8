"""What a re-scan notices without relying on a newer mtime: stats compared on (size, mtime,
ctime, inode), racy stats (changed within `RACY_NS` of the scan) read again, whole trees added,
removed or moved; files with the same bytes parsed once; the cache bounded by the tree."""

from __future__ import annotations

import gc
import os
import shutil
import time
from pathlib import Path

import pytest
from scantools import Scanned

from stagent.scanner import Locations, Scanner, claude, fscache, markdown
from stagent.scanner.collect import FileContext
from stagent.scanner.fscache import RACY_NS, FileStat, FsCache
from stagent.scanner.report import ScanReport
from stagent.testing.scan_trees import SKILL_RELEASE, write


def _settled_clock() -> int:
    """A clock far enough ahead that every stat taken now counts as settled."""
    return time.time_ns() + 10 * RACY_NS


def _settle(scanned: Scanned) -> None:
    """Give the scanner a cache whose clock sees every file as settled, and scan once."""
    scanned.scanner.cache = FsCache(clock=_settled_clock)
    scanned.rescan()


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths read from now on (files that exist; a missing one costs one failed open)."""
    reads: list[str] = []
    real = FsCache.read

    def counting(self: FsCache, path: str) -> tuple[FileStat, bytes] | None:
        got = real(self, path)
        if got is not None:
            reads.append(path)
        return got

    monkeypatch.setattr(FsCache, "read", counting)
    return reads


def _names(report: ScanReport, project: Path) -> set[tuple[str, str, str]]:
    """A project's artifacts from its own folder (not its local-scope MCP servers, which
    ``~/.claude.json`` keys by the project's path)."""
    return {
        (a.tool, a.category, a.name)
        for a in report.artifacts
        if a.project == str(project) and a.scope != "local"
    }


def test_a_settled_unchanged_tree_is_not_read_again(
    clean: Scanned, monkeypatch: pytest.MonkeyPatch
) -> None:
    _settle(clean)
    reads = _count_reads(monkeypatch)
    again = clean.rescan()
    assert reads == []
    assert again.artifacts == clean.scanner.scan([clean.work]).artifacts


def test_a_same_size_edit_with_its_mtime_put_back_is_seen(clean: Scanned) -> None:
    """Size and mtime as before (``touch -r``, ``cp -p``, a tool restoring timestamps): the
    ctime still moves, and no program can set it."""
    _settle(clean)
    settings = clean.work / "webapp" / ".claude" / "settings.json"
    before = settings.stat()
    text = settings.read_text().replace('"Bash(npm run lint)"', '"Bash(*)"           ')
    settings.write_text(text)
    os.utime(settings, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert settings.stat().st_size == before.st_size
    assert [f.kind for f in clean.rescan().findings] == ["broad-permission"]


def test_a_file_replaced_by_a_rename_is_seen(clean: Scanned, tmp_path: Path) -> None:
    """An editor's atomic save: a new file (another inode) renamed over the old one."""
    _settle(clean)
    skill = clean.work / "api" / ".agents" / "skills" / "openapi" / "SKILL.md"
    before = skill.stat()
    text = skill.read_text()
    replacement = tmp_path / "SKILL.md.tmp"
    replacement.write_text(text.replace("name: openapi", "name: openapX"))
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    replacement.replace(skill)
    assert ("codex", "skill", "openapX") in _names(clean.rescan(), clean.work / "api")


def test_making_a_hook_script_executable_is_seen(clean: Scanned) -> None:
    """chmod changes no byte and no mtime, only the ctime."""
    _settle(clean)
    script = clean.work / "webapp" / ".claude" / "hooks" / "format.sh"

    def executable() -> object:
        hooks = [a for a in clean.rescan().artifacts if a.path == str(script)]
        return hooks[0].metadata["executable"]

    assert executable() is True
    script.chmod(0o644)
    assert executable() is False


def test_a_racy_file_is_read_again_even_when_its_stat_looks_unchanged(
    clean: Scanned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file edited within the same clock tick as the scan that read it keeps size, mtime and
    ctime: while its stat is that recent, every scan reads it again (git's racy entries)."""
    settings = clean.work / "webapp" / ".claude" / "settings.json"
    frozen = {str(settings): FileStat(*_stat_of(settings))}
    real_stat = FsCache.stat

    def stale_stat(self: FsCache, path: str) -> FileStat | None:
        return frozen.get(path) or real_stat(self, path)

    monkeypatch.setattr(FsCache, "stat", stale_stat)
    clean.rescan()
    text = settings.read_text().replace('"Bash(npm run lint)"', '"Bash(*)"            ')
    settings.write_text(text)
    frozen_read = FsCache.read

    def stale_read(self: FsCache, path: str) -> tuple[FileStat, bytes] | None:
        got = frozen_read(self, path)
        if got is not None and path in frozen:
            return frozen[path], got[1]
        return got

    monkeypatch.setattr(FsCache, "read", stale_read)
    assert [f.kind for f in clean.rescan().findings] == ["broad-permission"]


def test_an_unchanged_racy_file_is_read_again_but_its_parse_reused(
    clean: Scanned, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean.scanner.cache = FsCache(clock=lambda: 0)  # every stat is racy
    first = clean.rescan()
    reads = _count_reads(monkeypatch)
    again = clean.rescan()
    assert set(reads) >= {a.path for a in first.artifacts}
    assert all(a is b for a, b in zip(first.artifacts, again.artifacts, strict=True))


def _stat_of(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def test_a_removed_skill_folder_and_a_new_one_are_noticed(clean: Scanned) -> None:
    _settle(clean)
    webapp = clean.work / "webapp"
    shutil.rmtree(webapp / ".claude" / "skills" / "release")
    write(
        webapp / ".claude" / "skills" / "deploy" / "SKILL.md",
        SKILL_RELEASE.replace("release", "deploy"),
    )
    names = _names(clean.rescan(), webapp)
    assert ("claude-code", "skill", "deploy") in names
    assert ("codex", "skill", "release") in names  # the Codex copy, no longer shared
    assert ("shared", "skill", "release") not in names


def test_a_new_project_and_a_removed_one_are_noticed(clean: Scanned) -> None:
    _settle(clean)
    write(clean.work / "cli" / ".git" / "HEAD", "ref: refs/heads/main\n")
    write(clean.work / "cli" / "AGENTS.md", "# cli\n")
    shutil.rmtree(clean.work / "api")
    report = clean.rescan()
    assert [p.name for p in report.projects] == ["webapp", "cli"] or sorted(
        p.name for p in report.projects
    ) == ["cli", "webapp"]
    assert not any(a.project == str(clean.work / "api") for a in report.artifacts)
    assert _names(report, clean.work / "cli") == {("codex", "instruction", "AGENTS.md")}


def test_a_moved_project_is_reported_at_its_new_place(clean: Scanned) -> None:
    _settle(clean)
    old = _names(clean.report, clean.work / "webapp")
    (clean.work / "webapp").rename(clean.work / "frontend")
    report = clean.rescan()
    assert _names(report, clean.work / "frontend") == old
    assert not any(str(clean.work / "webapp") in a.path for a in report.artifacts)
    moved = [a for a in report.artifacts if a.project == str(clean.work / "frontend")]
    assert all(a.path.startswith(str(clean.work / "frontend") + "/") for a in moved)


def test_two_projects_swapped_by_renames_are_each_read_again(clean: Scanned) -> None:
    """Same paths, other inodes: nothing cached under the old ones is trusted."""
    _settle(clean)
    webapp, api = (
        _names(clean.report, clean.work / "webapp"),
        _names(clean.report, clean.work / "api"),
    )
    (clean.work / "webapp").rename(clean.work / "swap")
    (clean.work / "api").rename(clean.work / "webapp")
    (clean.work / "swap").rename(clean.work / "api")
    report = clean.rescan()
    assert _names(report, clean.work / "api") == webapp
    assert _names(report, clean.work / "webapp") == api


def _copies(root: Path, count: int) -> Path:
    for n in range(count):
        p = root / "work" / f"p{n}"
        write(p / ".git" / "HEAD", "ref: refs/heads/main\n")
        write(p / ".claude" / "skills" / "release" / "SKILL.md", SKILL_RELEASE)
        write(p / ".mcp.json", {"mcpServers": {"gh": {"command": "npx", "env": {"T": "${T}"}}}})
        write(p / "CLAUDE.md", "# notes\n")
    return root / "work"


def test_copies_of_a_file_parse_once_and_match_a_fresh_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The content memo re-stamps path, project, id and time: each copy reads as if it were
    the only one, and the parser runs once for all of them."""
    work = _copies(tmp_path, 3)
    loc = Locations.from_env({"HOME": str(tmp_path / "home")})
    together = Scanner(loc).scan([work])
    for n in range(3):
        alone = Scanner(loc).scan([work / f"p{n}"])
        mine = [a for a in together.artifacts if a.project == str(work / f"p{n}")]
        assert [a.model_dump() for a in mine] == [a.model_dump() for a in alone.artifacts]
    assert len({a.id for a in together.artifacts}) == len(together.artifacts)
    parsed: list[str] = []
    real_skill = markdown.skill

    def skill(ctx: FileContext) -> None:
        parsed.append(ctx.path)
        real_skill(ctx)

    monkeypatch.setattr(claude.md, "skill", skill)
    Scanner(loc).scan([work])
    assert len(parsed) == 1


def test_the_cache_keeps_only_the_tree_it_last_scanned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fscache, "TRIM_SLACK", 0)
    big, small = _copies(tmp_path / "big", 40), _copies(tmp_path / "small", 1)
    scanner = Scanner(Locations.from_env({"HOME": str(tmp_path / "home")}))
    scanner.scan([big])
    dirs, files, memo = scanner.cache.sizes()
    assert files >= 40 * 3
    scanner.scan([small])
    scanner.scan([small])
    small_dirs, small_files, small_memo = scanner.cache.sizes()
    assert small_files <= 6 and small_dirs < dirs / 3 and small_memo <= small_files


def test_user_level_changes_are_seen_by_a_rescan(clean: Scanned) -> None:
    """The user level is replayed like a project while none of its inputs changed."""
    _settle(clean)
    home = clean.root / "home"
    skills = home / ".agents" / "skills"
    write(skills / "triage" / "SKILL.md", SKILL_RELEASE.replace("release", "triage"))
    user = {a.name for a in clean.rescan().artifacts if a.project is None}
    assert "triage" in user
    agents = home / ".claude" / "agents"
    first = sorted(agents.iterdir())[0]
    first.write_text(first.read_text().replace("description:", "descriptio:"))
    kinds = [(f.kind, Path(f.path).name) for f in clean.rescan().findings]
    assert ("missing-field", first.name) in kinds


def test_user_level_follows_the_locations_of_each_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scanner without fixed locations reads them from the environment on every scan."""
    for name in ("one", "two"):
        write(
            tmp_path / name / "skills" / name / "SKILL.md", SKILL_RELEASE.replace("release", name)
        )
    (tmp_path / "work").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    scanner = Scanner()
    seen: list[set[str]] = []
    for name in ("one", "two", "one"):
        monkeypatch.setenv("CODEX_HOME", str(tmp_path / name))
        seen.append({a.name for a in scanner.scan([tmp_path / "work"]).artifacts})
    assert seen == [{"one"}, {"two"}, {"one"}]


def test_a_scan_leaves_the_garbage_collector_as_it_found_it(clean: Scanned) -> None:
    assert gc.isenabled()
    clean.rescan()
    assert gc.isenabled()
    gc.disable()
    try:
        clean.rescan()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_folder_missing_from_a_listed_grandparent_costs_no_system_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp_path = tmp_path / "tree"
    tmp_path.mkdir()
    cache = FsCache()
    cache.begin()
    assert cache.listing(str(tmp_path)) == {}
    stats: list[str] = []
    real_stat = os.stat

    def counting(path: str, *args: object, **kwargs: object) -> os.stat_result:
        stats.append(path)
        return real_stat(path)

    monkeypatch.setattr(fscache.os, "stat", counting)
    assert cache.listing(str(tmp_path / "packages" / "skills")) is None
    assert cache.listing(str(tmp_path / "packages")) is None
    assert stats == []
    write(tmp_path / "packages" / "skills" / "x" / "SKILL.md", SKILL_RELEASE)
    cache.begin()
    cache.listing(str(tmp_path))
    assert cache.listing(str(tmp_path / "packages" / "skills")) == {"x": True}
