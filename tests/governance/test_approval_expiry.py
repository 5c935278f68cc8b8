"""Reads do not write: listing the Inbox never closes a card; the worker's housekeeping does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from approvaltools import request, running_task

from stagent.domain.ids import utcnow
from stagent.governance.approvals import ApprovalDraft
from stagent.store import tables
from stagent.workspace import Workspace

pytestmark = pytest.mark.parametrize("db", ["sqlite", "postgres"])


@pytest.fixture
def ws(request: pytest.FixtureRequest, db: str) -> Workspace:
    """The SQLite or the PostgreSQL workspace."""
    name = "workspace" if db == "sqlite" else "pg_workspace"
    return request.getfixturevalue(name)


def _overdue_card(ws: Workspace) -> str:
    task = running_task(ws)
    call = request(task)
    [run] = ws.tasks.runs(task.id)
    card, _ = ws.approvals.open(
        ApprovalDraft(
            task_id=task.id, run_id=run.id, runtime="scripted", tool=call.tool, input=call.input
        )
    )
    with ws.store.write() as session:  # its waiter died long ago
        row = session.get(tables.ApprovalRequestRow, card.id)
        assert row is not None
        row.expires_at = utcnow() - timedelta(minutes=1)
    return card.id


def test_listing_the_inbox_changes_nothing_the_worker_expires_the_card(ws: Workspace) -> None:
    card_id = _overdue_card(ws)
    seq = ws.tasks.last_seq()
    assert [c.id for c in ws.approvals.list_pending()] == [card_id]
    assert ws.approvals.pending_count() == 1
    assert ws.tasks.last_seq() == seq, "a read wrote to the feed"
    ws.housekeeping()
    closed = ws.approvals.get(card_id)
    assert closed.status == "timed_out" and closed.decided_by == "timeout"
    assert ws.approvals.list_pending() == []
    run = ws.tasks.run_record(str(closed.run_id))
    assert run.waiting_on == ()  # the card's hold on its run was released
