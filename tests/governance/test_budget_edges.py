"""Budgets at their edges, on a real SQLite workspace: settings that could never be a budget are
refused by field and save nothing; a stored row broken by hand (or by an older version) stops
every new provider call and says what is wrong with it (fail closed)."""

from __future__ import annotations

import pytest
from budgettools import new_task, set_budget, usd
from sqlalchemy import text

from stagent.domain.errors import ValidationError
from stagent.governance.budgets_config import BudgetChange
from stagent.governance.budgets_policy import BudgetPolicyError, CallScope
from stagent.workspace import Workspace


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        (BudgetChange(daily=-2), "daily: a cap must be zero or more"),
        (BudgetChange(monthly=-5), "monthly: a cap must be zero or more"),
        (BudgetChange(per_run=0), "per_run: a per-run cap must be more than zero"),
        (BudgetChange(warn_at=0.0, daily=1), "warn_at: 0.0 is not a fraction of the cap"),
        (BudgetChange(warn_at=float("nan"), daily=1), "warn_at: nan is not a fraction"),
        (BudgetChange(on_breach="explode", daily=1), "on_breach: 'explode' is not fail or pause"),
        (BudgetChange(), "nothing to change: give a cap"),
        (BudgetChange(scope="galaxy", daily=1), "scope: 'galaxy' is not a budget scope"),
        (
            BudgetChange(scope="overall", ref="codex", daily=1),
            "scope: the overall budget takes no runtime or project",
        ),
        (BudgetChange(scope="runtime", daily=1), "scope: a runtime budget needs the runtime's"),
        (BudgetChange(scope="project", daily=1), "scope: a project budget needs the project's"),
        (BudgetChange(scope="runtime", ref="gpt-9", daily=1), "runtime: unknown runtime 'gpt-9'"),
    ],
)
def test_a_setting_that_could_never_be_a_budget_is_refused_and_saves_nothing(
    workspace: Workspace, change: BudgetChange, refusal: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        workspace.budgets.set(change)
    assert refusal in refused.value.message
    assert [s for s in workspace.budgets.statuses() if s.configured] == []


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        ("scope = 'galaxy'", "has an unknown scope 'galaxy'"),
        ("scope_ref = 'codex'", "has a scope reference that does not fit its scope"),
        ("daily_cap_micros = -1", "has an invalid daily_cap_micros -1"),
        ("warn_at = 0", "has an invalid warn_at 0.0"),
        ("warn_at = 1.5", "has an invalid warn_at 1.5"),
        ("on_breach = 'explode'", "has an invalid on_breach 'explode'"),
    ],
)
def test_a_budget_row_broken_by_hand_refuses_new_calls_and_says_what_is_wrong(
    workspace: Workspace, damage: str, problem: str
) -> None:
    set_budget(workspace, daily=usd("4"))
    task = new_task(workspace)
    call = CallScope(runtime=task.runtime, project_id=None, task_id=task.id, run_id="run_1")
    with workspace.store.write() as session:
        session.execute(text(f"UPDATE budgets SET {damage}"))

    with pytest.raises(BudgetPolicyError) as refused:
        workspace.budgets.admit(call)
    message = refused.value.message
    assert message.startswith("budget policy unreadable: budget bgt_")
    assert message.endswith(f"{problem}; new provider calls are refused")
    assert refused.value.hint is not None and "stagent budget clear" in refused.value.hint
