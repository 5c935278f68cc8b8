"""Helpers for the approval tests: running tasks, waiting for cards, the person's headers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from stagent.domain.approvals import Approval
from stagent.domain.tasks import Task
from stagent.engine.services import TaskDraft
from stagent.runtimes.base import PermissionRequest
from stagent.store import lifecycle
from stagent.workspace import Workspace


def scenario(*steps: dict[str, Any], result: str = "done") -> dict[str, Any]:
    """A scripted-runtime scenario."""
    return {"steps": list(steps), "result": result}


def write_step(path: str = "notes.md", content: str = "hi") -> dict[str, Any]:
    """A scenario step that asks to Write a file."""
    return {"tool": "Write", "input": {"file_path": path, "content": content}, "output": "wrote"}


def question_input(text: str = "Which color?") -> dict[str, Any]:
    """An AskUserQuestion input with two options."""
    options = [{"label": "red", "description": "warm"}, {"label": "blue", "description": "cool"}]
    return {"questions": [{"question": text, "header": "Color", "options": options}]}


def running_task(ws: Workspace, title: str = "t", **config: Any) -> Task:
    """A task moved to ``running`` without a worker (for calling the gate directly)."""
    task = ws.tasks.create(TaskDraft(title=title, options=config or None))
    with ws.store.write() as session:
        lifecycle.queue_run(session, task.id, ws.tasks.get(task.id).options)
        lifecycle.claim(session, task.id, 1)
    return ws.tasks.get(task.id)


def request(task: Task, tool: str = "Write", **tool_input: Any) -> PermissionRequest:
    """A permission request of ``task`` (default: Write notes.md)."""
    data = tool_input or {"file_path": "notes.md", "content": "hi"}
    return PermissionRequest(task_id=task.id, runtime="scripted", tool=tool, input=data)


async def wait_for_card(ws: Workspace, task_id: str, timeout: float = 20.0) -> Approval:
    """The task's first pending card, once it exists."""
    deadline = time.monotonic() + timeout
    while True:
        cards = ws.approvals.list_pending(task_id=task_id)
        if cards:
            return cards[0]
        assert time.monotonic() < deadline, "no approval card appeared"
        await asyncio.sleep(0.02)


def wait_for_card_sync(ws: Workspace, task_id: str, timeout: float = 20.0) -> Approval:
    """`wait_for_card` for synchronous tests."""
    deadline = time.monotonic() + timeout
    while True:
        cards = ws.approvals.list_pending(task_id=task_id)
        if cards:
            return cards[0]
        assert time.monotonic() < deadline, "no approval card appeared"
        time.sleep(0.02)


def owner_headers(ws: Workspace) -> dict[str, str]:
    """What the person's own HTTP client sends."""
    return {"Authorization": f"Bearer {ws.owner_token()}"}


def api_client(ws: Workspace, *, owner: bool) -> httpx.AsyncClient:
    """An in-process client of the web app on loopback: the person's (Bearer owner token), or
    an agent's (no token; it may still fetch a CSRF cookie, as any local program can)."""
    from stagent.web.app import create_app

    transport = httpx.ASGITransport(app=create_app(ws), client=("127.0.0.1", 50000))
    headers = owner_headers(ws) if owner else {}
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765", headers=headers)


async def prime_csrf(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Fetch the CSRF cookie and send it back as the header, like a page (or a clever agent).

    Any GET sets it; a cheap list, not ``/api/v1/runtimes`` (it imports every runtime's SDK)."""
    response = await client.get("/api/v1/projects")
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = client.cookies["stagent_csrf"]
    return client
