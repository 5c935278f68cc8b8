"""``stagent workflow``: add, edit, run, list, show, pause, resume, cancel and retry workflows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from stagent.cli.output import JsonFlag, console, emit_json
from stagent.cli.state import state_of
from stagent.domain.workflow_changes import Edited, changes, describe
from stagent.domain.workflow_runs import (
    BUILT_PATTERNS,
    StepCost,
    StepState,
    Workflow,
    WorkflowStatus,
)
from stagent.ledger.money import shown_usd
from stagent.workspace import Workspace

DEFINITION_HELP = """\
A workflow file is YAML or JSON. Patterns: sequence, parallel, checkpoint, planner-executor, \
loop (loop: {max_iterations, time_budget_seconds, completion_signal}) and swarm (a mayor, 2-5 \
workers, a refinery; swarm: {worker_concurrency}). Any step may \
set requires_approval (it waits in the inbox: approve, optionally with a comment, or reject), \
retry {attempts, backoff_seconds}, timeout_seconds and a condition such as \
previous.output contains "LGTM" or steps.review.status == completed (a false condition skips \
the step).

\b
  name: review-and-fix
  pattern: sequence
  steps:
    - {id: review, name: Review, prompt: "Review the diff", runtime: claude}
    - {id: fix, name: Fix, prompt: "Fix what the review found", runtime: claude,
       requires_approval: true}
