"""Log lines across every task, as the Monitor page lists them."""

from __future__ import annotations

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
