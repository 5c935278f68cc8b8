"""Statements sent straight to SQLite's driver (`stagent.store.driver.Prebuilt`) store exactly
what SQLAlchemy's own execution stores (JSON, timestamps, NULLs), and one that needs a
Python-side default (an ``onupdate`` column left out) still gets it; a read
(`stagent.store.driver.PrebuiltRead`) returns what SQLAlchemy returns. On SQLite and PostgreSQL
(where SQLAlchemy executes them); on SQLite's bare driver connection too (a budget admission's
hot path, no SQLAlchemy ``Connection``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import Connection, Table, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from storetools import new_task

from stagent.store import driver as driver_module
from stagent.store import events
from stagent.store.database import Store, flushed_connection
from stagent.store.driver import Prebuilt, PrebuiltRead
from stagent.store.tables import TaskRow

_TASKS = cast(Table, TaskRow.__table__)
_UPDATE = update(_TASKS).where(_TASKS.c.id == bindparam("row_id"))
_WAYS = ("connection", "bare driver")


def run(way: str, prebuilt: Prebuilt, conn: Connection, params: dict[str, Any]) -> int:
    """``prebuilt`` on the session's connection, or on its bare driver connection."""
    if way == "connection":
        return prebuilt.execute(conn, params)
    if conn.dialect.name != "sqlite":
        pytest.skip("a bare driver connection is SQLite's")
    return prebuilt.execute_on_driver(conn.connection.driver_connection, conn.dialect, params)


def stored(store: Store, task_id: str) -> dict[str, Any]:
    """The task's row as the database hands it back (SQLite: the stored text)."""
    with store.read() as session:
        columns = [_TASKS.c.options, _TASKS.c.updated_at, _TASKS.c.finished_at, _TASKS.c.title]
        query = select(*(column.cast(_TASKS.c.title.type) for column in columns))
        row = session.execute(query.where(_TASKS.c.id == task_id)).one()
    return dict(zip(("options", "updated_at", "finished_at", "title"), row, strict=True))


@pytest.mark.parametrize("way", _WAYS)
def test_a_prebuilt_update_stores_what_sqlalchemy_stores(store: Store, way: str) -> None:
    values = {
        "options": {"model": "m", "limits": {"max_turns": 3}, "tools": ["Read"]},
        "updated_at": datetime(2026, 12, 7, 4, 30, 1, 123456, tzinfo=UTC),
        "finished_at": None,
        "title": "written",
    }
    by_sqlalchemy, by_driver = new_task(store), new_task(store)
    with store.write() as session:
        conn = flushed_connection(session)
        conn.execute(_UPDATE, {"row_id": by_sqlalchemy, **values})
        assert run(way, Prebuilt(_UPDATE), conn, {"row_id": by_driver, **values}) == 1
    assert stored(store, by_driver) == stored(store, by_sqlalchemy)


@pytest.mark.parametrize("way", _WAYS)
def test_timestamps_bound_again_and_in_turn_store_each_its_own_text(store: Store, way: str) -> None:
    """The same timestamp bound to several columns and rows (a step binds one ``now`` many
    times: its text is remembered), then others in turn, each equal to one bound before or
    not: every row stores what SQLAlchemy stores for its own values."""
    first = datetime(2026, 12, 7, 4, 30, 1, 123456, tzinfo=UTC)
    equal = datetime(2026, 12, 7, 4, 30, 1, 123456, tzinfo=UTC)  # equal, not the same object
    later = datetime(2026, 12, 7, 4, 30, 2, tzinfo=UTC)
    turns = [(first, first), (first, later), (later, equal), (equal, None), (None, first)]
    prebuilt = Prebuilt(_UPDATE)
    for updated_at, finished_at in turns:
        values = {"updated_at": updated_at or later, "finished_at": finished_at}
        by_sqlalchemy, by_driver = new_task(store), new_task(store)
        with store.write() as session:
            conn = flushed_connection(session)
            conn.execute(_UPDATE, {"row_id": by_sqlalchemy, **values})
            assert run(way, prebuilt, conn, {"row_id": by_driver, **values}) == 1
        assert stored(store, by_driver) == stored(store, by_sqlalchemy)


def test_an_update_that_leaves_out_an_onupdate_column_still_sets_it(store: Store) -> None:
    task_id = new_task(store)
    before = stored(store, task_id)["updated_at"]
    with store.write() as session:
        Prebuilt(_UPDATE).execute(flushed_connection(session), {"row_id": task_id, "title": "x"})
    after = stored(store, task_id)
    assert after["title"] == "x" and after["updated_at"] != before


