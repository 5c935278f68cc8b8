"""Upgrading a database an older Stagent wrote, with rows in the tables the later revisions
change (ledger sources and the simulated flag 0007, environment scans 0008, the feed outbox 0013,
the rollups 0019/0020), and going down below a revision and up again with data in it (0016,
0019, 0020, 0022): every row reads the same through today's repositories. On SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from migrationtools import T0, at, at_head, down_to, expected_rollup, rollup_rows, seed, upgraded

from stagent.domain.runs import Subject
from stagent.domain.schedules import (
    FiringStatus,
    Schedule,
    ScheduleStatus,
    Target,
    TargetKind,
    Timing,
    TimingKind,
)
from stagent.store import events as event_repo
from stagent.store import ledger as ledger_repo
from stagent.store import ledger_metrics as metrics
from stagent.store import scans as scan_repo
from stagent.store import schedules as schedule_repo
from stagent.store import step_rows as step_repo
from stagent.store import tasks as task_repo
from stagent.store import workflows as workflow_repo
from stagent.store.database import Store
from stagent.store.ledger import LedgerFilter, NewLedgerEntry
from stagent.store.migrate import alembic_config


def book_mixed_calls(store: Store) -> None:
    """Calls of several runtimes, models, sources and outcomes over three days."""
    shapes = [
        ("claude", "claude-opus-4-6", "run", "completed", "computed", False),
        ("codex", "gpt-5.4", "run", "failed", "computed", False),
        ("claude", None, "import:claude-code", "completed", "unpriced", False),
        ("scripted", None, "run", "completed", "computed", True),
        ("claude", "claude-opus-4-6", "run", "reserved", "computed", False),  # not a call
    ]
    with store.write() as session:
        for n in range(30):
            runtime, model, source, status, cost_source, simulated = shapes[n % len(shapes)]
            ledger_repo.insert(
                session,
                NewLedgerEntry(
                    runtime=runtime,
                    model=model,
                    source=source,
                    status=status,
                    cost_source=cost_source,
                    simulated=simulated,
                    input_tokens=100 + n,
                    output_tokens=n,
                    cost_micros=1_000 * (n + 1),
                    at=T0 + timedelta(hours=2 * n, minutes=n),
                ),
            )


def summary(store: Store) -> list[Any]:
    """The whole ledger's summary by runtime (what ``stagent usage`` shows)."""
    with store.read() as session:
        groups = metrics.aggregate(session, LedgerFilter(), "runtime")
    return sorted(groups, key=repr)


# ------------------------------------------------------------------------------- 0007


def test_calls_of_the_scripted_runtime_from_before_0007_count_as_simulated(
    engine: sa.Engine,
) -> None:
    """0007 adds the simulated flag: calls no model answered (the scripted runtime, the
    simulated provider) must stop counting toward budgets once upgraded; real calls still do."""
    tables = at(engine, "0012")
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    with engine.begin() as conn:
        seed(
            conn,
            tables["usage_ledger"],
            {"id": "use_real", "runtime": "claude", "cost_micros": 700, "at": now},
            {"id": "use_script", "runtime": "scripted", "cost_micros": 50_000, "at": now},
            {"id": "use_fake", "runtime": "anthropic", "provider": "simulated", "at": now},
        )
    with at_head(engine) as store:
        with store.read() as session:
            entries = ledger_repo.list_entries(session, LedgerFilter(), oldest_first=True)
            [spent] = ledger_repo.spend(
                session, [ledger_repo.SpendQuery("overall", "", now - timedelta(hours=1))]
            )
        flags = {e.id: (e.simulated, e.source) for e in entries}
        assert flags == {
            "use_real": (False, "run"),
            "use_script": (True, "run"),
            "use_fake": (True, "run"),
        }
        assert spent.total == 700


def test_a_call_from_before_dedupe_keys_can_be_imported_again_once(engine: sa.Engine) -> None:
    """Rows from before 0007 have no dedupe key; after the upgrade an import keyed on a call
    books it once however often it runs."""
    tables = at(engine, "0012")
    with engine.begin() as conn:
        seed(conn, tables["usage_ledger"], {"id": "use_old"})
    with at_head(engine) as store:
        call = NewLedgerEntry(
            runtime="claude", source="import:claude-code", dedupe_key="cc:abc:1", at=T0
        )
        with store.write() as session:
            _, first = ledger_repo.insert_once(session, call)
        with store.write() as session:
            _, second = ledger_repo.insert_once(session, call)
        with store.read() as session:
            ids = {e.id for e in ledger_repo.list_entries(session, LedgerFilter())}
        assert (first, second) == (True, False)
        assert len(ids) == 2 and "use_old" in ids


# ------------------------------------------------------------------------------- 0008