"""

app = typer.Typer(
    help="Workflows: add, edit, run, pause, resume, cancel, retry, rerun.",
    no_args_is_help=True,
    epilog=DEFINITION_HELP,
)
IdArg = Annotated[str, typer.Argument(metavar="ID", help="The workflow's id or name.")]
FollowFlag = Annotated[
    bool,
    typer.Option(
        help="Wait until the run ends, saying each step's move on stderr; exit 1 unless it "
        "completed."
    ),
]


def _json(workflow: Workflow, costs: Mapping[str, StepCost] | None = None) -> dict[str, object]:
    from stagent.schemas.workflows import WorkflowSchema

    return WorkflowSchema.of(workflow, costs).data()


def _print(workflow: Workflow, costs: Mapping[str, StepCost] | None = None) -> None:
    """The workflow and each step of its latest run: status, time, cost (given ``costs``),
    task, and its error or the first line of its output."""
    built = "" if workflow.pattern in BUILT_PATTERNS else " [yellow](not built yet)[/]"
    console.print(
        f"[bold]{workflow.id}[/] {escape(workflow.name)} - {workflow.pattern}{built} - "
        f"{workflow.status.value}"
    )
    if workflow.stop_reason:
        code = f" [{workflow.stop_code}]" if workflow.stop_code else ""
        console.print(f"  stopped: {escape(workflow.stop_reason)}{escape(code)}")
    if workflow.edited is not None:
        changed = "; ".join(describe(changes(workflow.definition, workflow.edited)))
        console.print(
            f"  [yellow]edited after run {workflow.run_count}[/]: these are the steps it ran; "
            f"the next run runs the edit ({escape(changed or 'the definition changed')})"
        )
    if not workflow.steps:  # never run: the steps it defines
        for defined in workflow.definition.steps:
            console.print(f"  {defined.id} ({escape(defined.name)}): not run yet")
    if workflow.status is WorkflowStatus.DRAFT:
        console.print(f"Run it with: stagent workflow run {workflow.id} --follow")
    for state in workflow.steps:
        console.print(f"  {_step_line(workflow, state, costs)}")
        if state.error:
            style = "dim" if state.status.value in ("skipped", "pending") else "red"
            console.print(f"    [{style}]{escape(state.error)}[/]")
        elif state.output and state.status.value == "completed":
            first = state.output.strip().splitlines()[0] if state.output.strip() else ""
            shown = first if len(first) <= 100 else f"{first[:99]}…"
            console.print(f"    [dim]-> {escape(shown)}[/]")


def _step_line(workflow: Workflow, state: StepState, costs: Mapping[str, StepCost] | None) -> str:
    """``review (Review): completed · 2.0 s · $0.01 task tsk_...`` (``simulated`` in place of
    the cost for a step that ran on a runtime that calls no model)."""
    parts = [state.status.value]
    if state.started_at is not None and state.ended_at is not None:
        parts.append(f"{(state.ended_at - state.started_at).total_seconds():.1f} s")
    if costs is not None and state.task_id:
        cost = costs.get(state.key, StepCost())
        parts.append("simulated" if cost.simulated else shown_usd(cost.micros))
    task = f" task {state.task_id}" if state.task_id else ""
    return f"{state.key} ({escape(workflow.step_name(state))}): {' · '.join(parts)}{task}"


def _done(ws: Workspace, workflow: Workflow, as_json: bool, *, follow: bool = False) -> None:
    """Print ``workflow`` (after its run ends if ``follow``: then exit 1 unless it completed,
    as ``task run --follow`` does)."""
    if follow:
        workflow = _follow(ws, workflow)
    costs = ws.workflows.step_costs(workflow)
    if as_json:
        emit_json(_json(workflow, costs))
    else:
        _print(workflow, costs)
    if follow and workflow.status is not WorkflowStatus.COMPLETED:
        raise typer.Exit(1)


def _act(
    ctx: typer.Context,
    act: Callable[[Workspace], Workflow],
    as_json: bool,
    *,
    follow: bool | None = None,
) -> None:
    """Do ``act`` in the workspace and print the workflow it answers. A command that starts a
    run passes ``follow``: it also follows the run when asked, or when no server or worker is
    there to run it (then it runs here)."""
    with state_of(ctx).workspace() as ws:
        workflow = act(ws)
        here = follow is not None and (follow or ws.live_workers() == 0)
        _done(ws, workflow, as_json, follow=here)


def finish(ws: Workspace, workflow: Workflow, as_json: bool, *, follow: bool = False) -> None:
    """For other command groups (``blueprint run``): print a workflow, after its run ends if
    ``follow``."""
    _done(ws, workflow, as_json, follow=follow)


def _follow(ws: Workspace, started: Workflow) -> Workflow:
    """Wait for the run to end, running it in this process when no worker is alive."""
    local = ws.live_workers() == 0
    if local:
        import logging

        ws.start_worker("cli")
        logging.getLogger("dbos").setLevel(logging.ERROR)
    try:
        return _wait_telling(ws, started)
    finally:
        if local:
            ws.stop_worker()


def _wait_telling(ws: Workspace, started: Workflow) -> Workflow:
    """Wait for the run to end; on stderr, say each step's move as it happens and, once, how
    to decide each checkpoint it waits at."""
    import time

    from rich.console import Console

    told: set[str] = set()
    seen = {state.key: state.status for state in started.steps}
    stderr = Console(stderr=True, highlight=False)
    deadline = time.monotonic() + 24 * 3600
    while True:
        workflow = ws.workflows.wait(started.id, timeout=1.0)
        for state in workflow.steps:
            if seen.get(state.key) != state.status and state.status.value != "pending":
                seen[state.key] = state.status
                why = f": {escape(state.error)}" if state.error else ""
                stderr.print(f"  {_step_line(workflow, state, None)}{why}")
        if not workflow.status.is_active or time.monotonic() > deadline:
            return workflow
        for card in ws.approvals.list_pending():
            ours = card.kind == "checkpoint" and card.input.get("workflow_id") == started.id
            if ours and card.id not in told:
                told.add(card.id)
                step = escape(str(card.input.get("step_name") or card.input.get("step")))
                stderr.print(
                    f"Waiting for your approval before step {step}: "
                    f"stagent approve {card.id} \\[--comment TEXT] or stagent deny {card.id}"
                )


@app.command("add", epilog=DEFINITION_HELP)
def add(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A YAML or JSON definition.")],
    project: Annotated[str | None, typer.Option(help="Project id or name.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Validate a definition file and store it (errors name the line, step and field)."""
    with state_of(ctx).workspace() as ws:
        workflow = ws.workflows.add_file(file, project=project)
        _done(ws, workflow, as_json)


