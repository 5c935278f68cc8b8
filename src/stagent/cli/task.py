"""``stagent task``: create, list, show, run and cancel tasks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from stagent.cli.errors import RunFailedError, exit_with_error
from stagent.cli.output import JsonFlag, console, emit_json, err_console
from stagent.cli.render import (
    print_event,
    print_runs,
    print_task,
    print_tasks,
    run_heading,
    run_json,
    styled_status,
    task_json,
)
from stagent.cli.run_options import (
    MaxBudgetOption,
    MaxTurnsOption,
    ModelOption,
    OptionsOption,
    cli_options,
)
from stagent.cli.running import RunOutcome, run_task
from stagent.cli.state import state_of
from stagent.domain.errors import NotFoundError, ValidationError
from stagent.domain.events import LoggedEvent
from stagent.domain.tasks import Task, TaskStatus
from stagent.reads import TaskReader, WorkspaceReader

if TYPE_CHECKING:
    from stagent.workspace import Workspace

SCENARIO_HELP = """\
The scripted runtime plays a scenario: a YAML or JSON file of steps, each with exactly one \
of text, delay, tool, usage or fail. Without --scenario it plays a short default one.

\b
  name: hello
  steps:
    - text: "Looking at the task."
    - delay: 0.2
    - tool: Write
      input: {file_path: notes.md, content: hi}
      output: wrote 2 bytes
    - usage: {model: scripted-1, input_tokens: 120, output_tokens: 40}
    - fail: "simulated provider error"   # optional: ends the run as failed
      retryable: false                   # optional: a retry would fail the same way
  result: "Done."
"""

STATUS_NAMES = ", ".join(status.value for status in TaskStatus)
EXIT_INTERRUPTED = 130

app = typer.Typer(help="Create, list, show, run and cancel tasks.", no_args_is_help=True)


def simulated_runtimes(ws: Workspace) -> set[str]:
    """Names of the runtimes that involve no model (labelled simulated)."""
    return {name for name in ws.runtimes.names() if ws.runtimes.is_simulated(name)}


def parse_status(value: str | None) -> TaskStatus | None:
    """A ``--status`` value as a `TaskStatus`, or a one-line error naming the valid ones."""
    if value is None:
        return None
    try:
        return TaskStatus(value.strip().lower())
    except ValueError:
        raise ValidationError(
            f"status: {value!r} is not a task status", hint=f"use one of: {STATUS_NAMES}"
        ) from None


@app.command("add", epilog=SCENARIO_HELP)
def add(
    ctx: typer.Context,
    title: Annotated[str, typer.Argument(help="What the agent should do.")],
    description: Annotated[str, typer.Option(help="More detail for the agent.")] = "",
    project: Annotated[str | None, typer.Option(help="Project id or name.")] = None,
    runtime: Annotated[str, typer.Option(help="Runtime that runs the task.")] = "scripted",
    profile: Annotated[str | None, typer.Option(help="Agent profile to use.")] = None,
    priority: Annotated[int, typer.Option(help="0 (highest) to 4 (lowest).")] = 2,
    scenario: Annotated[
        Path | None,
        typer.Option(help="Scenario file (YAML or JSON) for the scripted runtime."),
    ] = None,
    model: ModelOption = None,
    max_turns: MaxTurnsOption = None,
    max_budget: MaxBudgetOption = None,
    options: OptionsOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a planned task."""
    from stagent.engine.services import TaskDraft

    draft = TaskDraft(
        title=title,
        description=description,
        project=project,
        runtime=runtime,
        profile=profile,
        priority=priority,
        scenario_file=scenario,
        options=cli_options({}, options, model, max_turns, max_budget),
    )
    with state_of(ctx).workspace() as ws:
        task = ws.tasks.create(draft)
        simulated = task.runtime in simulated_runtimes(ws)
    if as_json:
        emit_json(task_json(task, simulated=simulated))
        return
    console.print(
        f"Created task [bold]{task.id}[/]: {escape(task.title)} ({styled_status(task.status)})"
    )
    console.print(f"[dim]Run it with: stagent task run {task.id} --follow[/]")


