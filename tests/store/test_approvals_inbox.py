"""Approval cards and inbox items as the store keeps them: a card is decided at most once (of two
people racing, one wins and the other is told who did), deciding it logs the decision and
releases its run's hold, and every inbox change announces itself on the feed. On SQLite and
PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from storetools import bash_card, claimed_run, new_task

from stagent.domain.approvals import Approval, ApprovalKind, fingerprint
from stagent.domain.errors import ConflictError, NotFoundError
from stagent.domain.ids import utcnow
from stagent.domain.runs import RunStatus, Subject
from stagent.domain.tasks import TaskStatus
from stagent.store import approvals as approval_repo
from stagent.store import events as event_repo
from stagent.store import inbox as inbox_repo
from stagent.store import lifecycle
from stagent.store import runs as run_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store


def card(
    store: Store,
    task_id: str | None,
    *,
    run_id: str | None = None,
    tool: str = "Bash",
    tool_input: dict[str, Any] | None = None,
    kind: ApprovalKind = "permission",
) -> Approval:
    with store.write() as session:
        return bash_card(
            session,
            task_id,
            run_id=run_id,
            tool=tool,
            tool_input=tool_input,
            kind=kind,
            suggested_rule="Bash(rm -rf build)",
            expires_at=utcnow() + timedelta(minutes=5),
        )


def waiting_on_card(store: Store) -> tuple[str, str, Approval]:
    """A running run held by a pending card: (task id, run id, card)."""
    claim = claimed_run(store)
    made = card(store, claim.task.id, run_id=claim.run.id)
    with store.write() as session:
        lifecycle.suspend(
            session,
            claim.run.id,
            approval_repo.approval_hold(made.id),
            reason="Bash needs a person",
            attempt=claim.attempt,
        )
    return claim.task.id, claim.run.id, made


# ------------------------------------------------------------------------------- cards


def test_a_card_keeps_what_the_person_must_see(store: Store) -> None:
    task_id = new_task(store)
    made = card(store, task_id, tool_input={"command": "git push --force", "n": 1})
    with store.read() as session:
        loaded = approval_repo.get(session, made.id)
    assert made.id.startswith("apr_") and loaded.status == "pending"
    assert loaded.tool == "Bash" and loaded.input == {"command": "git push --force", "n": 1}
    assert loaded.fingerprint == fingerprint("Bash", {"n": 1, "command": "git push --force"})
    assert loaded.decision == {"why_asked": "no rule covers it"}
    assert loaded.risk == "high" and loaded.suggested_rule == "Bash(rm -rf build)"
    assert loaded.created_at is not None and loaded.expires_at is not None
    assert loaded.expires_at > loaded.created_at and loaded.decided_at is None


def test_a_missing_card_is_not_found_with_a_hint(store: Store) -> None:
    with store.read() as session, pytest.raises(NotFoundError, match="apr_nope") as caught:
        approval_repo.get(session, "apr_nope")
    assert "stagent inbox" in (caught.value.hint or "")


def test_the_same_call_of_a_task_finds_its_pending_card(store: Store) -> None:
    task_id = new_task(store)
    other = new_task(store)
    made = card(store, task_id)
    print_ = fingerprint("Bash", {"command": "rm -rf build"})
    with store.read() as session:
        assert approval_repo.find_pending(session, task_id, print_) == made
        assert approval_repo.find_pending(session, other, print_) is None
        assert approval_repo.find_pending(session, task_id, fingerprint("Bash", {})) is None
    with store.write() as session:
        approval_repo.decide(session, made.id, status="denied", decided_by="me", decision={})
    with store.read() as session:
        assert approval_repo.find_pending(session, task_id, print_) is None


def test_a_decision_closes_the_card_once_and_keeps_why_it_was_asked(store: Store) -> None:
    made = card(store, new_task(store))
    with store.write() as session:
        closed = approval_repo.decide(
            session, made.id, status="allowed", decided_by="person:cli", decision={"scope": "once"}
        )
    assert closed.status == "allowed" and closed.decided_by == "person:cli"
    assert closed.decision == {"why_asked": "no rule covers it", "scope": "once"}
    assert closed.decided_at is not None
    with (
        pytest.raises(ConflictError, match="already allowed \\(by person:cli\\)") as caught,
        store.write() as session,
    ):
        approval_repo.decide(session, made.id, status="denied", decided_by="timeout", decision={})
    assert "nothing was changed" in (caught.value.hint or "")
    with store.read() as session:
        assert approval_repo.get(session, made.id).status == "allowed"


def test_the_conflict_message_spells_a_timed_out_card_in_words(store: Store) -> None:
    made = card(store, new_task(store))
    with store.write() as session:
        approval_repo.decide(session, made.id, status="timed_out", decided_by="clock", decision={})
    with pytest.raises(ConflictError, match="already timed out"), store.write() as session:
        approval_repo.decide(session, made.id, status="allowed", decided_by="me", decision={})


def test_two_people_deciding_at_once_one_wins_and_the_other_is_told(store: Store) -> None:
    made = card(store, new_task(store))
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def decide(who: str, status: str) -> None:
        barrier.wait()
        try:
            with store.write() as session:
                approval_repo.decide(
                    session,
                    made.id,
                    status=status,  # type: ignore[arg-type]
                    decided_by=who,
                    decision={},
                )
            outcomes[who] = "won"
        except ConflictError as exc:
            outcomes[who] = exc.message

    threads = [
        threading.Thread(target=decide, args=("alice", "allowed")),
        threading.Thread(target=decide, args=("bob", "denied")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    winners = [who for who, outcome in outcomes.items() if outcome == "won"]
    assert len(winners) == 1 and len(outcomes) == 2
    [loser] = [who for who in outcomes if who not in winners]
    assert f"(by {winners[0]})" in outcomes[loser]
    with store.read() as session:
        assert approval_repo.get(session, made.id).decided_by == winners[0]


def test_pending_cards_list_oldest_first_and_count_per_task(store: Store) -> None:
    a = new_task(store, "a")
    b = new_task(store, "b")
    first = card(store, a, tool_input={"i": 1})
    second = card(store, b, tool_input={"i": 2})
    third = card(store, a, tool_input={"i": 3})
    with store.write() as session:
        approval_repo.decide(session, second.id, status="denied", decided_by="me", decision={})
    with store.read() as session:
        assert [c.id for c in approval_repo.list_pending(session)] == [first.id, third.id]
        assert [c.id for c in approval_repo.list_pending(session, task_id=b)] == []
        assert approval_repo.pending_count(session) == 2
        assert approval_repo.pending_count(session, task_id=a) == 2
        assert approval_repo.pending_count(session, task_id=b) == 0


def test_recent_lists_closed_cards_newest_decision_first(store: Store) -> None:
    task_id = new_task(store)
    made = [card(store, task_id, tool_input={"i": i}) for i in range(3)]
    for c in (made[2], made[0]):
        with store.write() as session:
            approval_repo.decide(session, c.id, status="allowed", decided_by="me", decision={})
        time.sleep(0.002)  # distinct decision times
    with store.read() as session:
        assert [c.id for c in approval_repo.recent(session)] == [made[0].id, made[2].id]
        assert [c.id for c in approval_repo.recent(session, limit=1)] == [made[0].id]
        assert approval_repo.recent(session, task_id="tsk_other") == []


def test_a_recovered_run_finds_the_checkpoint_card_it_opened(store: Store) -> None:
    claim = claimed_run(store)
    card(store, claim.task.id, run_id=claim.run.id, kind="permission")
    checkpoint = card(store, claim.task.id, run_id=claim.run.id, kind="checkpoint", tool="step")
    with store.read() as session:
        assert approval_repo.for_run(session, claim.run.id, "checkpoint") == checkpoint
        assert approval_repo.for_run(session, claim.run.id, "question") is None
        assert approval_repo.for_run(session, "run_other", "checkpoint") is None


def test_closing_a_card_logs_the_decision_and_resumes_the_run(store: Store) -> None:
    task_id, run_id, made = waiting_on_card(store)
    with store.write() as session:
        closed = approval_repo.close_card(
            session,
            made,
            "allowed",
            "person:web",
            {"rule": "Bash(rm -rf build)", "rule_id": "rul_1", "ignored": "x"},
            "allowed by a person",
        )
    assert closed.status == "allowed"
    with store.read() as session:
        run = run_repo.get(session, run_id)
        task = task_repo.get(session, task_id)
        decision = [e for e in event_repo.for_task(session, task_id) if e.kind == "decision"]
    assert run.status is RunStatus.RUNNING and run.waiting_on == ()
    assert task.status is TaskStatus.RUNNING
    [logged] = decision
    assert logged.run_id == run_id
    assert logged.payload == {
        "message": "allowed by a person",
        "approval_id": made.id,
        "tool": "Bash",
        "status": "allowed",
        "decided_by": "person:web",
        "rule": "Bash(rm -rf build)",
        "rule_id": "rul_1",
    }


def test_a_run_held_by_two_cards_resumes_only_after_both(store: Store) -> None:
    task_id, run_id, first = waiting_on_card(store)
    second = card(store, task_id, run_id=run_id, tool_input={"command": "ls"})
    with store.write() as session:
        lifecycle.suspend(session, run_id, approval_repo.approval_hold(second.id), reason="ls?")
        approval_repo.close_card(session, first, "allowed", "me", {}, "ok")
    with store.read() as session:
        assert run_repo.get(session, run_id).status is RunStatus.WAITING
    with store.write() as session:
        approval_repo.close_card(session, second, "denied", "me", {}, "no")
    with store.read() as session:
        assert run_repo.get(session, run_id).status is RunStatus.RUNNING


def test_closing_a_card_twice_is_a_conflict_and_logs_once(store: Store) -> None:
    task_id, _, made = waiting_on_card(store)
    with store.write() as session:
        approval_repo.close_card(session, made, "denied", "me", {}, "denied")
    with pytest.raises(ConflictError), store.write() as session:
        approval_repo.close_card(session, made, "allowed", "other", {}, "allowed")
    with store.read() as session:
        assert event_repo.count(session, task_id, "decision") == 1


def test_closing_the_card_of_a_deleted_task_only_closes_it(store: Store) -> None:
    task_id = new_task(store)
    made = card(store, task_id)
    with store.write() as session:
        task_repo.delete(session, task_id)
    with store.write() as session:
        closed = approval_repo.close_card(session, made, "cancelled", "system", {}, "gone")
    assert closed.status == "cancelled"
    with store.read() as session:
        assert event_repo.count(session, task_id, "decision") == 0


def test_a_card_about_no_task_closes_without_a_log_line(store: Store) -> None:
    made = card(store, None)
    with store.write() as session:
        closed = approval_repo.close_card(session, made, "allowed", "me", {}, "ok")
    assert closed.status == "allowed" and closed.task_id is None


def test_a_card_closed_after_its_run_ended_does_not_revive_it(store: Store) -> None:
    task_id, run_id, made = waiting_on_card(store)
    with store.write() as session:
        lifecycle.cancel_task(session, task_id, reason="stop")
    with store.write() as session:
        closed = approval_repo.close_card(session, made, "allowed", "me", {}, "late")
    assert closed.status == "allowed"
    with store.read() as session:
        run = run_repo.get(session, run_id)
        assert task_repo.get(session, task_id).status is TaskStatus.CANCELLED
    assert run.status is RunStatus.CANCELLED and run.waiting_on == ()


# ------------------------------------------------------------------------------- inbox


def notices(store: Store) -> list[dict[str, Any]]:
    with store.read() as session:
        return [e.payload for e in event_repo.since(session, 0) if e.kind == "notice"]


def test_an_inbox_item_is_announced_on_the_feed_when_created(store: Store) -> None:
    task_id = new_task(store)
    with store.write() as session:
        item = inbox_repo.create(
            session,
            kind="task_failed",
            title="Task failed",
            body="the build broke",
            payload={"exit": 2},
            task_id=task_id,
        )
    assert item.id.startswith("inb_") and not item.read and item.response is None
    with store.read() as session:
        [event] = [e for e in event_repo.since(session, 0) if e.kind == "notice"]
    assert event.task_id is None and event.subject == Subject("inbox", item.id)
    assert event.payload == {
        "message": "Task failed (created)",
        "inbox_id": item.id,
        "inbox_kind": "task_failed",
        "action": "created",
        "task_id": task_id,
    }


def test_a_budget_item_is_about_its_budget_scope(store: Store) -> None:
    with store.write() as session:
        runtime = inbox_repo.create(
            session,
            kind="budget_alert",
            title="Claude at 80%",
            payload={"scope": "runtime", "scope_ref": "claude"},
        )
        overall = inbox_repo.create(
            session, kind="budget_alert", title="80%", payload={"scope": "overall"}
        )
    assert inbox_repo.subject_of(runtime) == Subject("budget", "runtime:claude")
    assert inbox_repo.subject_of(overall) == Subject("budget", "overall")
    with store.read() as session:
        subjects = [e.subject for e in event_repo.since(session, 0)]
    assert subjects == [Subject("budget", "runtime:claude"), Subject("budget", "overall")]


def test_reading_an_item_counts_down_the_badge_once(store: Store) -> None:
    with store.write() as session:
        a = inbox_repo.create(session, kind="message", title="a")
        inbox_repo.create(session, kind="message", title="b")
    with store.read() as session:
        assert inbox_repo.unread_count(session) == 2
    for _ in range(2):
        with store.write() as session:
            inbox_repo.mark_read(session, a.id)
    with store.read() as session:
        assert inbox_repo.unread_count(session) == 1
        assert [i.title for i in inbox_repo.list_items(session, unread_only=True)] == ["b"]
    assert [n["action"] for n in notices(store)] == ["created", "created", "read"]


def test_an_item_is_answered_once_and_the_answer_marks_it_read(store: Store) -> None:
    with store.write() as session:
        item = inbox_repo.create(session, kind="question", title="Which branch?")
    with store.write() as session:
        answered = inbox_repo.respond(session, item.id, {"answer": "main"})
    assert answered.response == {"answer": "main"} and answered.read
    assert answered.responded_at is not None
    with (
        pytest.raises(ConflictError, match="already answered"),
        store.write() as session,
    ):
        inbox_repo.respond(session, item.id, {"answer": "dev"})
    with store.read() as session:
        [loaded] = inbox_repo.list_items(session)
    assert loaded.response == {"answer": "main"}
    assert [n["action"] for n in notices(store)] == ["created", "answered"]


def test_two_people_answering_at_once_one_answer_stays(store: Store) -> None:
    """The first answer holds its transaction open while a second person answers: the second
    must be refused, not overwrite the first."""
    with store.write() as session:
        item = inbox_repo.create(session, kind="question", title="Which branch?")
    first_answered = threading.Event()
    let_first_commit = threading.Event()
    outcomes: dict[str, str] = {}

    def first() -> None:
        with store.write() as session:
            inbox_repo.respond(session, item.id, {"answer": "main"})
            first_answered.set()
            let_first_commit.wait(timeout=10)
        outcomes["first"] = "answered"

    def second() -> None:
        try:
            with store.write() as session:
                inbox_repo.respond(session, item.id, {"answer": "dev"})
            outcomes["second"] = "answered"
        except ConflictError:
            outcomes["second"] = "refused"

    one = threading.Thread(target=first)
    one.start()
    assert first_answered.wait(timeout=10)
    two = threading.Thread(target=second)
    two.start()
    time.sleep(0.2)  # the second answer reached the database and waits on the first
    let_first_commit.set()
    one.join(timeout=30)
    two.join(timeout=30)
    assert outcomes == {"first": "answered", "second": "refused"}
    with store.read() as session:
        assert inbox_repo.list_items(session)[0].response == {"answer": "main"}


def test_items_list_newest_first_and_filter_by_kind(store: Store) -> None:
    with store.write() as session:
        inbox_repo.create(session, kind="message", title="old")
    time.sleep(0.002)
    with store.write() as session:
        inbox_repo.create(session, kind="task_failed", title="new")
    with store.read() as session:
        assert [i.title for i in inbox_repo.list_items(session)] == ["new", "old"]
        assert [i.title for i in inbox_repo.list_items(session, kind="message")] == ["old"]
        assert len(inbox_repo.list_items(session, limit=1)) == 1


def test_a_missing_inbox_item_is_not_found(store: Store) -> None:
    for act in (
        lambda s: inbox_repo.mark_read(s, "inb_nope"),
        lambda s: inbox_repo.respond(s, "inb_nope", {}),
    ):
        with pytest.raises(NotFoundError, match="inb_nope"), store.write() as session:
            act(session)


def test_an_item_of_a_run_names_the_run_on_its_notice(store: Store) -> None:
    claim = claimed_run(store)
    with store.write() as session:
        item = inbox_repo.create(
            session,
            kind="budget_breach",
            title="Paused at the cap",
            task_id=claim.task.id,
            run_id=claim.run.id,
        )
    assert item.run_id == claim.run.id
    with store.read() as session:
        [event] = [e for e in event_repo.since(session, 0) if e.kind == "notice"]
    assert event.run_id == claim.run.id and event.payload["task_id"] == claim.task.id