def test_scans_stored_at_0008_read_the_same_at_head(engine: sa.Engine) -> None:
    tables = at(engine, "0008")
    report = {"id": "scn_old", "score": 81, "findings": [], "artifacts": [], "projects": []}
    with engine.begin() as conn:
        for n, score in enumerate((64, 81)):
            seed(
                conn,
                tables["environment_scans"],
                {
                    "id": f"scn_old{n}",
                    "scanned_at": T0 + timedelta(days=n),
                    "roots": ["/home/me/code"],
                    "score": score,
                    "duration_ms": 12.5,
                    "artifact_count": 3,
                    "project_count": 1,
                    "errors": n,
                    "warnings": 2,
                    "infos": 0,
                    "fingerprint": f"fp{n}",
                    "report": {**report, "id": f"scn_old{n}", "score": score},
                },
            )
    with at_head(engine) as store:
        with store.read() as session:
            history = scan_repo.history(session)
            latest = scan_repo.latest_report(session)
            fingerprint = scan_repo.latest_fingerprint(session)
        assert [(s.id, s.score, s.errors, s.scanned_at) for s in history] == [
            ("scn_old1", 81, 1, T0 + timedelta(days=1)),
            ("scn_old0", 64, 0, T0),
        ]
        assert history[0].roots == ["/home/me/code"] and history[0].duration_ms == 12.5
        assert latest is not None and latest["id"] == "scn_old1" and fingerprint == "fp1"


# ------------------------------------------------------------------------------- 0013


def test_the_log_written_before_the_feed_outbox_continues_in_order(engine: sa.Engine) -> None:
    """0013 adds the outbox PostgreSQL writers publish through: events written after the
    upgrade follow the old ones in the workspace feed (a tailing client sees them after)."""
    tables = at(engine, "0006")
    with engine.begin() as conn:
        seed(conn, tables["tasks"], {"id": "tsk_old", "title": "old"})
        seed(
            conn,
            tables["agent_events"],
            *[
                {"task_id": "tsk_old", "payload": {"n": n}, "created_at": T0 + timedelta(seconds=n)}
                for n in range(3)
            ],
        )
    with at_head(engine) as store:
        with store.read() as session:
            before = event_repo.last_seq(session)
        with store.write() as session:
            event_repo.append(session, "tsk_old", "note", {"n": 3})
            event_repo.append(session, None, "note", {"n": 4}, subject=Subject("workspace", "here"))
        with store.read() as session:
            feed = event_repo.since(session, 0)
            newer = event_repo.since(session, before)
            log = event_repo.for_task(session, "tsk_old")
        assert [e.payload["n"] for e in feed] == [0, 1, 2, 3, 4]
        assert [e.payload["n"] for e in newer] == [3, 4]
        assert [e.payload["n"] for e in log] == [0, 1, 2, 3]
        seqs = [e.seq for e in feed]
        assert seqs == sorted(seqs) and len(set(seqs)) == 5


# ------------------------------------------------------------------------------- rollups


@pytest.mark.parametrize("before", ["0018", "0019"])
def test_calls_booked_before_a_rollup_revision_are_summed_after_it(
    engine: sa.Engine, before: str
) -> None:
    """The rollup (0019 hourly, 0020 hourly and daily) is filled from the calls already in the
    ledger, on both backends: the summary is the same from the rollup as from the rows."""
    command.upgrade(alembic_config(engine), before)
    store = Store(engine.url.render_as_string(hide_password=False))
    try:
        book_mixed_calls(store)
        store.upgrade()
        with store.read() as session:
            assert rollup_rows(session) == expected_rollup(session)
            fast = metrics.aggregate(session, LedgerFilter(), "runtime")
            slow = metrics.aggregate(session, LedgerFilter(), "runtime", rows=True)
        assert sorted(fast, key=repr) == sorted(slow, key=repr)
        assert sum(g.requests for g in fast) == 24  # the 6 reservations are not calls
    finally:
        store.dispose()


@pytest.mark.parametrize("below", ["0018", "0019"])
def test_going_below_a_rollup_and_up_again_rebuilds_it_from_the_ledger(
    engine: sa.Engine, below: str
) -> None:
    with at_head(engine) as store:
        book_mixed_calls(store)
        shown = summary(store)
    tables = down_to(engine, below)
    assert ("usage_rollup" in tables) == (below == "0019")
    with at_head(engine) as store:
        assert summary(store) == shown
        with store.read() as session:
            assert rollup_rows(session) == expected_rollup(session)
        with store.write() as session:  # and the triggers are back: a new call is counted
            ledger_repo.insert(
                session, NewLedgerEntry(runtime="codex", cost_micros=5, at=T0 + timedelta(days=9))
            )
        with store.read() as session:
            assert rollup_rows(session) == expected_rollup(session)


# ------------------------------------------------------------------------------- 0016, 0022