@app.command("edit", epilog=DEFINITION_HELP)
def edit(
    ctx: typer.Context,
    workflow_id: IdArg,
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="The edited YAML or JSON definition.")
    ],
    project: Annotated[
        str | None, typer.Option(help="Project id or name (default: keep the stored one).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Replace a stored workflow's definition with FILE's and say what changed (errors as
    `workflow add`'s; refused while a run of it is running or paused)."""
    from stagent.engine.workflow_service import Keep

    with state_of(ctx).workspace() as ws:
        edited = ws.workflows.update_file(
            workflow_id, file, project=Keep.PROJECT if project is None else project
        )
        costs = ws.workflows.step_costs(edited.workflow)
    if as_json:
        from stagent.schemas.workflows import EditedWorkflowSchema

        emit_json(EditedWorkflowSchema.edited(edited, costs).data())
        return
    _print_edit(edited)


def _print_edit(edited: Edited) -> None:
    """``Saved wf_... name: N steps``, then one line per kind of change (or that none)."""
    workflow = edited.workflow
    lines = describe(edited.changes)
    if edited.project_changed:
        lines.append(f"project: {workflow.project_id or 'none'}")
    if not lines:
        console.print(
            f"No changes: [bold]{workflow.id}[/] {escape(workflow.name)} already holds this "
            "definition."
        )
        return
    count = len(workflow.current.steps)
    console.print(
        f"Saved [bold]{workflow.id}[/] {escape(workflow.name)} - {workflow.current.pattern}, "
        f"{count} step{'s' if count != 1 else ''}"
    )
    for line in lines:
        console.print(f"  {escape(line)}")
    if workflow.run_count:
        console.print(
            f"[dim]Run {workflow.run_count} keeps the steps it ran; the next run (stagent "
            f"workflow run {workflow.id}, or rerun {workflow.id} STEP) runs the edit.[/]"
        )


@app.command("run")
def run(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="FILE|ID", help="A definition file or id.")],
    follow: FollowFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Start a run (a FILE is added first). Without a running server or worker, it runs here.

    Refused before anything is stored or started if a step's runtime is not ready here (not
    logged in, no key, no binary): each such step is named with the reason and the fix.
    """

    def start(ws: Workspace) -> Workflow:
        path = Path(target)
        if path.suffix and path.exists():
            return ws.workflows.start_file(path)
        return ws.workflows.run(target)

    _act(ctx, start, as_json, follow=follow)


@app.command("list")
def list_workflows(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List workflows, newest first."""
    with state_of(ctx).workspace() as ws:
        workflows = ws.workflows.list()
    if as_json:
        emit_json([_json(w) for w in workflows])
        return
    if not workflows:
        console.print("No workflows yet. Add one from a YAML or JSON file.")
        return
    table = Table("ID", "Name", "Pattern", "Status", "Runs")
    for w in workflows:
        pattern = w.pattern if w.pattern in BUILT_PATTERNS else f"{w.pattern} (not built yet)"
        table.add_row(w.id, escape(w.name), pattern, w.status.value, str(w.run_count))
    console.print(table)


@app.command("show")
def show(ctx: typer.Context, workflow_id: IdArg, as_json: JsonFlag = False) -> None:
    """Show a workflow and the steps of its latest run."""
    _act(ctx, lambda ws: ws.workflows.get(workflow_id), as_json)


@app.command("pause")
def pause(ctx: typer.Context, workflow_id: IdArg, as_json: JsonFlag = False) -> None:
    """Pause a run before its next step (the step now running finishes)."""
    _act(ctx, lambda ws: ws.workflows.pause(workflow_id), as_json)


@app.command("resume")
def resume(
    ctx: typer.Context,
    workflow_id: IdArg,
    follow: FollowFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Resume a paused run at its first unfinished step."""
    _act(ctx, lambda ws: ws.workflows.resume(workflow_id), as_json, follow=follow)


@app.command("cancel")
def cancel(ctx: typer.Context, workflow_id: IdArg, as_json: JsonFlag = False) -> None:
    """Cancel a running or paused run and its step in flight."""
    _act(ctx, lambda ws: ws.workflows.cancel(workflow_id), as_json)


@app.command("retry")
def retry(
    ctx: typer.Context,
    workflow_id: IdArg,
    step: Annotated[str, typer.Argument(metavar="STEP", help="The failed step's id.")],
    follow: FollowFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Run a failed step again, then what follows it (finished steps do not run again)."""
    _act(ctx, lambda ws: ws.workflows.retry(workflow_id, step), as_json, follow=follow)


@app.command("rerun")
def rerun(
    ctx: typer.Context,
    workflow_id: IdArg,
    step: Annotated[str, typer.Argument(metavar="STEP", help="The step to run again from.")],
    follow: FollowFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Start a new run from STEP: it and what depends on it run again; the other steps reuse
    their outputs from the latest run (nothing is sent to a model again)."""
    _act(ctx, lambda ws: ws.workflows.rerun(workflow_id, step), as_json, follow=follow)
