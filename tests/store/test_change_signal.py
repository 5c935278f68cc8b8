"""The store's sessions and its change signal: a write is committed before it returns (another
process sees it, even if the writer dies at once), a failed or killed write leaves nothing, and
every commit -- in this process or another -- wakes whoever waits on the signal, without a
sleep loop. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from storetools import claimed_run, new_task

from stagent.domain.errors import DatabaseUnavailableError
from stagent.domain.runs import RunStatus
from stagent.store import lifecycle, waits
from stagent.store import runs as run_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store
from stagent.store.notifier import ChangeNotifier


def titles(store: Store) -> list[str]:
    with store.read() as session:
        return sorted(t.title for t in task_repo.list_tasks(session))


def run_child(code: str, url: str, *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh Python process with ``URL`` set to the database's."""
    script = f"URL = {url!r}\n" + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# ------------------------------------------------------------------------------- the notifier


def test_ring_moves_the_version_and_wakes_a_thread_at_once() -> None:
    changes = ChangeNotifier()
    seen = changes.version
    woke: list[int] = []

    def waiter() -> None:
        woke.append(changes.wait(seen, timeout=3600))  # only the ring can end it in time

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    time.sleep(0.05)  # usually asleep in its wait by now; a ring before it waits counts too
    changes.ring()
    thread.join(timeout=60)
    assert changes.version == seen + 1
    assert woke == [seen + 1]


def test_a_wait_for_a_version_already_passed_returns_at_once() -> None:
    changes = ChangeNotifier()
    changes.ring()
    changes.ring()
    answered: list[int] = []
    waiter = threading.Thread(
        target=lambda: answered.append(changes.wait(0, timeout=3600)), daemon=True
    )
    waiter.start()
    waiter.join(timeout=60)  # an hour's timeout: only the version already passed returns it
    assert answered == [2]


def test_a_wait_with_no_change_times_out_with_the_same_version() -> None:
    changes = ChangeNotifier()
    started = time.monotonic()
    assert changes.wait(changes.version, timeout=0.05) == 0
    assert time.monotonic() - started >= 0.04  # it waited its timeout out


async def test_async_waiters_on_the_loop_wake_when_another_thread_rings() -> None:
    changes = ChangeNotifier()
    seen = changes.version
    waiters = [asyncio.create_task(changes.wait_async(seen, 10)) for _ in range(3)]
    await asyncio.sleep(0.01)
    threading.Thread(target=changes.ring).start()
    results = await asyncio.wait_for(asyncio.gather(*waiters), timeout=30)
    assert results == [seen + 1] * 3


async def test_an_async_wait_times_out_and_a_cancelled_one_leaves_no_waiter() -> None:
    changes = ChangeNotifier()
    assert await changes.wait_async(0, 0.02) == 0
    pending = asyncio.create_task(changes.wait_async(0, 10))
    await asyncio.sleep(0.01)
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    changes.ring()  # ringing after the cancel must not touch the dead waiter
    assert await changes.wait_async(0, 1) == 1


# ------------------------------------------------------------------------------- Store.write


def test_every_committed_write_rings_once_and_a_failed_one_not_at_all(store: Store) -> None:
    before = store.changes.version
    new_task(store, "a")
    new_task(store, "b")
    assert store.changes.version == before + 2
    with pytest.raises(RuntimeError), store.write() as session:
        task_repo.create(session, task_repo.NewTask(title="never"))
        raise RuntimeError("no")
    assert store.changes.version == before + 2
    assert titles(store) == ["a", "b"]


def test_a_read_session_never_commits(store: Store) -> None:
    with store.read() as session:
        task_repo.create(session, task_repo.NewTask(title="only read"))
    assert titles(store) == []


def test_a_hot_path_block_rings_the_signal(store: Store) -> None:
    claim = claimed_run(store)
    before = store.changes.version
    with store.write_connection():
        pass
    assert store.changes.version == before + 1
    with store.read() as session:
        assert run_repo.get(session, claim.run.id).status is RunStatus.RUNNING


def test_a_failed_hot_path_block_on_sqlite_writes_nothing(tmp_path: Path) -> None:
    from stagent.store import events as event_repo
    from stagent.store import run_writes

    store = Store(f"sqlite:///{tmp_path / 'hot.sqlite'}")
    store.upgrade()
    try:
        claim = claimed_run(store)
        with pytest.raises(RuntimeError), store.write_connection() as conn:
            run_writes.append_event(
                conn,
                task_id=claim.task.id,
                run_id=claim.run.id,
                attempt=1,
                kind="text",
                payload={"text": "half"},
            )
            raise RuntimeError("the executor crashed mid-block")
        with store.read() as session:
            assert [e.kind for e in event_repo.for_run(session, claim.run.id)][-1] == "status"
    finally:
        store.dispose()


def test_two_stores_on_one_database_see_each_others_commits(store: Store) -> None:
    other = Store(store.url)
    try:
        new_task(other, "from the other")
        assert titles(store) == ["from the other"]
        new_task(store, "from this one")
        assert titles(other) == ["from the other", "from this one"]
    finally:
        other.dispose()


# ------------------------------------------------------------------------------- crash safety


