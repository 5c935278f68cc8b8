"""``stagent project``: create and list projects."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from stagent.cli.output import JsonFlag, console, emit_json
from stagent.cli.render import print_projects, project_json
from stagent.cli.state import state_of

app = typer.Typer(help="Create and list projects.", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The project's name (unique).")],
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Working directory the project's agents run in."),
    ] = None,
    description: Annotated[str, typer.Option(help="What the project is about.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Create a project."""
    with state_of(ctx).workspace() as ws:
        project = ws.projects.create(
            name, description=description, directory=str(directory) if directory else None
        )
    if as_json:
        emit_json(project_json(project))
        return
    console.print(f"Created project [bold]{escape(project.name)}[/] ({project.id})")


@app.command("list")
def list_projects(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List projects with their task counts."""
    with state_of(ctx).reads() as reads:
        projects = reads.reader.projects()
        counts = reads.reader.task_counts()
    if as_json:
        emit_json([project_json(p, counts.get(p.id, {})) for p in projects])
        return
    print_projects(projects, counts)
