"""Log lines across every task, as the Monitor page lists them."""

from __future__ import annotations

from stagent.domain.events import LoggedEvent
from stagent.web.ui.templating import render
from stagent.workspace import Workspace


def monitor_lines(ws: Workspace, events: list[LoggedEvent]) -> list[str]:
    """Rendered log lines (in the order given), each naming and linking its task."""
    labels = ws.ledger.task_labels(sorted({e.task_id for e in events}))
    return [
        render(
            "fragments/monitor_line.html",
            event=event,
            title=labels.get(event.task_id, ("(deleted task)", ""))[0],
            runtime=labels.get(event.task_id, ("", ""))[1],
        )
        for event in events
    ]
