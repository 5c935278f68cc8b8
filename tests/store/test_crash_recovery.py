"""A process killed in the middle of a write leaves the database as it was before the write, and
the next process carries on: a killed upgrade leaves the old revision and its data (the next
start upgrades it), a killed import books none of its calls and leaves the running totals and
the rollup tracking new calls, an executor killed while ending its run leaves the run to the
next owner, who ends it once. The child stops at a chosen statement (a SQLAlchemy event hook),
says so, and is killed there. On SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from migrationtools import T0, at, at_head, expected_rollup, rollup_rows, seed
from storetools import bash_card, claimed_run, import_row

from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.store import approvals as approval_repo
from stagent.store import events as event_repo
from stagent.store import ledger as ledger_repo
from stagent.store import ledger_imports, lifecycle
from stagent.store import ledger_metrics as metrics
from stagent.store import runs as run_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store
from stagent.store.ledger import LedgerFilter, NewLedgerEntry, SpendQuery
from stagent.store.migrate import current_revision

PAUSE = f"""
import sys, time
import sqlalchemy as sa
sys.path.insert(0, {str(Path(__file__).parent)!r})  # the child may use storetools

def _pause_now():
    print("paused", flush=True)
    time.sleep(600)

@sa.event.listens_for(sa.engine.Engine, "after_cursor_execute")
def _pause(conn, cursor, statement, parameters, context, executemany):
    if " ".join(statement.split()).startswith(PAUSE_AT):
        _pause_now()

_ran = []

def _trace(statement):  # SQLite: also statements sent to the driver connection itself
    if _ran:  # the next statement starts: the matching one has run
        _pause_now()
    if " ".join(statement.split()).startswith(PAUSE_AT):
        _ran.append(statement)

@sa.event.listens_for(sa.pool.Pool, "connect")
def _traced(dbapi_connection, record):
    if hasattr(dbapi_connection, "set_trace_callback"):
        dbapi_connection.set_trace_callback(_trace)
