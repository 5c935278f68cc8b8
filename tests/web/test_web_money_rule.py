"""Money on the task and workflow pages follows the Costs page's one rule (`shown_usd`, the
templates' ``usd`` filter): to the cent from a cent up, two significant digits below, "$0.00"
for nothing -- not the exact micro-dollars the API gives."""

from __future__ import annotations

import pytest

from stagent.domain.workflow_runs import StepCost
from stagent.web.ui.fragments import run_cost
from stagent.web.ui.workflow_views import total_cost


@pytest.mark.parametrize(
    ("micros", "shown"),
    [(0, "$0.00"), (1_234, "$0.0012"), (123_456, "$0.12"), (1_204_500_000, "$1,204.50")],
)
def test_a_live_runs_cost_on_the_task_page(micros: int, shown: str) -> None:
    assert run_cost(micros) == f"{shown} <small>so far</small>"


def test_a_workflow_runs_total_in_its_header() -> None:
    assert total_cost([StepCost(1_204_500_000), StepCost(1_234)]) == "$1,204.50"
    assert total_cost([StepCost(13), StepCost(0, simulated=True)]) == "$0.000013 + simulated steps"
