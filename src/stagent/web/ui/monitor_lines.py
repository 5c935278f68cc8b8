"""Log lines across every task, and the agents active now, as the Monitor page shows them."""

from __future__ import annotations

from typing import Any

from stagent.domain.events import LoggedEvent
from stagent.web.ui.templating import render
from stagent.workspace import Workspace


def monitor_lines(ws: Workspace, events: list[LoggedEvent]) -> list[str]:
    """Rendered log lines (in the order given), each naming and linking its task. Events about
    no task (budget notices) are the Inbox's, not the Monitor's."""
    task_events = [(e, e.task_id) for e in events if e.task_id is not None]
    labels = ws.ledger.task_labels(sorted({task_id for _, task_id in task_events}))
    return [
        render(
            "fragments/monitor_line.html",
            event=event,
            title=labels.get(task_id, ("(deleted task)", ""))[0],
            runtime=labels.get(task_id, ("", ""))[1],
        )
        for event, task_id in task_events
    ]


def agents_key(agents: list[dict[str, Any]]) -> tuple[object, ...]:
    """What the active-agents table shows that can change, but the ticking elapsed time."""
    return tuple(
        (a["task_id"], a["title"], a["status"], a["spent_micros"], a["unpriced_requests"])
        for a in agents
    )


def active_agents(agents: list[dict[str, Any]]) -> str:
    """The Active-now card and the active-agents table, each in a ``data-part`` holder naming
    the element of the page it replaces."""
    now = render("fragments/active_now.html", active=agents)
    table = render("fragments/active_agents.html", active=agents)
    return f'<div data-part="active-now">{now}</div><div data-part="active-agents">{table}</div>'
