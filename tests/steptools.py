"""Waiting for a workflow step's agent (importable from every test: ``tests/`` is on
``sys.path``).

A step's task is ``running`` from the moment its run is claimed, a moment before its agent
starts; under load that moment is long. A test that kills a worker "mid-step" and then counts
how often the step's agent started must wait for the agent itself: each scripted run logs one
text event before anything else, an event a poll cannot miss.
"""

from __future__ import annotations

import time

from stagent.workspace import Workspace


def agent_turns(ws: Workspace, task_id: str) -> int:
    """How many times a scripted step's agent started (each run writes one text event first)."""
    return sum(1 for e in ws.tasks.events(task_id) if e.kind == "text")


def wait_for_started_agent(ws: Workspace, workflow_id: str, key: str, timeout: float = 60) -> str:
    """The task of step ``key`` once its agent started (its first text event is logged)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = next((s for s in ws.workflows.get(workflow_id).steps if s.key == key), None)
        if state is not None and state.task_id and agent_turns(ws, state.task_id) >= 1:
            return state.task_id
        time.sleep(0.05)
    raise AssertionError(f"the agent of step {key} never started")
