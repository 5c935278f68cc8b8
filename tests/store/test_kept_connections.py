"""On SQLite a thread inside `keeping_hot` (the worker's run loop) keeps one driver connection
per store for `Store.sqlite_hot_connection` (a workflow step's start, a budget admission) instead
of a pool checkout and checkin per use: what each use commits is there, what one leaves open is
rolled back as the pool would, a nested use still works, and the connection goes back to the
pool when the block ends."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import event, text

from stagent.store.database import Store, keeping_hot

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def checkouts(store: Store) -> Iterator[list[int]]:
    """One entry per connection the store's pool hands out."""
    seen: list[int] = []

    def checked_out(*args: object) -> None:
        del args
        seen.append(1)

    event.listen(store.engine.pool, "checkout", checked_out)
    yield seen
    event.remove(store.engine.pool, "checkout", checked_out)


def write_setting(store: Store, key: str, *, commit: bool = True) -> int:
    """One hot write (BEGIN IMMEDIATE, an insert, COMMIT unless told not); the driver's id."""
    with store.sqlite_hot_connection() as hot:
        hot.driver.execute("BEGIN IMMEDIATE")
        hot.driver.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, '1', '2026-12-07')", (key,)
        )
        if commit:
            hot.driver.commit()
        return id(hot.driver)


def settings(store: Store) -> list[str]:
    with store.read() as session:
        return list(session.execute(text("SELECT key FROM settings ORDER BY key")).scalars())


def test_a_keeping_thread_writes_on_one_connection_taken_once(
    store: Store, checkouts: list[int]
) -> None:
    version = store.changes.version
    with keeping_hot():
        drivers = {write_setting(store, f"k{n}") for n in range(3)}
        assert store.read_value("SELECT count(*) FROM settings") == 3  # (an admission's read)
        assert store.engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    assert len(drivers) == 1
    assert len(checkouts) == 1
    assert store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert store.changes.version == version + 3  # each use still rings the change signal
    assert settings(store) == ["k0", "k1", "k2"]


def test_without_keeping_each_use_is_a_pool_round(store: Store, checkouts: list[int]) -> None:
    for n in range(3):
        write_setting(store, f"k{n}")
    assert len(checkouts) == 3
    assert store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_use_that_leaves_its_transaction_open_is_rolled_back(store: Store) -> None:
    with keeping_hot():
        write_setting(store, "left open", commit=False)
        with pytest.raises(RuntimeError), store.sqlite_hot_connection() as hot:
            hot.driver.execute("BEGIN IMMEDIATE")
            hot.driver.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES ('failed', '1', 'x')"
            )
            raise RuntimeError("the caller failed mid-transaction")
        with store.sqlite_hot_connection() as hot:
            assert not hot.driver.in_transaction
        write_setting(store, "committed")
        assert settings(store) == ["committed"]  # another connection sees only that


def test_a_nested_use_takes_its_own_connection_from_the_pool(store: Store) -> None:
    with keeping_hot(), store.sqlite_hot_connection() as outer:
        outer.driver.execute("BEGIN IMMEDIATE")
        outer.driver.execute("INSERT INTO settings (key, value, updated_at) VALUES ('o', '1', 'x')")
        assert store.read_value("SELECT count(*) FROM settings") == 0  # not the open write's
        outer.driver.rollback()
        inner = write_setting(store, "inner")
        assert inner != id(outer.driver)
        assert settings(store) == ["inner"]


def test_each_thread_and_each_store_keeps_its_own(store: Store, db_url: str) -> None:
    other = Store(db_url)
    try:
        with keeping_hot():
            mine = {write_setting(store, "a"), write_setting(store, "b")}
            theirs = {write_setting(other, "c"), write_setting(other, "d")}
            elsewhere: list[int] = []
            thread = threading.Thread(target=lambda: elsewhere.append(write_setting(store, "e")))
            thread.start()
            thread.join(30)
        assert len(mine) == 1 and len(theirs) == 1 and mine != theirs
        assert elsewhere and elsewhere[0] not in mine  # not inside keeping_hot: the pool's
        assert other.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert settings(store) == ["a", "b", "c", "d", "e"]
    finally:
        other.dispose()
