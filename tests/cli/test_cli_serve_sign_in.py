"""``stagent serve`` prints the sign-in link (like Jupyter); opening it makes the browser the
person, who may then decide a card that a plain local client may not."""

from __future__ import annotations

import signal
import time

import httpx
import pytest
from clitools import Cli
from test_cli_processes import Proc, spawn  # noqa: F401

from stagent.domain.approvals import Approval
from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.workspace import Workspace


def wait_for_card_sync(ws: Workspace, task_id: str, timeout: float = 30.0) -> Approval:
    """The task's first pending card, once the server's worker has asked."""
    deadline = time.monotonic() + timeout
    while not (cards := ws.approvals.list_pending(task_id=task_id)):
        assert time.monotonic() < deadline, "no approval card appeared"
        time.sleep(0.05)
    return cards[0]


@pytest.mark.slow
def test_serve_prints_the_sign_in_link_and_it_signs_the_browser_in(
    cli: Cli,
    spawn: list[Proc],  # noqa: F811
) -> None:
    steps = [{"tool": "Bash", "input": {"command": "ls"}}]
    with Workspace.temporary(cli.home) as ws:
        ws.open()
        task = ws.tasks.create(TaskDraft(title="t", scenario={"steps": steps}))
        ws.tasks.run(task.id)  # the server's worker picks it up
        token = ws.owner_token()
    proc = Proc(["serve", "--no-open", "--port", "0"], cli.home)
    spawn.append(proc)
    url = proc.wait_for("Stagent is running at ").split("running at ", 1)[1].strip()
    link = proc.wait_for("to sign in").split("Open ", 1)[1].split(" ", 1)[0]
    assert link == f"{url}/?token={token}"
    with Workspace.temporary(cli.home) as ws:
        card = wait_for_card_sync(ws.open(), task.id)

    with httpx.Client(base_url=url, timeout=60) as stranger:
        stranger.get("/inbox")
        headers = {"X-CSRF-Token": stranger.cookies["stagent_csrf"]}
        refused = stranger.post(f"/ui/approvals/{card.id}/allow", headers=headers)
        assert refused.status_code == 403
    with httpx.Client(base_url=url, timeout=60) as browser:
        signed = browser.get(link.removeprefix(url))
        assert signed.status_code == 303 and "stagent_owner" in browser.cookies
        page = browser.get("/inbox")
        assert "allow-form" in page.text
        headers = {"X-CSRF-Token": browser.cookies["stagent_csrf"]}
        allowed = browser.post(f"/ui/approvals/{card.id}/allow", headers=headers)
        assert allowed.status_code == 200, allowed.text
    with Workspace.temporary(cli.home) as ws:
        assert ws.open().tasks.wait(task.id, timeout=60).status is TaskStatus.COMPLETED
    code, _, err = proc.stop(signal.SIGTERM)
    assert code == 0, err
    with Workspace.temporary(cli.home) as ws:
        assert ws.open().approvals.get(card.id).decided_by == "person (via UI, owner cookie)"