@pytest.mark.parametrize("way", _WAYS)
def test_a_driver_error_comes_out_as_sqlalchemys(store: Store, way: str) -> None:
    """Callers catch SQLAlchemy's errors (a duplicate is an ``IntegrityError`` whichever way
    the statement went)."""
    task_id = new_task(store)
    insert = Prebuilt(_TASKS.insert())
    with store.write() as session:
        row = session.execute(select(_TASKS).where(_TASKS.c.id == task_id)).mappings().one()
        with pytest.raises(IntegrityError):
            run(way, insert, flushed_connection(session), dict(row))


def test_a_driver_error_in_a_batch_comes_out_as_sqlalchemys(store: Store) -> None:
    """`executemany` too, on the session's connection and on the bare driver."""
    task_id = new_task(store)
    insert = Prebuilt(_TASKS.insert())
    with store.write() as session:
        conn = flushed_connection(session)
        row = dict(session.execute(select(_TASKS).where(_TASKS.c.id == task_id)).mappings().one())
        with pytest.raises(IntegrityError):
            insert.executemany(conn, [row])
        if conn.dialect.name == "sqlite":
            with pytest.raises(IntegrityError):
                insert.insert_many_on_driver(conn.connection.driver_connection, conn.dialect, [row])


def test_the_bare_driver_refuses_a_statement_that_needs_a_python_side_default(
    store: Store,
) -> None:
    """Nothing there could compute the ``onupdate`` value: refused, rather than left unset."""
    task_id = new_task(store)
    before = stored(store, task_id)
    with store.write() as session, pytest.raises(ValueError, match="bare driver"):
        run(
            "bare driver",
            Prebuilt(_UPDATE),
            flushed_connection(session),
            {"row_id": task_id, "title": "x"},
        )
    assert stored(store, task_id) == before


_READ = select(
    _TASKS,
    func.coalesce(_TASKS.c.finished_at, _TASKS.c.updated_at).label("when"),
    _TASKS.c.status.in_(("planned", "queued")).label("waiting"),
).where(_TASKS.c.id == bindparam("task_id"))


def test_a_prebuilt_read_returns_what_sqlalchemy_returns(store: Store) -> None:
    """JSON decoded, timestamps parsed, NULLs, labels, an ``IN`` of literal values (expanded
    when first compiled); no row is None. Twice: compiled once, then reused."""
    task_id = new_task(store)
    with store.write() as session:
        options = {"model": "m", "limits": {"max_turns": 3}}
        session.execute(update(_TASKS).where(_TASKS.c.id == task_id).values(options=options))
    read = PrebuiltRead(_READ)
    for _ in range(2):
        with store.read() as session:
            conn = flushed_connection(session)
            expected = dict(conn.execute(_READ, {"task_id": task_id}).mappings().one())
            assert read.one_or_none(conn, {"task_id": task_id}) == expected
            assert read.one_or_none(conn, {"task_id": "tsk_nope"}) is None
    assert expected["options"] == options and expected["waiting"]
    assert isinstance(expected["created_at"], datetime) and expected["finished_at"] is None


def test_events_on_the_bare_driver_are_one_insert_in_their_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step's start or end logs its events in one multi-row statement (not one a row):
    the same rows, in order, as the Session's ``append_many`` stores; more rows than one
    statement takes go in several, still in order."""
    if not store.is_sqlite:
        pytest.skip("the bare driver connection is SQLite's")
    monkeypatch.setattr(driver_module, "ROWS_PER_INSERT", 3)
    task_id = new_task(store)
    logged: list[tuple[Any, dict[str, Any]]] = [("text", {"text": f"t{i}"}) for i in range(4)]
    sent: list[str] = []
    with store.sqlite_hot_connection() as hot:
        hot.driver.set_trace_callback(sent.append)
        hot.driver.execute("BEGIN IMMEDIATE")
        events.append_many_on_driver(
            hot.driver, hot.dialect, (), task_id, logged, run_id=None, unbound=[("created", {})]
        )
        hot.driver.commit()
        hot.driver.set_trace_callback(None)
    inserts = [sql for sql in sent if sql.startswith("INSERT INTO agent_events")]
    assert len(inserts) == 2  # 5 rows, at most 3 a statement
    with store.read() as session:
        stored = events.for_task(session, task_id)[-5:]  # new_task logged one before
    assert [(e.kind, e.payload) for e in stored] == [("created", {}), *logged]
    assert len({e.created_at for e in stored}) == 1
