"""Revision 0006 turns each past run of a task into a run record and links what happened in it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from migrationtools import at, seed, upgraded

from stagent.domain.runs import RunStatus
from stagent.store.tables import RunRow

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _old_database(engine: sa.Engine) -> None:
    """Two tasks at 0005: one run twice (completed, then failed), one never run."""
    tables = at(engine, "0005")
    task: dict[str, Any] = {
        "title": "t",
        "status": "failed",
        "priority": 2,
        "run_count": 2,
        "error": "boom",
        "workflow_id": "tsk_old-run-2",
        "created_at": _at(0),
        "updated_at": _at(0),
    }
    config = {"scenario": {"steps": [{"text": "x"}]}, "_attempt": 2, "max_turns": 4}
    flow = [
        ("created", {"title": "t"}, 0),
        ("status", {"from": "planned", "to": "queued"}, 1),
        ("status", {"from": "queued", "to": "running"}, 2),
        ("text", {"text": "first"}, 3),
        ("status", {"from": "running", "to": "completed"}, 4),
        ("status", {"from": "completed", "to": "queued"}, 10),
        ("status", {"from": "queued", "to": "running"}, 11),
        ("status", {"from": "running", "to": "failed", "reason": "boom"}, 12),
    ]
    with engine.begin() as conn:
        seed(
            conn,
            tables["tasks"],
            {**task, "id": "tsk_old", "runtime_config": config},
            {**task, "id": "tsk_new", "status": "planned", "run_count": 0},
        )
        seed(
            conn,
            tables["agent_events"],
            *[
                {"task_id": "tsk_old", "kind": kind, "payload": payload, "created_at": _at(minute)}
                for kind, payload, minute in flow
            ],
        )
        seed(
            conn,
            tables["usage_ledger"],
            *[
                {
                    "id": ident,
                    "task_id": "tsk_old",
                    "runtime": "scripted",
                    "cost_micros": cost,
                    "cost_source": "reported",
                    "at": _at(minute),
                }
                for ident, minute, cost in (("use_1", 3, 100), ("use_2", 11, 40))
            ],
        )
        seed(
            conn,
            tables["approval_requests"],
            {
                "id": "apr_1",
                "task_id": "tsk_old",
                "runtime": "scripted",
                "tool": "Write",
                "input": {},
                "fingerprint": "f",
                "kind": "permission",
                "risk": "high",
                "status": "allowed",
                "created_at": _at(11),
            },
        )


def test_past_runs_become_records_and_their_rows_are_linked(engine: sa.Engine) -> None:
    _old_database(engine)
    store = upgraded(engine)
    with store.read() as session:
        runs = session.scalars(sa.select(RunRow).order_by(RunRow.number)).all()
        first, second = runs
        assert [(r.task_id, r.number, r.status) for r in runs] == [
            ("tsk_old", 1, RunStatus.COMPLETED.value),
            ("tsk_old", 2, RunStatus.FAILED.value),
        ]
        assert second.error == "boom" and second.stop_reason == "boom" and second.attempt == 2
        assert second.workflow_id == "tsk_old-run-2" and first.workflow_id is None
        assert second.options == {
            "scripted": {"scenario": {"steps": [{"text": "x"}]}},
            "limits": {"max_turns": 4},
        }
        assert (first.cost_micros, second.cost_micros) == (100, 40)
        linked = dict(session.execute(sa.text("SELECT id, run_id FROM usage_ledger")).all())
        assert linked == {"use_1": first.id, "use_2": second.id}
        card_run = session.execute(sa.text("SELECT run_id FROM approval_requests")).scalar()
        assert card_run == second.id
        rows = session.execute(
            sa.text("SELECT kind, run_id, subject_kind, subject_id FROM agent_events ORDER BY seq")
        ).all()
        assert rows[0] == ("created", None, "task", "tsk_old")
        assert {r[1] for r in rows[1:5]} == {first.id} and {r[1] for r in rows[5:]} == {second.id}
        options = session.execute(sa.text("SELECT options FROM tasks WHERE id = 'tsk_old'"))
        stored = options.scalar()
    stored = stored if isinstance(stored, dict) else json.loads(stored)
    assert "_attempt" not in str(stored) and stored["limits"] == {"max_turns": 4}
    from stagent.store import tasks as task_repo

    with store.read() as session:
        task = task_repo.get(session, "tsk_old")
    assert task.options.scripted is not None and task.options.limits.max_turns == 4
    store.dispose()
