"""Budget texts people read (refusals, warnings, reservation notes, a raise that does not raise)
show amounts by the one money rule (`shown_usd`: to the cent from a cent up); their JSON keeps
the exact micro-dollars."""

from __future__ import annotations

import pytest
from budgettools import alerts, new_task, rows, set_budget, spend, usd

from stagent.domain.errors import ValidationError
from stagent.governance.budgets_policy import CallScope
from stagent.workspace import Workspace


def _call(ws: Workspace, run_id: str = "run_1") -> CallScope:
    task = new_task(ws)
    return CallScope(runtime=task.runtime, task_id=task.id, run_id=run_id)


def test_a_refusal_and_its_notice_say_cents_and_the_json_keeps_the_exact_spend(
    workspace: Workspace,
) -> None:
    set_budget(workspace, daily=usd("1.000004"))
    spend(workspace, new_task(workspace), 1.234567)
    refused = workspace.budgets.admit(_call(workspace))
    assert not refused.allowed and refused.message is not None
    assert "overall daily cap $1.00 reached (spent $1.23)" in refused.message
    assert "1.234567" not in refused.message and "1.000004" not in refused.message
    (notice,) = alerts(workspace, "blocked")
    assert "$1.00" in notice.title and "1.000004" not in notice.title
    assert notice.payload["spent_usd"] == "1.234567" and notice.payload["cap_usd"] == "1.000004"
    limit = workspace.budgets.status("overall").as_json(workspace.budgets.zone)["daily"]
    assert limit["spent_usd"] == "1.234567"


def test_the_warning_notice_and_the_reservation_note_say_cents(workspace: Workspace) -> None:
    set_budget(workspace, daily=usd("10.004"), per_run=usd("2.345678"), warn_at=0.8)
    spend(workspace, new_task(workspace), 8.501234)
    (warning,) = alerts(workspace, "warning")
    assert "$8.50 of the overall daily cap $10.00" in warning.body
    assert workspace.budgets.admit(_call(workspace)).allowed
    (held,) = rows(workspace, status="reserved")
    assert held.note is not None
    assert "reserved $1.50 until the run's usage is known (per-run cap $2.35;" in held.note
    assert "headroom $1.50" in held.note
    assert held.cost_micros == 1_502_766  # the hold itself is exact: 10.004 - 8.501234


def test_a_raise_that_does_not_raise_says_cents_unless_they_read_alike(
    workspace: Workspace,
) -> None:
    set_budget(workspace, daily=usd("1"), per_run=usd("1"), on_breach="pause")
    spend(workspace, new_task(workspace), 1.0)
    admission = workspace.budgets.admit(_call(workspace), pausable=True)
    assert not admission.allowed and admission.card_id is not None
    with pytest.raises(ValidationError) as lower:
        workspace.budgets.respond(admission.card_id, "raise", usd("0.123456"))
    assert "amount: $0.12 does not raise the daily cap of $1.00" in str(lower.value)
    with pytest.raises(ValidationError) as alike:  # $1.00 vs $1.00 would be a riddle
        workspace.budgets.respond(admission.card_id, "raise", usd("0.999"))
    assert "amount: $0.999 does not raise the daily cap of $1.00" in str(alike.value)
