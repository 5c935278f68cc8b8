"""``stagent schedule``: recurring and one-shot prompts, workflows and blueprints, with limits,
expiry and policies."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Column, Table

from stagent.cli.output import JsonFlag, console, emit_json, err_console
from stagent.cli.render import print_event
from stagent.cli.state import state_of
from stagent.domain.errors import ValidationError
from stagent.domain.schedules import Firing, FiringStatus, Schedule
from stagent.ledger.money import shown_usd
from stagent.runtimes.scenario import load_scenario_file, scenario_to_data
from stagent.scheduler.drafts import ScheduleDraft
from stagent.schemas.schedules import (
    LIST_HISTORY,
    SHOW_HISTORY,
    FiringOut,
    ScheduleOut,
    WhenOut,
    schedule_out,
)
from stagent.workspace import Workspace

app = typer.Typer(
    help="Scheduled prompts, workflows and blueprints.\n\n"
    "add, list, show, edit, pause, resume, fire (now), rm.",
    no_args_is_help=True,
)

Cron = Annotated[
    str | None,
    typer.Option("--cron", help="5-field cron, or a phrase: 'every weekday at 9am'."),
]
Every = Annotated[str | None, typer.Option("--every", help="Interval: 90s, 15m, 2h, 1d.")]
At = Annotated[str | None, typer.Option("--at", help="Fire once at this time (ISO 8601).")]
Tz = Annotated[str | None, typer.Option("--tz", help="IANA time zone (default: yours).")]
Prompt = Annotated[str | None, typer.Option("--prompt", help="What the agent should do.")]
Runtime = Annotated[str | None, typer.Option("--runtime", help="Runtime (default scripted).")]
Profile = Annotated[str | None, typer.Option("--profile", help="Agent profile.")]
Project = Annotated[str | None, typer.Option("--project", help="Project id or name.")]
Workflow = Annotated[
    str | None, typer.Option("--workflow", help="Fire a new run of this workflow (id or name).")
]
Blueprint = Annotated[
    str | None, typer.Option("--blueprint", help="Fire this blueprint as a new workflow.")
]
Vars = Annotated[list[str] | None, typer.Option("--var", help="Blueprint variable k=v.")]
MaxFirings = Annotated[int | None, typer.Option("--max-firings", help="Stop after N firings.")]
ExpiresAt = Annotated[str | None, typer.Option("--expires-at", help="Stop firing after this.")]
Overlap = Annotated[
    str | None, typer.Option("--overlap", help="While a firing runs: skip, queue or allow.")
]
Missed = Annotated[str | None, typer.Option("--missed", help="After downtime: skip, once or all.")]
Scenario = Annotated[
    Path | None, typer.Option("--scenario", help="Scenario file for the scripted runtime.")
]
NoLimit = Annotated[bool, typer.Option("--no-limit", help="Remove the firing limit.")]
NoExpiry = Annotated[bool, typer.Option("--no-expiry", help="Remove the expiry time.")]
Ref = Annotated[str, typer.Argument(help="Schedule id or name.")]


def _variables(pairs: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"var: {pair!r} is not k=v", hint="write --var topic=pricing")
        out[key.strip()] = value
    return out


def _options(scenario: Path | None) -> dict[str, object] | None:
    if scenario is None:
        return None
    return {"scenario": scenario_to_data(load_scenario_file(scenario))}


DRAFT_FIELDS = frozenset(f.name for f in dataclasses.fields(ScheduleDraft)) - {
    "variables",
    "options",
}


def _draft(given: dict[str, Any]) -> ScheduleDraft:
    """The draft of ``add``'s or ``edit``'s options (each named like the draft's field)."""
    fields = {key: value for key, value in given.items() if key in DRAFT_FIELDS}
    return ScheduleDraft(
        **fields, variables=_variables(given.get("var")), options=_options(given.get("scenario"))
    )


def _saved(out: ScheduleOut, verb: str, as_json: bool) -> None:
    if as_json:
        emit_json(out.model_dump(mode="json"))
        return
    console.print(f"{verb} schedule [bold]{escape(out.name)}[/] ({out.id}, {out.status})")
    _print_when(out.when, out.upcoming)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The schedule's name (unique).")],
    cron: Cron = None,
    every: Every = None,
    at: At = None,
    prompt: Prompt = None,
    runtime: Runtime = None,
    profile: Profile = None,
    project: Project = None,
    workflow: Workflow = None,
    blueprint: Blueprint = None,
    var: Vars = None,
    max_firings: MaxFirings = None,
    expires_at: ExpiresAt = None,
    tz: Tz = None,
    overlap: Overlap = None,
    missed: Missed = None,
    scenario: Scenario = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what it would do; save nothing.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a schedule: one of --cron, --every, --at; one of --prompt, --workflow,
    --blueprint."""
    draft = _draft(locals())
    with state_of(ctx).workspace() as ws:
        if dry_run:
            preview, times = ws.schedules.preview(draft)
            out = ScheduleOut.of(preview, [], times)
        else:
            out = schedule_out(ws.schedules, ws.schedules.create(draft), history=0)
    _saved(out, "Would create" if dry_run else "Created", as_json)


@app.command("edit")
def edit(
    ctx: typer.Context,
    ref: Ref,
    name: Annotated[str | None, typer.Option("--name", help="A new name.")] = None,
    cron: Cron = None,
    every: Every = None,
    at: At = None,
    prompt: Prompt = None,
    runtime: Runtime = None,
    profile: Profile = None,
    project: Project = None,
    workflow: Workflow = None,
    blueprint: Blueprint = None,
    var: Vars = None,
    max_firings: MaxFirings = None,
    clear_limit: NoLimit = False,
    expires_at: ExpiresAt = None,
    clear_expiry: NoExpiry = False,
    tz: Tz = None,
    overlap: Overlap = None,
    missed: Missed = None,
    scenario: Scenario = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a schedule; options left out keep their value."""
    draft = _draft(locals())
    with state_of(ctx).workspace() as ws:
        out = schedule_out(ws.schedules, ws.schedules.update(ref, draft), history=0)
    _saved(out, "Updated", as_json)


@app.command("list")
def list_schedules(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Schedules with their status and next fire time (in each schedule's own zone, as
    ``show`` says it)."""
    with state_of(ctx).workspace() as ws:
        outs = [schedule_out(ws.schedules, s, history=LIST_HISTORY) for s in ws.schedules.list()]
    if as_json:
        emit_json([out.model_dump(mode="json") for out in outs])
        return
    if not outs:
        console.print("No schedules yet.")
        return
    table = Table("name", "status", "when", "target", "next fire", "firings", box=None)
    for out in outs:
        table.add_row(
            escape(out.name),
            out.status,
            escape(out.when.source or out.when.description),
            escape(_target(out)),
            _local(out.next_fire_at, out.when.tz) or "-",
            _firings_cell(out),
        )
    console.print(table)


@app.command("show")
def show(ctx: typer.Context, ref: Ref, as_json: JsonFlag = False) -> None:
    """A schedule, its next five fire times and its firing history."""
    with state_of(ctx).workspace() as ws:
        out = schedule_out(ws.schedules, ws.schedules.get(ref), history=SHOW_HISTORY)
    if as_json:
        emit_json(out.model_dump(mode="json"))
        return
    console.print(f"[bold]{escape(out.name)}[/] ({out.id}) — {out.status}")
    console.print(f"Fires: {escape(_target(out))}")
    limits = [f"overlap {out.overlap}", f"missed {out.missed}"]
    if out.max_firings is not None:
        limits.append(f"{out.firing_count} of {out.max_firings} firings")
    if out.expires_at is not None:
        limits.append(f"expires {_local(out.expires_at, out.when.tz)}")
    console.print("Policies: " + ", ".join(limits))
    _print_when(out.when, out.upcoming)
    if not out.firings:
        console.print("No firings yet.")
        return
    started = Column("started", no_wrap=True)  # an id a person copies: never cut in two
    table = Table("occurrence", "status", started, "outcome", "cost", "reason", box=None)
    for firing in out.firings:
        table.add_row(
            _local(firing.occurrence_at, out.when.tz) + (" (now)" if firing.manual else ""),
            firing.status,
            _started(firing),
            firing.outcome or "-",
            "simulated" if firing.simulated else shown_usd(firing.cost_micros),
            escape(firing.reason or ""),
        )
    console.print(table)


def _started(firing: FiringOut) -> str:
    if firing.workflow_id:
        return f"workflow {firing.workflow_id} run {firing.workflow_run}"
    return f"task {firing.task_id}" if firing.task_id else "-"


def _change(ctx: typer.Context, ref: str, verb: str, as_json: bool) -> None:
    with state_of(ctx).workspace() as ws:
        action = {"pause": ws.schedules.pause, "resume": ws.schedules.resume}[verb]
        out = schedule_out(ws.schedules, action(ref), history=LIST_HISTORY)
    if as_json:
        emit_json(out.model_dump(mode="json"))
        return
    console.print(f"Schedule [bold]{escape(out.name)}[/] is {out.status}")
    if out.next_fire_at:
        console.print(f"Next fire: {_local(out.next_fire_at, out.when.tz)}")


def _state_command(verb: str, doc: str) -> None:
    def command(ctx: typer.Context, ref: Ref, as_json: JsonFlag = False) -> None:
        _change(ctx, ref, verb, as_json)

    command.__doc__ = doc
    app.command(verb)(command)


_state_command("pause", "Stop firing until resumed.")
_state_command("resume", "Fire again from now on.")


@app.command("fire")
def fire(ctx: typer.Context, ref: Ref, as_json: JsonFlag = False) -> None:
    """Fire now. A running `stagent serve` or worker takes it; otherwise it runs here."""
    with state_of(ctx).workspace() as ws:
        local = ws.live_workers() == 0
        firing = ws.schedules.fire_now(ref)
        if local:
            firing = _fire_here(ws, firing, show_events=not as_json)
        out = schedule_out(ws.schedules, ws.schedules.get(ref), history=LIST_HISTORY)
    if as_json:
        emit_json(out.model_dump(mode="json"))
        return
    if firing.status is FiringStatus.FAILED:
        err_console.print(f"Error: firing {out.name} failed: {escape(firing.reason or '')}")
        err_console.print(
            "hint: fix that (`stagent doctor` checks each runtime), then fire again: "
            f"stagent schedule fire {escape(ref)}"
        )
        raise typer.Exit(1)
    if firing.task_id or firing.workflow_id:
        started = _started(FiringOut.of(firing))
        outcome = f" ({firing.outcome})" if firing.outcome else ""
        console.print(f"Fired [bold]{escape(out.name)}[/]: {started}{outcome}")
    else:
        console.print(f"Firing {firing.id} is {firing.status.value}")
        if firing.reason:
            err_console.print(escape(firing.reason))


def _fire_here(ws: Workspace, firing: Firing, *, show_events: bool) -> Firing:
    """No worker is running: this process becomes one until the firing's task ends (its tool
    calls may wait in the inbox, as with `stagent task run`)."""
    ws.start_worker("cli")
    deadline = time.monotonic() + 30
    while not ws.schedules.is_settled(firing.id) and time.monotonic() < deadline:
        time.sleep(0.05)  # until its task is queued, not just created (a planned one ends follow)
    firing = ws.schedules.firing(firing.id)
    if firing.status is FiringStatus.FAILED:  # its task or run could not start: nothing to run
        return firing
    if firing.task_id:
        if show_events:
            console.print(f"Running task {firing.task_id} here (no worker is running)")
        for event in ws.tasks.follow(firing.task_id):
            if show_events:
                print_event(event)
        firing = ws.schedules.firing(firing.id)
    elif firing.workflow_id:
        if show_events:
            console.print(f"Running workflow {firing.workflow_id} here (no worker is running)")
        ws.workflows.wait(firing.workflow_id, timeout=24 * 3600)
        firing = ws.schedules.firing(firing.id)
    return firing


@app.command("rm")
def remove(ctx: typer.Context, ref: Ref, as_json: JsonFlag = False) -> None:
    """Delete a schedule and its history (the tasks it started stay)."""
    with state_of(ctx).workspace() as ws:
        schedule: Schedule = ws.schedules.get(ref)
        ws.schedules.delete(schedule.id)
    if as_json:
        emit_json({"id": schedule.id, "deleted": True})
        return
    console.print(f"Deleted schedule [bold]{escape(schedule.name)}[/]")


def _target(out: ScheduleOut) -> str:
    target = out.target
    if target.kind == "workflow":
        return f"workflow {target.ref}"
    if target.kind == "blueprint":
        given = ", ".join(f"{k}={v}" for k, v in target.variables.items())
        return (
            f"blueprint {target.ref}" + (f" ({given})" if given else "") + f" on {target.runtime}"
        )
    extra = f", profile {target.profile}" if target.profile else ""
    prompt = target.prompt or ""
    short = prompt if len(prompt) <= 48 else prompt[:47] + "…"
    return f"prompt {short!r} on {target.runtime}{extra}"


def _firings_cell(out: ScheduleOut) -> str:
    limit = f"/{out.max_firings}" if out.max_firings is not None else ""
    return f"{out.firing_count}{limit}"


def _local(value: datetime | None, tz: str | None = None) -> str:
    """``value`` in zone ``tz`` (the schedule's; None: this machine's), the zone said."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(tz) if tz else None).strftime("%Y-%m-%d %H:%M:%S %Z")


def _print_when(when: WhenOut, upcoming: list[datetime]) -> None:
    shown = escape(when.source)
    if when.kind == "cron" and when.source.strip() != (when.cron or ""):
        shown = f"{escape(when.source)} → [bold]{escape(when.cron or '')}[/]"
    console.print(f"When: {shown} — {escape(when.description)}")
    if upcoming:
        console.print("Next: " + ", ".join(_local(t, when.tz) for t in upcoming))
    else:
        console.print("Next: never (it will not fire again)")
