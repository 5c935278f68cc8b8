"""`upgrade_to_head` skips Alembic when the database is already at the newest revision."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from stagent.store import migrate
from stagent.store.migrate import (
    alembic_config,
    database_revisions,
    script_heads,
    upgrade_to_head,
)
from stagent.workspace import Workspace


def test_heads_read_from_the_files_match_alembics(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    alembic_heads = ScriptDirectory.from_config(alembic_config(engine)).get_heads()
    assert script_heads() == frozenset(alembic_heads)


def test_a_database_behind_the_newest_revision_is_upgraded(workspace: Workspace) -> None:
    engine = workspace.store.engine
    (head,) = script_heads() or {""}
    command.downgrade(alembic_config(engine), "-1")
    assert database_revisions(engine) != {head}
    upgrade_to_head(engine)
    assert database_revisions(engine) == {head}
    assert workspace.schema_revision() == head


def test_a_database_at_the_newest_revision_is_left_to_itself(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("Alembic ran although nothing was pending")

    monkeypatch.setattr(command, "upgrade", refuse)
    upgrade_to_head(workspace.store.engine)  # no error: the shortcut answered


def test_an_unreadable_revision_file_hands_the_decision_to_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "0001_x.py").write_text("revision = make_id()\ndown_revision = None\n")
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", tmp_path / "migrations")
    assert script_heads() is None


def test_merge_revisions_count_both_parents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "a.py").write_text('revision: str = "a"\ndown_revision: str | None = None\n')
    (versions / "b.py").write_text('revision = "b"\ndown_revision = "a"\n')
    (versions / "c.py").write_text('revision = "c"\ndown_revision = "a"\n')
    (versions / "d.py").write_text('revision = "d"\ndown_revision = ("b", "c")\n')
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", tmp_path / "migrations")
    assert script_heads() == {"d"}
    (versions / "d.py").unlink()
    assert script_heads() == {"b", "c"}


def test_a_never_migrated_database_has_no_revision(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    assert database_revisions(engine) == frozenset()


def test_heads_are_read_the_same_from_many_threads_at_once() -> None:
    # Workers open workspaces from threads; the files are read without Python's parser
    # (CPython 3.11's can raise SystemError there), so every thread sees the one head.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        seen = set(pool.map(lambda _: script_heads(), range(64)))
    assert len(seen) == 1 and None not in seen


def test_quoted_lists_and_trailing_comments_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "a.py").write_text("revision = 'a'  # the first\ndown_revision = None\n")
    (versions / "b.py").write_text('revision = "b"\ndown_revision = "a"\n')
    (versions / "c.py").write_text('revision = "c"\ndown_revision = ["a", "b"]  # merge\n')
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", tmp_path / "migrations")
    assert script_heads() == {"c"}


def test_revision_fields_past_the_first_lines_are_still_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the fields are read from a file's first kilobytes when both are there (Alembic's
    # template), else from the whole file
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    filler = "# a long migration\n" * 400
    (versions / "a.py").write_text(f'revision = "a"\ndown_revision = None\n{filler}')
    (versions / "b.py").write_text(f'"""{"x" * 5000}"""\nrevision = "b"\ndown_revision = "a"\n')
    (versions / "c.py").write_text(f'revision = "c"\n{filler}down_revision = "b"\n')
    cut = "#" * (migrate.HEAD_BYTES - len('revision = "d"\n') - 8)
    (versions / "d.py").write_text(f'revision = "d"\n{cut}\ndown_revision = "c"\n{filler}')
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", tmp_path / "migrations")
    assert script_heads() == {"d"}
