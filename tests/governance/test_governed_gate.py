"""The gate itself, called the way a runtime calls it: rules, policy, cards, waiting, waking."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from approvaltools import question_input, request, running_task, wait_for_card

from stagent.domain.approvals import Approval
from stagent.domain.errors import ConflictError, ValidationError
from stagent.domain.tasks import TaskStatus
from stagent.governance.approvals import ApprovalDraft
from stagent.workspace import Workspace

pytestmark = pytest.mark.parametrize("db", ["sqlite", "postgres"])


@pytest.fixture
def ws(request: pytest.FixtureRequest, db: str) -> Workspace:
    """The SQLite or the PostgreSQL workspace."""
    name = "workspace" if db == "sqlite" else "pg_workspace"
    return request.getfixturevalue(name)


async def test_rules_and_policy_decide_at_once_naming_what_decided(ws: Workspace) -> None:
    ws.rules.add("Bash(rm *)", "deny")
    ws.rules.add("Bash(git status *)")
    task = running_task(ws, tool_policy={"auto_approve": ["Read"], "auto_deny": ["WebFetch"]})

    denied = await ws.gate.decide(request(task, "Bash", command="rm -rf build"))
    allowed = await ws.gate.decide(request(task, "Bash", command="git status --short"))
    policy = await ws.gate.decide(request(task, "Read", file_path="README.md"))
    policy_deny = await ws.gate.decide(request(task, "WebFetch", url="https://example.com"))

    assert not denied.allowed and denied.decided_by == "rule `Bash(rm *)`"
    assert "denied by rule" in denied.message
    assert allowed.allowed and allowed.decided_by == "rule `Bash(git status *)`"
    assert policy.allowed and policy.decided_by == "profile task policy `Read`"
    assert not policy_deny.allowed and policy_deny.decided_by == "profile task policy `WebFetch`"
    assert ws.approvals.pending_count() == 0
    assert ws.tasks.get(task.id).status is TaskStatus.RUNNING


async def test_rules_of_other_tasks_and_projects_do_not_apply(ws: Workspace) -> None:
    ws.projects.create("alpha")
    other = running_task(ws, "other")
    ws.rules.add("Write", scope="task", ref=other.id)
    ws.rules.add("Write", scope="project", ref="alpha")
    task = running_task(ws)

    pending = asyncio.create_task(ws.gate.decide(request(task)))
    card = await wait_for_card(ws, task.id)
    ws.approvals.deny(card.id, by="person (via CLI)")
    assert not (await pending).allowed
    assert (await ws.gate.decide(request(other))).allowed


async def test_a_waiting_task_shows_waiting_and_the_decision_wakes_it_fast(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ws.approvals, "_recheck", 3600.0)
    task = running_task(ws)
    pending = asyncio.create_task(ws.gate.decide(request(task)))
    card = await wait_for_card(ws, task.id)
    assert ws.tasks.get(task.id).status is TaskStatus.WAITING
    await asyncio.sleep(0.2)  # the agent is asleep on the change signal, not polling
    assert not pending.done()

    await asyncio.to_thread(ws.approvals.allow, card.id, by="person (via API)")
    # Its safety-net recheck is an hour away: only the commit's signal can wake it in time.
    decision = await asyncio.wait_for(pending, 60)

    assert decision.allowed and decision.decided_by == "person (via API)"
    assert ws.tasks.get(task.id).status is TaskStatus.RUNNING


async def test_identical_concurrent_requests_share_one_card(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = running_task(ws)
    opened: list[bool] = []  # one entry per request that reached its card: joined or not
    real_open = ws.approvals.open

    def counting_open(draft: ApprovalDraft) -> tuple[Approval, bool]:
        card, joined = real_open(draft)
        opened.append(joined)
        return card, joined

    monkeypatch.setattr(ws.approvals, "open", counting_open)
    calls = [asyncio.create_task(ws.gate.decide(request(task))) for _ in range(3)]
    different = asyncio.create_task(ws.gate.decide(request(task, "Bash", command="make")))
    # Decide only once every request waits on a card (a request that arrived after the decision
    # would rightly open a new card, and wait for a person again).
    while len(opened) < 4:
        await asyncio.sleep(0.02)
    assert sorted(opened) == [False, False, True, True]  # two cards; two requests joined one

    cards = ws.approvals.list_pending(task_id=task.id)
    assert sorted(c.tool for c in cards) == ["Bash", "Write"]
    write = next(c for c in cards if c.tool == "Write")
    ws.approvals.allow(write.id, by="person (via UI)")
    assert all(d.allowed for d in await asyncio.gather(*calls))
    # The Bash card is still open, so the task is still waiting.
    assert ws.tasks.get(task.id).status is TaskStatus.WAITING
    bash = next(c for c in cards if c.tool == "Bash")
    ws.approvals.deny(bash.id, by="person (via UI)", message="not now")
    denied = await different
    assert not denied.allowed and denied.message == "not now"
    assert ws.tasks.get(task.id).status is TaskStatus.RUNNING


async def test_a_second_decision_is_a_conflict_and_a_bad_rule_keeps_the_card(
    ws: Workspace,
) -> None:
    task = running_task(ws)
    pending = asyncio.create_task(ws.gate.decide(request(task, "Bash", command="npm test")))
    card = await wait_for_card(ws, task.id)
    assert card.suggested_rule == "Bash(npm test *)" and card.risk == "high"

    with pytest.raises(ValidationError, match="Bash"):
        ws.approvals.allow(card.id, by="p", always=True, rule="Bash(npm test")
    with pytest.raises(ValidationError, match="has no project"):
        ws.approvals.allow(card.id, by="p", always=True, scope="project")
    assert ws.approvals.get(card.id).pending and ws.rules.list() == []

    edited = ws.approvals.allow(card.id, by="p", always=True, rule="Bash(npm *)")
    assert edited.decision["rule"] == "Bash(npm *)" and edited.decision["scope"] == "task"
    with pytest.raises(ConflictError, match="already allowed"):
        ws.approvals.deny(card.id, by="someone else")
    decision = await pending
    assert decision.allowed and decision.always
    assert [(r.text, r.scope, r.scope_ref) for r in ws.rules.list()] == [
        ("Bash(npm *)", "task", task.id)
    ]


async def test_an_ask_rule_always_asks_and_suggests_nothing(ws: Workspace) -> None:
    ws.rules.apply_preset("full-auto")
    ws.rules.add("Bash(git push *)", "ask")
    task = running_task(ws)
    pending = asyncio.create_task(ws.gate.decide(request(task, "Bash", command="git push")))
    card = await wait_for_card(ws, task.id)
    assert card.suggested_rule is None
    assert card.why_asked == "decided by rule `Bash(git push *)`"
    ws.approvals.allow(card.id, by="p")
    assert (await pending).allowed


async def test_questions_come_back_as_answers(ws: Workspace) -> None:
    task = running_task(ws)
    call = request(task, "AskUserQuestion", **question_input())
    pending = asyncio.create_task(ws.gate.decide(call))
    card = await wait_for_card(ws, task.id)
    assert card.kind == "question" and [q.labels for q in card.questions] == [["red", "blue"]]
    with pytest.raises(ValidationError, match="has no answer"):
        ws.approvals.answer(card.id, by="p", answers={})
    with pytest.raises(ValidationError, match="not one of this card's questions"):
        ws.approvals.answer(card.id, by="p", answers={"Which size?": "L"})

    ws.approvals.answer(card.id, by="person (via UI)", answers={"Which color?": "red"})
    decision = await pending
    assert decision.allowed and decision.updated_input is not None
    assert decision.updated_input["answers"] == {"Which color?": "red"}
    assert decision.updated_input["questions"] == call.input["questions"]


async def test_a_malformed_tool_policy_is_refused_when_saved_and_an_unknown_task_is_refused(
    ws: Workspace,
) -> None:
    with pytest.raises(ValidationError, match=r"options\.tool_policy\.auto_approve"):
        running_task(ws, tool_policy={"auto_approve": "Write"})
    with pytest.raises(
        ValidationError, match=r"options\.tool_policy\.auto_deny: Rule `Bash\(unclosed`"
    ):
        running_task(ws, tool_policy={"auto_deny": ["Bash(unclosed"]})
    task = running_task(ws)
    unknown = await ws.gate.decide(request(dataclasses.replace(task, id="tsk_x")))
    assert not unknown.allowed and "no task" in unknown.message