"""


@contextmanager
def killed_at(url: str, pause_at: str, code: str) -> Iterator[None]:
    """Run ``code`` in a child process (``URL`` is the database's) that stops right after the
    first statement starting with ``pause_at`` ran; the block runs while it waits there, and the
    child is killed after it (SIGKILL: no cleanup, no rollback of its own)."""
    script = f"URL = {url!r}\nPAUSE_AT = {pause_at!r}\n{PAUSE}\n{textwrap.dedent(code)}"
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        if line != "paused":
            child.kill()
            _, err = child.communicate(timeout=60)
            raise AssertionError(f"the child never reached {pause_at!r}: {line}\n{err}")
        child.kill()
        child.wait(timeout=60)
        yield
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=60)


def spent_since_t0(store: Store) -> int:
    with store.read() as session:
        [spent] = ledger_repo.spend(session, [SpendQuery("overall", "", T0 - timedelta(days=1))])
    return spent.total


def calls(n: int, key: str) -> list[tuple[object, ...]]:
    """``n`` imported calls of 1,000 micros each, keyed ``key:0`` ...; one a minute from T0."""
    return [
        import_row(
            NewLedgerEntry(
                runtime="claude",
                source="import:claude-code",
                dedupe_key=f"{key}:{i}",
                input_tokens=10,
                cost_micros=1_000,
                at=T0 + timedelta(minutes=i),
            )
        )
        for i in range(n)
    ]


# ------------------------------------------------------------------------------- migrations


def test_an_upgrade_killed_half_way_leaves_the_old_revision_and_the_next_start_finishes_it(
    engine: sa.Engine,
) -> None:
    """Every pending revision runs in one transaction, on SQLite too: a process killed while
    0020 rebuilds the rollup (after 0019 is done) leaves the database at the revision it started
    from, whole (the Stagent that wrote it can still open it), not half-built."""
    tables = at(engine, "0018")
    with engine.begin() as conn:
        seed(
            conn,
            tables["usage_ledger"],
            *[
                {"id": f"use_{n}", "cost_micros": 100 * n, "simulated": False, "at": T0}
                for n in range(1, 6)
            ],
        )
    engine.dispose()
    url = engine.url.render_as_string(hide_password=False)
    code = "from stagent.store.database import Store\nStore(URL).upgrade()\n"
    with killed_at(url, "CREATE TABLE usage_rollup_deferred", code):
        pass
    assert current_revision(engine) == "0018"
    assert "usage_rollup" not in sa.inspect(engine).get_table_names()
    with at_head(engine) as store:
        with store.read() as session:
            assert rollup_rows(session) == expected_rollup(session)
            [group] = metrics.aggregate(session, LedgerFilter(), "runtime")
        assert (group.requests, group.cost_micros) == (5, 1_500)
        assert spent_since_t0(store) == 1_500


# ------------------------------------------------------------------------------- imports


def test_an_import_killed_inside_its_insert_books_nothing_and_new_calls_still_count(
    store: Store,
) -> None:
    """The kill lands inside the insert (on SQLite while the rollup's row triggers are deferred
    for the bulk insert): none of its calls are booked, the totals and the rollup show none of
    them, and the next import of the same calls books each once and counts them."""
    code = """
    from test_crash_recovery import calls
    from stagent.store.database import Store
    from stagent.store import ledger_imports
    store = Store(URL)
    with store.write() as session:
        ledger_imports.book_calls(session, calls(40, "k"))
    """
    with killed_at(store.url, "INSERT INTO usage_ledger ", code):  # the bulk insert
        pass
    with store.read() as session:
        assert ledger_repo.list_entries(session, LedgerFilter()) == []
        assert rollup_rows(session) == {}
    assert spent_since_t0(store) == 0
    with store.write() as session:
        booked = ledger_imports.book_calls(session, calls(40, "k"))
    with store.write() as session:
        again = ledger_imports.book_calls(session, calls(40, "k"))
    assert (booked.added, again.added, again.duplicates) == (40, 0, 40)
    with store.read() as session:
        assert rollup_rows(session) == expected_rollup(session)
        [group] = metrics.aggregate(session, LedgerFilter(), "runtime")
    assert (group.requests, group.cost_micros) == (40, 40_000)
    with store.write() as session:  # the row triggers are on: a single call is counted too
        ledger_repo.insert(session, NewLedgerEntry(runtime="claude", cost_micros=7, at=T0))
    with store.read() as session:
        assert rollup_rows(session) == expected_rollup(session)


# ------------------------------------------------------------------------------- a run's end


def test_an_executor_killed_while_ending_its_run_leaves_it_to_the_next_owner(
    store: Store,
) -> None:
    """The executor books its call and ends the run in one transaction and is killed before it
    commits: the run is still running with no result and no call, the takeover (attempt 2)
    runs it, and its end is the only one: one result, the cost of its own call only."""
    claim = claimed_run(store, "deploy")
    task_id, run_id = claim.task.id, claim.run.id
    code = f"""
    from datetime import UTC, datetime
    from stagent.domain.runs import RunStatus
    from stagent.store.database import Store
    from stagent.store import ledger, lifecycle
    store = Store(URL)
    with store.write() as session:
        ledger.insert(session, ledger.NewLedgerEntry(
            runtime="claude", task_id={task_id!r}, run_id={run_id!r}, cost_micros=900))
        lifecycle.finish(session, {run_id!r}, RunStatus.COMPLETED, attempt=1, result="first")
    """
    with killed_at(store.url, "UPDATE runs SET", code):
        pass
    with store.read() as session:
        run = run_repo.get(session, run_id)
        assert (run.status, run.result, run.attempt) == (RunStatus.RUNNING, None, 1)
        assert task_repo.status_of(session, task_id) is TaskStatus.RUNNING
        assert run_repo.spent(session, run_id) == 0
    with store.write() as session:
        takeover = lifecycle.claim(session, task_id, 1)
    assert takeover is not None and takeover.attempt == 2 and takeover.recovered
    with store.write() as session:
        ledger_repo.insert(
            session,
            NewLedgerEntry(runtime="claude", task_id=task_id, run_id=run_id, cost_micros=400),
        )
        lifecycle.finish(session, run_id, RunStatus.COMPLETED, attempt=2, result="second")
    with store.write() as session:  # the killed attempt's end, retried, changes nothing
        assert lifecycle.finish(session, run_id, RunStatus.FAILED, attempt=1) is None
    with store.read() as session:
        run = run_repo.get(session, run_id)
        log = event_repo.for_task(session, task_id)
        assert task_repo.status_of(session, task_id) is TaskStatus.COMPLETED
    assert (run.status, run.result, run.cost_micros) == (RunStatus.COMPLETED, "second", 400)
    ended = [e for e in log if e.kind == "status" and e.payload.get("to") == "completed"]
    assert len(ended) == 1


def test_events_a_killed_writer_appended_never_reach_the_feed(store: Store) -> None:
    """Events a killed writer had appended never reach the feed, and the feed's sequence goes
    on from the last committed event: a tailing reader misses nothing and sees nothing twice."""
    claim = claimed_run(store, "tail me")
    with store.read() as session:
        before = event_repo.last_seq(session)
    code = f"""
    from stagent.store.database import Store
    from stagent.store import events
    store = Store(URL)
    with store.write() as session:
        for n in range(5):
            events.append(session, {claim.task.id!r}, "text", {{"text": f"lost {{n}}"}})
        session.execute(__import__("sqlalchemy").text("SELECT 'stop here'"))
    """
    with killed_at(store.url, "SELECT 'stop here'", code):
        pass
    with store.write() as session:
        event_repo.append(session, claim.task.id, "text", {"text": "kept"})
    with store.read() as session:
        newer = event_repo.since(session, before)
    assert [e.payload for e in newer] == [{"text": "kept"}]
    assert newer[0].seq > before


# ------------------------------------------------------------------------------- a decision


def test_a_decision_killed_before_it_commits_can_be_made_again_and_counts_once(
    store: Store,
) -> None:
    """A person's answer to an approval card closes the card, logs the decision and releases
    the run in one transaction: killed inside it, the card is still pending, the run still
    waits on it and nothing is logged; answered again, the run resumes with one decision."""
    claim = claimed_run(store, "rm the build")
    with store.write() as session:
        card = bash_card(
            session, claim.task.id, run_id=claim.run.id, expires_at=T0 + timedelta(days=3_650)
        )
        hold = approval_repo.approval_hold(card.id)
        lifecycle.suspend(session, claim.run.id, hold, reason="asks", attempt=1)
    code = f"""
    from stagent.store.database import Store
    from stagent.store import approvals
    store = Store(URL)
    with store.write() as session:
        card = approvals.get(session, {card.id!r})
        approvals.close_card(session, card, "allowed", "person:web", {{}}, "allowed")
    """
    with killed_at(store.url, "UPDATE runs SET", code):
        pass
    with store.read() as session:
        assert approval_repo.get(session, card.id).status == "pending"
        assert run_repo.get(session, claim.run.id).waiting_on == (hold,)
        assert approval_repo.pending_count(session, task_id=claim.task.id) == 1
    with store.write() as session:
        approval_repo.close_card(session, card, "allowed", "person:cli", {}, "allowed")
    with store.read() as session:
        run = run_repo.get(session, claim.run.id)
        log = event_repo.for_task(session, claim.task.id)
        closed = approval_repo.get(session, card.id)
    assert run.status is RunStatus.RUNNING and run.waiting_on == ()
    assert (closed.status, closed.decided_by) == ("allowed", "person:cli")
    assert [e.payload["decided_by"] for e in log if e.kind == "decision"] == ["person:cli"]
