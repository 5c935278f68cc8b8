"""``stagent blueprint``: list and show workflow templates, and run one as a workflow."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from stagent.cli.errors import print_skipped
from stagent.cli.output import JsonFlag, console, emit_json, err_console
from stagent.cli.state import state_of
from stagent.cli.tables import fit_columns
from stagent.domain.errors import ValidationError
from stagent.profiles.instantiate import Instance
from stagent.profiles.service import ProfileService
from stagent.schemas.profiles import (
    PREVIEW_ONLY,
    blueprint_detail,
    blueprint_summary,
    resolved_out,
)

app = typer.Typer(help="Blueprints: workflow templates with variables.", no_args_is_help=True)


def _service(ctx: typer.Context) -> ProfileService:
    return ProfileService(state_of(ctx).settings().home)


@app.command("list")
def list_blueprints(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Built-in and user blueprints."""
    catalog = _service(ctx).blueprints()
    items = [blueprint_summary(b, catalog.scope_of(b.id)) for b in catalog.all()]
    if as_json:
        emit_json([i.model_dump() for i in items])
    else:
        table = Table(box=box.SIMPLE_HEAD)
        table.add_column("id", no_wrap=True)
        for column in ("name", "pattern", "domain", "steps", "scope"):
            table.add_column(column)
        for i in items:
            table.add_row(i.id, escape(i.name), i.pattern, i.domain, str(i.steps), i.scope)
        dropped = fit_columns(console, table, ("scope", "domain"))
        console.print(table)
        if dropped:
            console.print(
                f"[dim]{', '.join(dropped)} not shown at this width: `stagent blueprint show ID`[/]"
            )
    for blueprint_id, error in catalog.problems:
        print_skipped(f"blueprint {blueprint_id}", error)


@app.command("show")
def show(ctx: typer.Context, blueprint_id: str, as_json: JsonFlag = False) -> None:
    """A blueprint's variables and step templates."""
    catalog = _service(ctx).blueprints()
    blueprint = catalog.get(blueprint_id)
    if as_json:
        emit_json(blueprint_detail(blueprint, catalog.scope_of(blueprint_id)))
        return
    console.print(f"[bold]{escape(blueprint.name)}[/] ({blueprint.id}, {blueprint.pattern})")
    console.print(escape(blueprint.description))
    console.print("\n[bold]Variables[/]")
    for v in blueprint.variables:
        extra = f" one of {', '.join(o.value for o in v.options)}" if v.options else ""
        default = f" default {v.default}" if v.default is not None else ""
        need = "required" if v.required else "optional"
        console.print(f"- {v.id} ({v.type}, {need}{escape(default)}){escape(extra)}: "
                      f"{escape(v.label or '')}")  # fmt: skip
    console.print("\n[bold]Steps[/]")
    for index, step in enumerate(blueprint.steps, start=1):
        flags = [f"profile {step.profile}"]
        if step.requires_approval:
            flags.append("waits for approval")
        if step.condition:
            flags.append(f"only if {step.condition}")
        console.print(f"{index}. {escape(step.name)} [dim]({escape('; '.join(flags))})[/]")


def _parse_vars(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"--var {pair!r}: expected key=value")
        values[key.strip()] = value
    return values


@app.command("run")
def run(
    ctx: typer.Context,
    blueprint_id: str,
    var: Annotated[list[str] | None, typer.Option("--var", help="A variable: key=value.")] = None,
    runtime: Annotated[
        str | None, typer.Option(help="Runtime for every step that names none (default scripted).")
    ] = None,
    project: Annotated[str | None, typer.Option(help="Project id or name.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Resolve and print the steps; start nothing.")
    ] = False,
    follow: Annotated[bool, typer.Option(help="Wait until the run ends.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Start a blueprint as a workflow (without a running server or worker, it runs here).

    The variables are validated and the steps resolved first; --dry-run stops there."""
    values = _parse_vars(var or [])
    if dry_run:
        instance = _service(ctx).instantiate(blueprint_id, values, runtime=runtime)
        _print_resolved(instance, as_json)
        return
    from stagent.cli.workflow import finish

    with state_of(ctx).workspace() as ws:
        workflow = ws.run_blueprint(blueprint_id, values, runtime=runtime, project=project)
        finish(ws, workflow, as_json, follow=follow or ws.live_workers() == 0)


def _print_resolved(instance: Instance, as_json: bool) -> None:
    definition = instance.definition
    if as_json:
        emit_json(resolved_out(instance))
        return
    console.print(f"[bold]{escape(definition.name)}[/] ({definition.pattern})")
    for index, step in enumerate(definition.steps, start=1):
        gate = " [magenta](waits for approval)[/]" if step.requires_approval else ""
        console.print(f"\n{index}. [bold]{escape(step.name)}[/] · {step.profile}{gate}")
        console.print(escape(step.prompt), soft_wrap=True)
    for skipped in instance.skipped:
        console.print(f"[dim]skipped by its condition: {skipped}[/]")
    err_console.print(f"\n[yellow]{PREVIEW_ONLY}[/]")