@app.command("edit")
def edit(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(metavar="ID", help="The task's id.")],
    title: Annotated[str | None, typer.Option(help="A new title.")] = None,
    description: Annotated[str | None, typer.Option(help="A new description.")] = None,
    runtime: Annotated[str | None, typer.Option(help="Another runtime.")] = None,
    priority: Annotated[int | None, typer.Option(help="0 (highest) to 4 (lowest).")] = None,
    model: ModelOption = None,
    max_turns: MaxTurnsOption = None,
    max_budget: MaxBudgetOption = None,
    options: OptionsOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Edit a task that is not running: fields and run options (checked; errors name them)."""
    with state_of(ctx).workspace() as ws:
        task = ws.tasks.get(task_id)
        changes: dict[str, Any] = {
            name: value
            for name, value in (
                ("title", title),
                ("description", description),
                ("runtime", runtime),
                ("priority", priority),
            )
            if value is not None
        }
        if any(v is not None for v in (options, model, max_turns, max_budget)):
            base = task.options.stored()
            changes["options"] = cli_options(base, options, model, max_turns, max_budget)
        task = ws.tasks.update(task_id, changes)
        simulated = task.runtime in simulated_runtimes(ws)
    if as_json:
        emit_json(task_json(task, simulated=simulated))
        return
    console.print(f"Saved task [bold]{task.id}[/]: {escape(task.title)}")


@app.command("list")
def list_tasks(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help=f"Only tasks in this status ({STATUS_NAMES}).")
    ] = None,
    project: Annotated[
        str | None, typer.Option(help="Only this project's tasks (id or name).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List tasks, newest first."""
    wanted = parse_status(status)
    with state_of(ctx).reads() as reads:
        tasks = reads.reader.tasks(status=wanted, project=project)
        simulated = reads.simulated_runtimes()
        names = {p.id: p.name for p in reads.reader.projects()}
    if as_json:
        emit_json([task_json(t, simulated=t.runtime in simulated) for t in tasks])
        return
    print_tasks(tasks, project_names=names, simulated=simulated)


@app.command("show")
def show(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(metavar="ID", help="The task's id.")],
    as_json: JsonFlag = False,
) -> None:
    """Show a task's fields and its history: one section per run, each with its events."""
    with state_of(ctx).reads() as reads:
        task = reads.reader.task(task_id)
        events = reads.reader.events(task_id)
        runs = reads.reader.runs(task_id)
        simulated = task.runtime in reads.simulated_runtimes()
        project_name = _project_name(reads.reader, task)
    if as_json:
        emit_json(task_json(task, simulated=simulated, events=events, runs=runs))
        return
    print_task(task, simulated=simulated, project_name=project_name)
    print_runs(runs, events)


@app.command("runs")
def runs(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(metavar="ID", help="The task's id.")],
    as_json: JsonFlag = False,
) -> None:
    """List a task's runs, oldest first: status, attempts, times, cost and why each stopped."""
    with state_of(ctx).reads() as reads:
        found = reads.reader.runs(task_id)
    if as_json:
        emit_json([run_json(run) for run in found])
        return
    if not found:
        console.print(f"Task {task_id} has not run yet.")
    for run in found:
        console.print(f"{run.id}  {run_heading(run)}")


