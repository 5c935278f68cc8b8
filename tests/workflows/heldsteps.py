"""Steps held in flight until the test lets them go.

A test that must act while a step runs (pause, cancel) used to wait for the step's status
``running`` and give its scripted agent a delay of 0.5-1 s: on a loaded machine the poll missed
that window (or the pause landed after it) and the test failed for no fault of the product. A
held step's agent first asks to run a command: its card stays pending until the test decides
it, so the test cannot miss the state it acts in.
"""

from __future__ import annotations

import time
from typing import Any

from stagent.domain.approvals import Approval
from stagent.domain.workflow_runs import Workflow
from stagent.testing.workflows import step
from stagent.workspace import Workspace

BY = "person (via CLI)"
ASK = {"tool": "Bash", "input": {"command": "make hold"}}
"""What a held step's agent asks first (no rule allows it: a person decides)."""


def held_step(key: str, result: str, **extra: Any) -> dict[str, Any]:
    """A scripted step (as `stagent.testing.workflows.step`) whose agent waits for a person to
    allow `ASK` before it answers ``result``."""
    data = step(key, result, **extra)
    data["options"]["scripted"]["scenario"]["steps"].insert(1, dict(ASK))
    return data


def held_card(ws: Workspace, timeout: float = 60) -> Approval:
    """The oldest pending card of a held step (it stays pending until decided)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cards = [c for c in ws.approvals.list_pending() if c.tool == ASK["tool"]]
        if cards:
            return cards[0]
        time.sleep(0.05)
    raise AssertionError("no held step asked")


def release(ws: Workspace, card: Approval) -> None:
    """Let the held step go on."""
    ws.approvals.allow(card.id, by=BY)


def release_until_done(ws: Workspace, workflow_id: str, timeout: float = 90) -> Workflow:
    """Allow every held step's card as it comes until the workflow ends; the workflow then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for card in ws.approvals.list_pending():
            if card.tool == ASK["tool"]:
                release(ws, card)
        done = ws.workflows.wait(workflow_id, timeout=0.5)
        if not done.status.is_active:
            return done
    raise AssertionError(f"workflow {workflow_id} did not end in {timeout} s")
