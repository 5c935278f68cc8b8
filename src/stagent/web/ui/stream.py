"""The one multiplexed Server-Sent Events stream per browser tab.

A page subscribes to topics (``board``, ``home``, ``task:<id>``, ``project:<id>``) and connects to
``/ui/stream?after=<seq>&topics=...``. The stream tails the workspace's change feed from ``after``
(or from the ``Last-Event-ID`` header on reconnect), and turns each batch of feed events into
named SSE events whose data is a rendered HTML fragment:

- ``board``: ``board-cards``, the cards (and table rows) of the tasks that changed in the batch
  (created/updated/status/deleted events), never the whole Board: a tab's traffic follows what
  changed, not the Board's size (``app.js`` puts each card in its column, in order);
- ``home``: Home's summary, on the same;
- ``task-<id>``: the task's header, when its fields or status change;
- ``task-<id>-log``: one line per event of that task outside any run (created, edited ...);
- ``run-<run id>-log``: one line per event of a run of that task (appended to its section);
- ``task-<id>-runs``: the task's run sections, re-rendered when a run starts, waits or ends
  (that batch's lines of the task's runs are in it, so they are not sent again);
- ``run-<run id>-cost``: a live run's spend so far, the figure alone, when a call it made was
  booked since (`cost_events`: followed from its ``usage`` event until its section is re-rendered);
- ``project-<id>``: the project's tasks table, on created/updated/status events;
- ``monitor``: ``monitor-log``, every task's new log lines (newest first), naming their task;
  and ``monitor-agents``, the Active-now card and the active-agents table, when what they show
  (tasks, status, spend so far) changed (`agent_events`);
- ``workflow:<id>``: ``workflow-<id>``, the workflow's run view (graph, timeline, actions),
  whenever the workflow or a step of its latest run changed (checked on every wake: workflow
  rows change without feed events);
- ``inbox`` (every page subscribes): ``inbox-badge`` (the nav's pending count),
  ``approval-added`` (a new card), ``approval-<id>`` (the card is closed: it vanishes) and
  ``approval-decided`` (a row for the recent decisions), on approval/decision events.

Every SSE event carries ``id=<seq>`` of the newest feed event it reflects, so a reconnecting
browser resumes exactly where it stopped.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from sse_starlette import ServerSentEvent
from starlette.concurrency import run_in_threadpool

from stagent.domain.errors import NotFoundError, ValidationError
from stagent.domain.events import LoggedEvent
from stagent.web.ui import fragments, inbox_views, workflow_views
from stagent.web.ui.monitor_lines import active_agents, agents_key, monitor_lines
from stagent.workspace import Workspace

POLL_SECONDS = 0.5
"""Longest wait between feed reads (bounds latency for changes made by other processes)."""
FEED_BATCH = 500
CHANGE_KINDS = frozenset({"created", "updated", "status", "deleted"})
HEAD_KINDS = frozenset({"created", "updated", "status", "result", "error", "deleted"})
_ID = r"[A-Za-z0-9_-]{1,64}"
_TOPIC = re.compile(rf"^(board|home|inbox|monitor|task:{_ID}|project:{_ID}|workflow:{_ID})$")


@dataclass(frozen=True, slots=True)
class Topics:
    """What one tab listens to."""

    board: bool = False
    home: bool = False
    tasks: frozenset[str] = frozenset()
    projects: frozenset[str] = frozenset()
    inbox: bool = False
    monitor: bool = False
    """Every task's log lines, as the Monitor page shows them (``monitor-log``)."""
    workflows: frozenset[str] = frozenset()
    """Workflows whose run view this tab shows (``workflow-<id>``)."""

    @classmethod
    def parse(cls, raw: str) -> Topics:
        """Parse ``board,task:tsk_1,...``; an unknown topic is an `invalid_input` error."""
        names = [part.strip() for part in raw.split(",") if part.strip()]
        for name in names:
            if not _TOPIC.match(name):
                raise ValidationError(
                    f"topics: {name!r} is not a topic",
                    hint="use board, home, inbox, task:<id>, project:<id> or workflow:<id>",
                )
        return cls(
            board="board" in names,
            home="home" in names,
            tasks=frozenset(n.split(":", 1)[1] for n in names if n.startswith("task:")),
            projects=frozenset(n.split(":", 1)[1] for n in names if n.startswith("project:")),
            inbox="inbox" in names,
            monitor="monitor" in names,
            workflows=frozenset(n.split(":", 1)[1] for n in names if n.startswith("workflow:")),
        )

    def query(self) -> str:
        """The topics back in their query-string form."""
        names = (["board"] if self.board else []) + (["home"] if self.home else [])
        names += [f"task:{t}" for t in sorted(self.tasks)]
        names += [f"project:{p}" for p in sorted(self.projects)]
        names += ["inbox"] if self.inbox else []
        names += ["monitor"] if self.monitor else []
        names += [f"workflow:{w}" for w in sorted(self.workflows)]
        return ",".join(names)