def test_a_write_in_another_process_is_durable_on_return_and_wakes_this_ones_waiters(
    store: Store,
) -> None:
    """The child acknowledges its write and dies at once (no clean shutdown): the row is there,
    and this process's waiter woke for it (SQLite ``data_version``, PostgreSQL NOTIFY)."""
    store.watch_other_processes()
    store.watch_other_processes()  # idempotent
    time.sleep(0.1)  # the watcher is listening
    seen = store.changes.version
    child = run_child(
        """
        import os
        from stagent.store.database import Store
        from stagent.store import tasks
        store = Store(URL)
        with store.write() as session:
            tasks.create(session, tasks.NewTask(title="acknowledged"))
        print("ok", flush=True)
        os._exit(0)
        """,
        store.url,
    )
    assert child.stdout.strip() == "ok", child.stderr
    assert store.changes.wait(seen, timeout=30) != seen
    assert titles(store) == ["acknowledged"]


def test_a_writer_killed_inside_its_transaction_leaves_nothing_and_no_lock(store: Store) -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from stagent.store.database import Store
                from stagent.store import tasks
                store = Store({store.url!r})
                with store.write() as session:
                    tasks.create(session, tasks.NewTask(title="half written"))
                    session.flush()
                    print("inside", flush=True)
                    time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "inside"
    finally:
        child.kill()
        child.wait(timeout=10)
    assert titles(store) == []
    new_task(store, "after the crash")  # the dead writer's lock is gone (else: "locked")
    assert titles(store) == ["after the crash"]


# ------------------------------------------------------------------------------- waking waiters


def test_a_stopped_watcher_stays_quiet(store: Store) -> None:
    store.watch_other_processes()
    time.sleep(0.05)
    store.dispose()  # stops the watcher
    other = Store(store.url)
    try:
        seen = store.changes.version
        new_task(other, "unheard")
        assert store.changes.wait(seen, timeout=0.3) == seen
    finally:
        other.dispose()


async def test_until_returns_as_soon_as_the_hold_it_waits_on_is_released(store: Store) -> None:
    claim = claimed_run(store)
    with store.write() as session:
        lifecycle.suspend(session, claim.run.id, "approval:c", reason="ask", attempt=1)
    probes: list[RunStatus] = []

    def probe() -> waits.Done[RunStatus] | waits.Pending:
        with store.read() as session:
            run = run_repo.get(session, claim.run.id)
        probes.append(run.status)
        if "approval:c" in run.waiting_on:
            return waits.Pending(max_sleep=30)  # only a commit can end this wait in time
        return waits.Done(run.status)

    def decide() -> None:
        time.sleep(0.05)
        with store.write() as session:
            lifecycle.release(session, claim.run.id, "approval:c", reason="allowed")

    threading.Thread(target=decide).start()
    # Its probe sleeps 30 s between looks: ending before that, the commit woke it.
    status = await asyncio.wait_for(waits.until(store, probe), timeout=25)
    assert status is RunStatus.RUNNING
    assert probes[0] is RunStatus.WAITING and len(probes) <= 4  # one probe per commit, no loop


async def test_until_probes_again_after_max_sleep_when_no_commit_comes(store: Store) -> None:
    calls = 0

    def probe() -> waits.Done[int] | waits.Pending:
        nonlocal calls
        calls += 1
        return waits.Done(calls) if calls == 3 else waits.Pending(max_sleep=0.01)

    assert await asyncio.wait_for(waits.until(store, probe), timeout=30) == 3


async def test_until_answers_at_once_when_nothing_is_pending(store: Store) -> None:
    assert await waits.until(store, lambda: waits.Done("now")) == "now"


async def test_a_cancelled_run_wakes_its_waiter_too(store: Store) -> None:
    claim = claimed_run(store)
    with store.write() as session:
        lifecycle.suspend(session, claim.run.id, "budget:b", reason="cap", attempt=1)

    def probe() -> waits.Done[str] | waits.Pending:
        with store.read() as session:
            run = run_repo.get(session, claim.run.id)
        return waits.Done(run.status.value) if run.status.is_terminal else waits.Pending(30)

    waiter = asyncio.create_task(waits.until(store, probe))
    await asyncio.sleep(0.02)
    with store.write() as session:
        lifecycle.cancel_task(session, claim.task.id, reason="stop")
    assert await asyncio.wait_for(waiter, timeout=25) == "cancelled"  # its probe sleeps 30 s


# ------------------------------------------------------------------------------- opening


@pytest.mark.parametrize(
    "url",
    ["not a url", "mysql+nosuchdriver://x/y", "postgresql://u:secret@127.0.0.1:1/db"],
)
def test_a_database_that_cannot_be_opened_is_one_clear_line(url: str) -> None:
    with pytest.raises(DatabaseUnavailableError) as caught:
        store = Store(url)
        try:
            store.check_connection()
        finally:
            store.dispose()
    message = caught.value.message
    assert message.startswith("cannot open database") and "\n" not in message
    assert "secret" not in message
    assert caught.value.hint


def test_a_new_sqlite_file_is_private_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "ws.sqlite"
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    new_task(store)
    try:
        for item in path.parent.iterdir():
            assert stat.S_IMODE(item.stat().st_mode) == 0o600, item
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    finally:
        store.dispose()


def test_an_existing_sqlite_file_open_to_others_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    path.touch()
    path.chmod(0o644)
    store = Store(f"sqlite:///{path}")
    store.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
