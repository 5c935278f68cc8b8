"""The Board's reads on both backends: every status counted, each status's newest tasks in one
statement, keyset pages (ties in creation time go by id) that reach every task once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert
from tests.store.test_ledger_task_reads import selects_while

from stagent.domain.board import Count
from stagent.store import board
from stagent.store.database import Store
from stagent.store.tables import TaskRow

NOW = datetime.now(UTC).replace(microsecond=0)
STATUSES = ("completed", "completed", "failed", "planned", "running")


def fill(store: Store, count: int) -> list[str]:
    rows = [
        {"id": f"tsk_b{n:05d}", "title": f"t{n}", "status": STATUSES[n % 5], "runtime": "scripted",
         "options": {}, "created_at": NOW - timedelta(seconds=n // 4),
         "updated_at": NOW, "deleted_at": NOW if n == 7 else None}
        for n in range(count)
    ]  # fmt: skip
    with store.write() as session:
        session.execute(insert(TaskRow), rows)
    return [r["id"] for r in rows if r["deleted_at"] is None]


def test_counts_newest_and_pages_reach_every_task(store: Store) -> None:
    ids = fill(store, 1_201)
    with store.read() as session:
        assert board.counts(session) == {
            "completed": Count(481), "failed": Count(239), "planned": Count(240),
            "running": Count(240),
        }  # fmt: skip
        newest = board.newest_by_status(session, 30, hide_steps=True)
        assert len(newest) == 4 * 30
        assert [t.id for t in newest if t.status.value == "failed"][:2] == [
            "tsk_b00002",
            "tsk_b00012",
        ]
        seen: list[str] = []
        after = None
        while True:
            found, left = board.page(session, None, after, 100, hide_steps=False)
            seen += [t.id for t in found]
            assert left == len(ids) - len(seen)
            if not left:
                break
            after = board.Cursor(found[-1].created_at or NOW, found[-1].id)
        assert seen == ids  # newest first, then by id: here the ids' own order
        failed, left = board.page(session, ["failed"], None, 1_000, hide_steps=True)
        assert (len(failed), left) == (239, 0)
    assert selects_while(store, lambda: _newest(store)) == 1


def _newest(store: Store) -> None:
    with store.read() as session:
        board.newest_by_status(session, 50, hide_steps=False)