def resume_point(after: int, last_event_id: str | None) -> int:
    """Where to start: the ``Last-Event-ID`` of a reconnect wins over the page's ``after``."""
    if last_event_id and last_event_id.strip().isdigit():
        return int(last_event_id.strip())
    return max(after, 0)


def stream_url(topics: Topics, after: int) -> str:
    """The URL a page connects its stream to."""
    return f"/ui/stream?after={after}&topics={topics.query()}"


def events_for_batch(
    ws: Workspace, batch: list[LoggedEvent], topics: Topics, *, owner: bool = False
) -> list[ServerSentEvent]:
    """The named SSE events one batch of feed events produces for ``topics``."""
    if not batch:
        return []
    last = str(batch[-1].seq)
    out = _task_events(ws, batch, topics)
    if any(event.kind in CHANGE_KINDS for event in batch):
        if topics.board:
            changed = _changed_tasks(batch)
            if changed:
                html = fragments.board_cards(ws, changed)
                out.append(ServerSentEvent(html, event="board-cards", id=last))
        if topics.home:
            out.append(ServerSentEvent(fragments.home_summary(ws), event="home", id=last))
        for project_id in sorted(topics.projects):
            html = fragments.project_tasks(ws, project_id)
            out.append(ServerSentEvent(html, event=f"project-{project_id}", id=last))
    if topics.inbox:
        out += inbox_views.inbox_events(ws, batch, owner=owner)
    if topics.monitor:
        lines = "".join(monitor_lines(ws, list(reversed(batch))))
        out.append(ServerSentEvent(lines, event="monitor-log", id=last))
    return out


def _changed_tasks(batch: list[LoggedEvent]) -> list[str]:
    """The tasks whose card a batch changed, each once, in the order they changed."""
    seen: dict[str, None] = {}
    for event in batch:
        if event.kind in CHANGE_KINDS and event.task_id is not None:
            seen[event.task_id] = None
    return list(seen)


def _task_events(ws: Workspace, batch: list[LoggedEvent], topics: Topics) -> list[ServerSentEvent]:
    """Log lines, run sections and headers of the tasks a tab watches."""
    last = str(batch[-1].seq)
    kinds_by_task: dict[str, set[str]] = {}
    for event in batch:
        if event.task_id in topics.tasks:
            kinds_by_task.setdefault(event.task_id, set()).add(event.kind)
    rerun = {task for task, kinds in kinds_by_task.items() if "status" in kinds}
    out: list[ServerSentEvent] = []
    for event in batch:
        if event.task_id not in kinds_by_task or event.task_id in rerun and event.run_id:
            continue
        name = f"run-{event.run_id}-log" if event.run_id else f"task-{event.task_id}-log"
        out.append(ServerSentEvent(fragments.log_line(event), event=name, id=str(event.seq)))
    for task_id in sorted(kinds_by_task):
        runs = fragments.task_runs(ws, task_id, upto=batch[-1].seq) if task_id in rerun else None
        if runs is not None:
            out.append(ServerSentEvent(runs, event=f"task-{task_id}-runs", id=last))
        head = fragments.task_head(ws, task_id) if kinds_by_task[task_id] & HEAD_KINDS else None
        if head is not None:
            out.append(ServerSentEvent(head, event=f"task-{task_id}", id=last))
    return out


def cost_events(
    ws: Workspace,
    batch: list[LoggedEvent],
    topics: Topics,
    followed: dict[str, CostSeen],
    last_id: int,
) -> list[ServerSentEvent]:
    """Each watched live run's spend so far, sent when it moved (the figure alone, not the run).

    A run is followed from its first ``usage`` event in ``batch`` (the call is booked in the
    ledger just after its event is logged, so the figure is read again on later wakes) until a
    status event of its task re-renders the run sections, which carry the figure themselves.
    ``followed`` (run id -> what this tab was last sent) lives as long as the tab's stream.
    """
    for event in batch:
        if event.task_id not in topics.tasks:
            continue
        if event.kind == "status":
            for run_id in [r for r, seen in followed.items() if seen.task_id == event.task_id]:
                del followed[run_id]
        elif event.kind == "usage" and event.run_id and event.run_id not in followed:
            followed[event.run_id] = CostSeen(event.task_id)
    out: list[ServerSentEvent] = []
    for run_id, seen in followed.items():
        spent = ws.tasks.spent_so_far(run_id)
        if spent != seen.micros:
            seen.micros = spent
            html = fragments.run_cost(spent)
            out.append(ServerSentEvent(html, event=f"run-{run_id}-cost", id=str(last_id)))
    return out