def nightly() -> Schedule:
    return Schedule(
        id="sch_round",
        name="nightly",
        status=ScheduleStatus.ACTIVE,
        timing=Timing(TimingKind.CRON, zone="UTC", cron="0 3 * * *", source="at 3am"),
        target=Target(TargetKind.WORKFLOW, ref="release"),
        next_fire_at=T0,
    )


def test_firings_linked_to_workflow_runs_survive_going_below_0022_and_back(
    engine: sa.Engine,
) -> None:
    """Going below 0022 drops the firing's link to its workflow run (the column did not exist)
    but keeps the firing, its decision and its schedule; back at head the link can be set again
    and deleting the workflow clears it (the foreign key came back with the table)."""
    from stagent.domain.workflows import WorkflowDefinition

    store = upgraded(engine)
    definition = WorkflowDefinition.model_validate(
        {
            "name": "release",
            "pattern": "sequence",
            "steps": [{"id": "a", "name": "Build", "prompt": "build"}],
        }
    )
    try:
        with store.write() as session:
            flow = workflow_repo.create(session, definition)
            schedule_repo.insert(session, nightly())
            schedule_repo.add_firings(
                session,
                "sch_round",
                [
                    ("fir_1", T0, FiringStatus.PENDING, None),
                    ("fir_2", T0 + timedelta(days=1), FiringStatus.SKIPPED, "busy"),
                ],
            )
            schedule_repo.decide(session, "fir_1", FiringStatus.FIRED, workflow=(flow.id, 1))
    finally:
        store.dispose()
    down_to(engine, "0015")
    with at_head(engine) as store:
        with store.read() as session:
            kept = {f.id: f for f in schedule_repo.firings(session, "sch_round")}
            sched = schedule_repo.get(session, "nightly")
        assert sched.target.ref == "release" and sched.timing.cron == "0 3 * * *"
        assert {k: (f.status, f.reason) for k, f in kept.items()} == {
            "fir_1": (FiringStatus.FIRED, None),
            "fir_2": (FiringStatus.SKIPPED, "busy"),
        }
        assert kept["fir_1"].workflow_id is None  # the link went with its column
        with store.write() as session:
            schedule_repo.decide(session, "fir_1", FiringStatus.FIRED, workflow=(flow.id, 1))
        with store.read() as session:
            assert schedule_repo.get_firing(session, "fir_1").workflow_id == flow.id
        with store.write() as session:
            session.execute(sa.text("DELETE FROM workflows WHERE id = :id"), {"id": flow.id})
        with store.read() as session:
            assert schedule_repo.get_firing(session, "fir_1").workflow_id is None
            assert len(schedule_repo.firings(session, "sch_round")) == 2


def test_a_schedules_firings_still_go_with_it_after_a_round_trip_below_0022(
    engine: sa.Engine,
) -> None:
    """SQLite rebuilds ``schedule_firings`` going down and up: its cascade from ``schedules``
    must survive the rebuild (a deleted schedule leaves no orphan firings)."""
    with at_head(engine) as store, store.write() as session:
        schedule_repo.insert(session, nightly())
        schedule_repo.add_firings(session, "sch_round", [("fir_1", T0, FiringStatus.PENDING, None)])
    down_to(engine, "0015")
    with at_head(engine) as store:
        with store.write() as session:
            schedule_repo.delete(session, "nightly")
        with store.read() as session:
            left = session.scalar(sa.text("SELECT count(*) FROM schedule_firings"))
        assert left == 0


def test_steps_are_found_by_their_task_after_going_below_0016_and_back(engine: sa.Engine) -> None:
    tables = at(engine, "head")
    definition = {"name": "release", "pattern": "sequence", "steps": []}
    with engine.begin() as conn:
        seed(conn, tables["tasks"], {"id": "tsk_step", "title": "build", "status": "completed"})
        seed(
            conn,
            tables["workflows"],
            {"id": "wf_round", "name": "release", "definition": definition},
        )
        seed(
            conn,
            tables["workflow_steps"],
            {
                "id": "wfs_round",
                "workflow_id": "wf_round",
                "step_key": "build",
                "task_id": "tsk_step",
                "output": "built",
            },
        )
    assert "ix_workflow_steps_task_id" in {
        i["name"] for i in sa.inspect(engine).get_indexes("workflow_steps")
    }
    down_to(engine, "0022")
    assert "ix_workflow_steps_task_id" not in {
        i["name"] for i in sa.inspect(engine).get_indexes("workflow_steps")
    }
    with at_head(engine) as store:
        with store.read() as session:
            step = step_repo.step_for_task(session, "tsk_step")
            task = task_repo.get(session, "tsk_step")
        assert step is not None and (step.id, step.output) == ("wfs_round", "built")
        assert task.title == "build"
        assert "ix_workflow_steps_task_id" in {
            i["name"] for i in sa.inspect(engine).get_indexes("workflow_steps")
        }
