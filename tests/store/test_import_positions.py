"""Read positions of imported log files are stored many at once (one upsert): new files are
added, files read further move, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stagent.store import ledger_imports as imports
from stagent.workspace import Workspace


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ws(request: pytest.FixtureRequest) -> Iterator[Workspace]:
    yield request.getfixturevalue("workspace" if request.param == "sqlite" else "pg_workspace")


def test_many_positions_are_added_and_moved_in_one_go(ws: Workspace) -> None:
    source = "import:codex"
    first = [
        imports.FileState("/logs/a.jsonl", source, 100, "4:aa", 3, {"model": "gpt-5.4"}),
        imports.FileState("/logs/b.jsonl", source, 7, "4:bb", 1, {}),
    ]
    with ws.store.write() as session:
        imports.save_file_states(session, first)
    moved = [
        imports.FileState("/logs/a.jsonl", source, 250, "4:aa", 9, {"model": "gpt-5.5"}),
        imports.FileState("/logs/c.jsonl", source, 12, "4:cc", 2, {}),
    ]
    with ws.store.write() as session:
        imports.save_file_states(session, moved)
        imports.save_file_states(session, [])
    with ws.store.read() as session:
        states = imports.file_states(session, source)
    assert states == {
        "/logs/a.jsonl": moved[0],
        "/logs/b.jsonl": first[1],
        "/logs/c.jsonl": moved[1],
    }