AGENT_KINDS = frozenset({"created", "status", "usage", "deleted"})


def agent_events(
    ws: Workspace, batch: list[LoggedEvent], state: TabState, last_id: int
) -> list[ServerSentEvent]:
    """The Monitor's active agents, sent when what the table shows changed.

    Read when ``batch`` starts, ends or meters a task, and on every wake while the table last
    sent listed an agent (a call is booked just after its ``usage`` event is logged, so its
    spend shows a wake later); sent when it differs from what this tab was last sent (on
    connecting too: a tab shown again after a pause gets the table as it is now).
    """
    if (
        state.agents is not None
        and not state.agents
        and not any(event.kind in AGENT_KINDS for event in batch)
    ):
        return []
    agents = ws.ledger.active_agents()
    key = agents_key(agents)
    if key == state.agents:
        return []
    state.agents = key
    return [ServerSentEvent(active_agents(agents), event="monitor-agents", id=str(last_id))]


def workflow_events(
    ws: Workspace, topics: Topics, seen: dict[str, tuple[object, ...]], last_id: int
) -> list[ServerSentEvent]:
    """The run view of each watched workflow whose state changed since it was last sent."""
    out: list[ServerSentEvent] = []
    for workflow_id in sorted(topics.workflows):
        try:
            workflow = ws.workflows.get(workflow_id)
        except NotFoundError:
            continue
        state: tuple[object, ...] = (
            workflow.status,
            workflow.stop_reason,
            workflow.run_count,
            workflow.updated_at,
            tuple((s.key, s.status, s.task_id, s.started_at, s.ended_at) for s in workflow.steps),
            workflow_views.asking(ws, workflow),
        )
        if seen.get(workflow_id) == state:
            continue
        seen[workflow_id] = state
        html = fragments.workflow_run(ws, workflow)
        out.append(ServerSentEvent(html, event=f"workflow-{workflow_id}", id=str(last_id)))
    return out


@dataclass(slots=True)
class CostSeen:
    """A followed live run: its task, and the spend this tab was last sent (None: not yet)."""

    task_id: str
    micros: int | None = None


@dataclass(slots=True)
class TabState:
    """What one tab's stream remembers between wakes."""

    workflows: dict[str, tuple[object, ...]] = field(default_factory=lambda: {})
    costs: dict[str, CostSeen] = field(default_factory=lambda: {})
    agents: tuple[object, ...] | None = None
    """What the Monitor's active-agents table shows (`agents_key`; None: not read yet)."""


def _read_batch(
    ws: Workspace, after: int, topics: Topics, owner: bool, state: TabState | None = None
) -> tuple[list[ServerSentEvent], int, bool]:
    batch = ws.tasks.feed(after=after, limit=FEED_BATCH)
    new_after = batch[-1].seq if batch else after
    sse = events_for_batch(ws, batch, topics, owner=owner)
    if state is not None:
        if topics.tasks:
            sse += cost_events(ws, batch, topics, state.costs, new_after)
        if topics.workflows:
            sse += workflow_events(ws, topics, state.workflows, new_after)
        if topics.monitor:
            sse += agent_events(ws, batch, state, new_after)
    return sse, new_after, len(batch) == FEED_BATCH


async def live_events(
    ws: Workspace,
    *,
    after: int,
    topics: Topics,
    poll_seconds: float = POLL_SECONDS,
    owner: bool = False,
) -> AsyncIterator[ServerSentEvent]:
    """Tail the change feed after ``after`` forever, yielding the events ``topics`` asks for.

    Wakes at once on commits made in this process; re-reads every ``poll_seconds`` otherwise.
    ``owner`` renders approval cards with their decision buttons (the person's tab).
    """
    state = TabState()
    while True:
        version = ws.tasks.change_version
        sse_events, after, more = await run_in_threadpool(
            _read_batch, ws, after, topics, owner, state
        )
        for sse_event in sse_events:
            yield sse_event
        if not more:
            await ws.tasks.wait_for_change(version, poll_seconds)
