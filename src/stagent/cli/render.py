"""How projects, tasks and events look: JSON shapes for programs, Rich tables for people."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Any

from rich import box
from rich.markup import escape
from rich.table import Table

from stagent.cli.output import console
from stagent.domain.events import LoggedEvent
from stagent.domain.money import shown_usd
from stagent.domain.runs import Run, RunStatus
from stagent.domain.tasks import Project, Task, TaskStatus

STATUS_STYLES: dict[TaskStatus, str] = {
    TaskStatus.PLANNED: "cyan",
    TaskStatus.QUEUED: "blue",
    TaskStatus.RUNNING: "yellow",
    TaskStatus.WAITING: "magenta",
    TaskStatus.COMPLETED: "green",
    TaskStatus.FAILED: "red",
    TaskStatus.CANCELLED: "dim",
}

EVENT_STYLES: dict[str, str] = {
    "text": "",
    "tool_request": "cyan",
    "tool_result": "cyan",
    "usage": "dim",
    "result": "green",
    "error": "red",
    "status": "yellow",
    "recovered": "magenta",
}


def project_json(project: Project, task_counts: Mapping[str, int] | None = None) -> dict[str, Any]:
    """A project as JSON-ready data (the shared schema)."""
    from stagent.schemas import ProjectSchema  # the schemas load only for --json

    data = ProjectSchema.of(project, task_counts).data()
    if task_counts is None:
        data.pop("task_counts")
    return data


def event_json(event: LoggedEvent) -> dict[str, Any]:
    """A logged event as JSON-ready data (the shared schema)."""
    from stagent.schemas import EventSchema

    return EventSchema.of(event).data()


def run_json(run: Run) -> dict[str, Any]:
    """A run as JSON-ready data (the shared schema)."""
    from stagent.schemas import RunSchema

    return RunSchema.of(run).data()


def task_json(
    task: Task,
    *,
    simulated: bool,
    events: Iterable[LoggedEvent] | None = None,
    runs: Iterable[Run] | None = None,
) -> dict[str, Any]:
    """A task as JSON-ready data (the shared schema); with ``events`` (and ``runs``) its detail."""
    from stagent.schemas import TaskDetailSchema, TaskSchema

    if events is None:
        return TaskSchema.of(task, simulated=simulated).data()
    return TaskDetailSchema.detail(task, simulated=simulated, runs=runs or (), events=events).data()


def styled_status(status: TaskStatus) -> str:
    """The status as Rich markup in its color."""
    return f"[{STATUS_STYLES[status]}]{status.value}[/]"


def runtime_label(runtime: str, *, simulated: bool) -> str:
    """The runtime name, marked when no model is involved."""
    return f"{runtime} (simulated)" if simulated else runtime


def _local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone().strftime(fmt) if value is not None else ""


def print_projects(projects: list[Project], counts: Mapping[str, Mapping[str, int]]) -> None:
    """A table of projects with their task counts."""
    if not projects:
        console.print("No projects yet. Create one with [bold]stagent project add NAME[/].")
        return
    table = Table(
        title="Projects",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("ID", no_wrap=True)
    table.add_column("Name", style="bold")
    table.add_column("Tasks", justify="right")
    table.add_column("Directory", overflow="fold")
    table.add_column("Description", overflow="fold")
    for project in projects:
        total = sum(counts.get(project.id, {}).values())
        table.add_row(
            project.id,
            escape(project.name),
            str(total),
            escape(project.working_directory or ""),
            escape(project.description),
        )
    console.print(table, soft_wrap=False)


def print_tasks(
    tasks: list[Task], *, project_names: Mapping[str, str], simulated: AbstractSet[str]
) -> None:
    """A table of tasks, status colored."""
    if not tasks:
        console.print("No tasks found. Create one with [bold]stagent task add TITLE[/].")
        return
    table = Table(
        title="Tasks",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("ID", no_wrap=True)
    table.add_column("Title", min_width=12, ratio=3, overflow="fold")
    table.add_column("Status", no_wrap=True)
    table.add_column("Runtime", no_wrap=True)
    table.add_column("Project", min_width=7, ratio=1, overflow="fold")
    table.add_column("Runs", justify="right", no_wrap=True)
    for task in tasks:
        table.add_row(
            task.id,
            escape(task.title),
            styled_status(task.status),
            runtime_label(task.runtime, simulated=task.runtime in simulated),
            escape(project_names.get(task.project_id or "", "")),
            str(task.run_count),
        )
    console.print(table, soft_wrap=False)


def print_task(task: Task, *, simulated: bool, project_name: str | None = None) -> None:
    """A task's fields, one per line."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    rows: list[tuple[str, str]] = [
        ("ID", task.id),
        ("Title", escape(task.title)),
        ("Status", styled_status(task.status)),
        ("Runtime", runtime_label(task.runtime, simulated=simulated)),
        ("Project", escape(project_name or task.project_id or "-")),
        ("Profile", escape(task.profile or "-")),
        ("Priority", str(task.priority)),
        ("Runs", str(task.run_count)),
        ("Created", _local_time(task.created_at)),
        ("Updated", _local_time(task.updated_at)),
    ]
    if task.description:
        rows.insert(2, ("Description", escape(task.description)))
    if task.result is not None:
        rows.append(("Result", f"[green]{escape(task.result)}[/]"))
    if task.error is not None:
        rows.append(("Error", f"[red]{escape(task.error)}[/]"))
    for label, value in rows:
        grid.add_row(label, value)
    console.print(grid, soft_wrap=False)


