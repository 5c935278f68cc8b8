"""The reads the Costs, Monitor and Home pages make about many tasks at once: titles and
attribution of thousands of tasks in a fixed number of statements, each active agent's spend in
one, and Home's counts of every task (not the newest 500). On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, insert

from stagent.store import ledger as ledger_repo
from stagent.store import ledger_metrics as metrics
from stagent.store import tasks as task_repo
from stagent.store.database import Store
from stagent.store.ledger import NewLedgerEntry
from stagent.store.tables import TaskRow

NOW = datetime.now(UTC).replace(microsecond=0)


def many_tasks(store: Store, count: int, **fields: object) -> list[str]:
    """``count`` planned tasks (bulk-inserted), oldest change first; their ids."""
    ids = [f"tsk_many{n:06d}" for n in range(count)]
    rows = [
        {
            "id": task_id,
            "title": f"task {n}",
            "status": "planned",
            "runtime": "codex" if n % 2 else "claude",
            "profile": "researcher" if n % 3 == 0 else None,
            "options": {},
            "created_at": NOW - timedelta(minutes=count - n),
            "updated_at": NOW - timedelta(minutes=count - n),
            **fields,
        }
        for n, task_id in enumerate(ids)
    ]
    with store.write() as session:
        session.execute(insert(TaskRow), rows)
    return ids


def selects_while(store: Store, read: Callable[[], object]) -> int:
    """How many SELECT statements ``read()`` sends."""
    sent: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        read()
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    return len([s for s in sent if s.lstrip().upper().startswith("SELECT")])


def test_titles_and_attribution_of_thousands_of_tasks_take_three_statements(
    store: Store,
) -> None:
    ids = many_tasks(store, 2_400)
    asked = [*ids, "tsk_gone"]
    found: list[tuple[dict[str, tuple[str, str]], dict[str, metrics.Attribution]]] = []

    def read() -> None:
        with store.read() as session:
            found.append(metrics.task_details(session, asked))

    assert selects_while(store, read) == 3
    ((titles, attribution),) = found
    assert len(titles) == 2_400 and "tsk_gone" not in titles
    assert titles[ids[1]] == ("task 1", "codex") and titles[ids[2_399]] == ("task 2399", "codex")
    assert attribution[ids[0]] == metrics.Attribution(profile="researcher")
    assert attribution[ids[1]] == metrics.Attribution(profile=None)
    with store.read() as session:
        assert metrics.task_details(session, []) == ({}, {})


def test_each_tasks_spend_is_read_in_one_statement_holds_left_out(store: Store) -> None:
    first, second, idle = many_tasks(store, 3)
    with store.write() as session:
        for task_id, cost in ((first, 1_000), (first, 2_500), (second, 40)):
            ledger_repo.insert(
                session,
                NewLedgerEntry(runtime="claude", task_id=task_id, cost_micros=cost, at=NOW),
            )
        ledger_repo.insert(
            session,
            NewLedgerEntry(
                runtime="claude", task_id=second, cost_micros=9_000, status="reserved", at=NOW
            ),
        )
    with store.read() as session:
        spend = metrics.per_task(session, [first, second, idle])
        assert metrics.per_task(session, []) == {}
    assert (spend[first].requests, spend[first].cost_micros) == (2, 3_500)
    assert (spend[second].requests, spend[second].cost_micros) == (1, 40)
    assert idle not in spend


def test_homes_counts_cover_every_task_and_the_latest_changes_come_first(store: Store) -> None:
    ids = many_tasks(store, 620)
    with store.write() as session:
        session.execute(
            TaskRow.__table__.update()
            .where(TaskRow.id == ids[3])
            .values(status="completed", updated_at=NOW + timedelta(minutes=5))
        )
        session.execute(
            TaskRow.__table__.update().where(TaskRow.id == ids[4]).values(deleted_at=NOW)
        )
    with store.read() as session:
        assert task_repo.count_by_status(session) == {"planned": 618, "completed": 1}
        recent = task_repo.recently_changed(session, 3)
    assert [task.id for task in recent] == [ids[3], ids[619], ids[618]]
