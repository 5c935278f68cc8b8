"""Approval cards at their edges, on a real SQLite workspace with no worker: a card left behind
by a task that ended, a checkpoint nobody answered, a decision that does not fit the card, and
who counts as the person at the CLI."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from approvaltools import question_input, request, running_task

from stagent.domain.approvals import TASK_ENDED_BY, TIMED_OUT_BY
from stagent.domain.errors import ValidationError
from stagent.domain.ids import utcnow
from stagent.governance.approvals import ApprovalDraft
from stagent.governance.owner import NotThePersonError
from stagent.store import tables
from stagent.workspace import Workspace


def _card(ws: Workspace, **fields: object) -> tuple[str, str]:
    """A pending card of a running task with nobody waiting on it: (task id, card id)."""
    task = running_task(ws)
    call = request(task)
    [run] = ws.tasks.runs(task.id)
    draft = {"tool": call.tool, "input": call.input, **fields}
    card, _ = ws.approvals.open(
        ApprovalDraft(task_id=task.id, run_id=run.id, runtime="scripted", **draft)  # type: ignore[arg-type]
    )
    return task.id, card.id


def _log(ws: Workspace, task_id: str) -> list[str]:
    return [str(e.payload.get("message")) for e in ws.tasks.events(task_id) if e.kind == "decision"]


def test_a_card_left_by_a_task_that_ended_is_closed_by_the_sweep_and_says_why(
    workspace: Workspace,
) -> None:
    task_id, card_id = _card(workspace)
    workspace.tasks.cancel(task_id)  # its worker died: nobody waits on the card any more
    assert workspace.approvals.get(card_id).pending

    assert workspace.approvals.sweep() == 1
    card = workspace.approvals.get(card_id)
    assert (card.status, card.decided_by) == ("cancelled", TASK_ENDED_BY)
    assert card.decision["message"] == "The task ended before anyone answered."
    assert _log(workspace, task_id) == ["Write request cancelled: the task ended"]
    assert workspace.approvals.sweep() == 0  # closed once


def test_a_checkpoint_nobody_answered_times_out_in_its_own_words(workspace: Workspace) -> None:
    task_id, card_id = _card(workspace, tool="step deploy", kind="checkpoint", input={})
    with workspace.store.write() as session:  # opened 11 minutes ago with a 10-minute timeout
        row = session.get(tables.ApprovalRequestRow, card_id)
        assert row is not None
        # As a workflow opens it: the expiry is computed a moment before the row's creation time.
        row.expires_at = utcnow() - timedelta(minutes=1)
        row.created_at = row.expires_at - timedelta(minutes=10) + timedelta(milliseconds=3)

    assert workspace.approvals.sweep() == 1
    card = workspace.approvals.get(card_id)
    assert (card.status, card.decided_by) == ("timed_out", TIMED_OUT_BY)
    assert card.decision["message"] == (
        "No one answered this step deploy workflow checkpoint within 10 min; "
        "it timed out and was denied."
    )
    assert _log(workspace, task_id) == ["step deploy request timed out after 10 min: denied"]


@pytest.mark.parametrize(
    ("fields", "decide", "refusal"),
    [
        (
            {"tool": "AskUserQuestion", "kind": "question", "input": question_input()},
            {"always": False},
            "asks a question; answer it or deny it",
        ),
        ({}, {"comment": "looks fine"}, "a comment goes with a workflow checkpoint"),
        ({}, {"always": True}, "there is no suggested rule for this Write call"),
        (
            {"tool": "step deploy", "kind": "checkpoint", "input": {}},
            {"always": True},
            "is a workflow checkpoint; it is approved once, with no rule",
        ),
    ],
)
def test_an_allow_that_does_not_fit_the_card_is_refused_and_the_card_stays(
    workspace: Workspace, fields: dict[str, object], decide: dict[str, object], refusal: str
) -> None:
    task_id, card_id = _card(workspace, **fields)
    with pytest.raises(ValidationError, match=refusal):
        workspace.approvals.allow(card_id, by="alice", **decide)  # type: ignore[arg-type]
    assert workspace.approvals.get(card_id).pending
    assert _log(workspace, task_id) == []
    assert workspace.rules.list() == []


def test_the_person_at_the_cli_proves_it_by_the_token_file_or_stagent_token(
    workspace: Workspace, tmp_path: Path
) -> None:
    owner = workspace.owner
    token = workspace.owner_token()
    missing = tmp_path / "nowhere" / "owner.token"
    wrong = tmp_path / "wrong.token"
    wrong.write_text("not-the-token\n")

    assert owner.prove_cli(missing, token) == "person (via CLI, STAGENT_TOKEN)"
    assert owner.prove_cli(workspace.owner_token_path, None) == (
        "person (via CLI, owner token file)"
    )
    with pytest.raises(NotThePersonError) as refused:
        owner.prove_cli(wrong, "guessed")
    assert refused.value.message == (
        f"this decision needs the person: {wrong} is not this database's owner token; "
        "STAGENT_TOKEN is not this database's owner token"
    )
    with pytest.raises(NotThePersonError, match=f"{missing} cannot be read"):
        owner.prove_cli(missing, None)
    assert not owner.matches("") and not owner.matches(None)