def run_heading(run: Run) -> str:
    """One line naming a run: number, status, runtime, attempts, times, cost, why it stopped."""
    style = STATUS_STYLES[TaskStatus(run.status.value)]
    parts = [f"[bold]Run {run.number}[/] [{style}]{run.status.value}[/]", escape(run.runtime)]
    if run.options.model:
        parts.append(escape(run.options.model))
    if run.attempt > 1:
        parts.append(f"{run.attempt} attempts")
    if run.started_at is not None:
        parts.append(f"started {_local_time(run.started_at, '%Y-%m-%d %H:%M:%S')}")
    if run.duration_seconds is not None:
        parts.append(f"{run.duration_seconds:.1f} s")
    parts.append(shown_usd(run.cost_micros))
    if run.status is not RunStatus.COMPLETED and run.stop_reason:
        parts.append(f"[dim]{escape(run.stop_reason)}[/]")
    return " · ".join(parts)


def print_runs(runs: list[Run], events: list[LoggedEvent]) -> None:
    """A task's history: its own events, then one section per run with that run's events."""
    outside = [event for event in events if event.run_id is None]
    if outside:
        print_events(outside, title="Task history")
    for run in runs:
        console.print()
        console.print(run_heading(run))
        for event in events:
            if event.run_id == run.id:
                console.print(event_line(event))


def event_line(event: LoggedEvent) -> str:
    """One event as a line of Rich markup: time, kind, summary."""
    style = EVENT_STYLES.get(event.kind, "")
    when = _local_time(event.created_at, "%H:%M:%S")
    kind = f"{event.kind:<12}"
    summary = escape(event.summary.rstrip())
    if style:
        kind, summary = f"[{style}]{kind}[/]", f"[{style}]{summary}[/]"
    return f"[dim]{when}[/] {kind} {summary}"


def print_event(event: LoggedEvent) -> None:
    """Print one event as it streams."""
    console.print(event_line(event))
    console.file.flush()


def print_events(events: list[LoggedEvent], *, title: str = "Events") -> None:
    """A task's event log."""
    console.print()
    if not events:
        console.print("[dim]No events.[/]")
        return
    console.print(f"[bold]{title}[/] ({len(events)})")
    for event in events:
        console.print(event_line(event))
