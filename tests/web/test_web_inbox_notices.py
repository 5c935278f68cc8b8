"""Budget notices and breach cards reach an open Inbox live, and count in the nav's badge."""

from __future__ import annotations

import asyncio

import pytest
from sse_starlette import ServerSentEvent

from stagent.domain.events import UsageEvent
from stagent.engine.services import TaskDraft
from stagent.governance.budgets_config import BudgetChange
from stagent.governance.budgets_policy import CallScope
from stagent.web.ui.stream import Topics, live_events
from stagent.workspace import Workspace

pytestmark = pytest.mark.parametrize("db", ["sqlite", "postgres"])


@pytest.fixture
def ws(request: pytest.FixtureRequest, db: str) -> Workspace:
    """The SQLite or the PostgreSQL workspace."""
    name = "workspace" if db == "sqlite" else "pg_workspace"
    return request.getfixturevalue(name)


async def _until(stream: object, name: str) -> list[ServerSentEvent]:
    seen: list[ServerSentEvent] = []
    async with asyncio.timeout(60):
        async for event in stream:  # type: ignore[attr-defined]
            seen.append(event)
            if event.event == name:
                return seen
    raise AssertionError("stream ended")


def _over_the_cap(ws: Workspace, *, pause: bool = False) -> str:
    """Spend past a 1-cent daily cap, then ask to start more work: refused (or paused)."""
    ws.budgets.set(BudgetChange(daily=10_000, on_breach="pause" if pause else "fail"))
    # real spend: a simulated runtime's usage never counts against a budget
    task = ws.tasks.create(TaskDraft(title="spender", runtime="anthropic"))
    ws.budgets.record_usage(task, UsageEvent(model="claude-sonnet-4-6", cost_usd=0.05))
    call = CallScope(runtime="anthropic", task_id=task.id)
    admission = ws.budgets.admit(call, pausable=pause)
    assert not admission.allowed
    return task.id


async def test_a_blocked_call_notice_appears_live_and_counts_in_the_badge(ws: Workspace) -> None:
    stream = live_events(ws, after=ws.tasks.last_seq(), topics=Topics(inbox=True))
    try:
        _over_the_cap(ws)
        events = await _until(stream, "inbox-notices")
        events += await _until(stream, "inbox-badge")
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    notices = next(e for e in events if e.event == "inbox-notices")
    assert "new work is refused" in str(notices.data)  # the blocked-call notice
    assert "Budget warning" in str(notices.data)  # and the threshold warning before it
    badge = [e for e in events if e.event == "inbox-badge"][-1]
    assert 'data-count="2"' in str(badge.data)
    assert ws.approvals.inbox_count() == 2
    [feed] = [e for e in ws.tasks.feed() if e.kind == "notice"][-1:]
    assert feed.task_id is None and feed.subject is not None
    assert (feed.subject.kind, feed.subject.id) == ("budget", "overall")


async def test_a_breach_card_appears_live_and_reading_a_notice_lowers_the_badge(
    ws: Workspace,
) -> None:
    stream = live_events(ws, after=ws.tasks.last_seq(), topics=Topics(inbox=True))
    try:
        _over_the_cap(ws, pause=True)
        events = await _until(stream, "inbox-notices")
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    html = str(events[-1].data)
    assert "Work waiting on a budget" in html and "Raise the cap to this" in html
    before = ws.approvals.inbox_count()
    [warning] = [n for n in ws.approvals.notices.list() if n.kind == "budget_alert"]
    ws.approvals.notices.mark_read(warning.id)
    assert ws.approvals.inbox_count() == before - 1
    [card] = ws.budgets.breaches()
    ws.budgets.respond(card.id, "cancel")
    assert ws.approvals.inbox_count() == before - 2