@app.command("run")
def run(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(metavar="ID", help="The task's id.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Stream events live.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Run a task, on a live worker if one is running, else in this process.

    Exits 0 if the task completed, 1 if it failed or was cancelled, 130 on Ctrl-C (a run in
    this process is then cancelled).
    """
    streaming = follow and not as_json
    if not follow and _handed_to_server(ctx, task_id, as_json=as_json):
        return
    with state_of(ctx).workspace() as ws:
        if streaming or as_json:
            notice = waiting_notice(ws)

            def print_and_notice(event: LoggedEvent) -> None:
                print_event(event)
                notice(event)

            outcome = run_task(
                ws, task_id, wait=follow, on_event=print_and_notice if streaming else None
            )
        else:
            with err_console.status(f"Running task {task_id}..."):
                outcome = run_task(ws, task_id, wait=False, on_event=waiting_notice(ws))
        events = ws.tasks.events(task_id)
        task_runs = ws.tasks.runs(task_id)
        simulated = outcome.task.runtime in simulated_runtimes(ws)
        project_name = _project_name(WorkspaceReader(ws), outcome.task)
    if as_json:
        emit_json(task_json(outcome.task, simulated=simulated, events=events, runs=task_runs))
        raise typer.Exit(_exit_code(outcome))
    if not streaming and outcome.waited:
        print_task(outcome.task, simulated=simulated, project_name=project_name)
    _report_run(outcome)


def _handed_to_server(ctx: typer.Context, task_id: str, *, as_json: bool) -> bool:
    """Queue the run on a live local ``serve`` through its API (no engine in this process) and
    report it as `run` does; False if no server took it."""
    from stagent.handoff import hand_to_server

    state = state_of(ctx)
    settings = state.settings()
    handed = hand_to_server(
        settings.resolved_database_url,
        settings.home,
        task_id,
        token=settings.token,
        lease_seconds=settings.executor_lease_seconds,
    )
    if not handed:
        return False
    with state.reads() as reads:
        task = reads.reader.task(task_id)
        simulated = task.runtime in reads.simulated_runtimes()
        if as_json:
            events, task_runs = reads.reader.events(task_id), reads.reader.runs(task_id)
            emit_json(task_json(task, simulated=simulated, events=events, runs=task_runs))
            return True
    _report_run(RunOutcome(task, local=False, waited=False))
    return True


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(metavar="ID", help="The task's id.")],
    as_json: JsonFlag = False,
) -> None:
    """Cancel a task (a running agent is stopped)."""
    with state_of(ctx).workspace() as ws:
        task = ws.tasks.cancel(task_id)
        simulated = task.runtime in simulated_runtimes(ws)
    if as_json:
        emit_json(task_json(task, simulated=simulated))
        return
    console.print(f"Task [bold]{task.id}[/] is {styled_status(task.status)}.")


def waiting_notice(ws: Workspace) -> Callable[[LoggedEvent], None]:
    """An event sink that says, on stderr, each time the run waits for a person and how to
    decide (``task run`` without ``--follow`` is otherwise silent while a card waits)."""

    from stagent.cli.inbox import call_summary, decide_commands

    def notice(event: LoggedEvent) -> None:
        card_id = event.payload.get("approval_id")
        if event.kind != "approval" or not isinstance(card_id, str):
            return
        card = ws.approvals.get(card_id)
        what = "asks a question" if card.kind == "question" else f"wants to use {card.tool}"
        err_console.print(
            f"[bold yellow]Waiting for you:[/] the agent {what}: {escape(call_summary(card))}"
        )
        err_console.print(f"  {escape(decide_commands(card))}  (or in the Inbox)")

    return notice


def _project_name(reader: TaskReader, task: Task) -> str | None:
    if task.project_id is None:
        return None
    try:
        return reader.project(task.project_id).name
    except NotFoundError:
        return None


def _exit_code(outcome: RunOutcome) -> int:
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    if not outcome.waited or outcome.task.status is TaskStatus.COMPLETED:
        return 0
    return 1


def _report_run(outcome: RunOutcome) -> None:
    """Say how the run ended, in human words, and exit with the matching code."""
    task = outcome.task
    if outcome.interrupted:
        if outcome.local:
            err_console.print(f"Interrupted: task {task.id} is {styled_status(task.status)}.")
        else:
            err_console.print(f"Stopped following; task {task.id} goes on in its worker.")
        raise typer.Exit(EXIT_INTERRUPTED)
    if not outcome.waited:
        console.print(
            f"Queued task [bold]{task.id}[/] on a running worker; "
            f"see it with [bold]stagent task show {task.id}[/]."
        )
        return
    if task.status is TaskStatus.COMPLETED:
        console.print(f"Task [bold]{task.id}[/] {styled_status(task.status)}.")
        return
    reason = f": {task.error}" if task.error else ""
    exit_with_error(
        RunFailedError(
            f"task {task.id} {task.status.value}{reason}",
            hint=f"see its log with `stagent task show {task.id}`",
        )
    )
