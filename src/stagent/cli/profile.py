"""``stagent profile``: list, show, test, install, export, import and route profiles."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from stagent.cli.errors import RunFailedError, print_skipped
from stagent.cli.output import JsonFlag, console, emit_json
from stagent.cli.state import state_of
from stagent.cli.tables import fit_columns
from stagent.profiles.service import ProfileService
from stagent.schemas.profiles import profile_detail, profile_summary, route_out

app = typer.Typer(help="Agent profiles: who does a task, and how.", no_args_is_help=True)


def _service(ctx: typer.Context) -> ProfileService:
    return ProfileService(state_of(ctx).settings().home)


@app.command("list")
def list_profiles(
    ctx: typer.Context,
    search: Annotated[str, typer.Option("--search", "-s", help="Text in id, name, tags.")] = "",
    domain: Annotated[str | None, typer.Option(help="work or personal.")] = None,
    runtime: Annotated[str | None, typer.Option(help="Only profiles that support it.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List profiles from every scope (built-in, project .claude/skills, user)."""
    service = _service(ctx)
    catalog = service.catalog()
    found = catalog.search(search, domain=domain, runtime=runtime)
    if as_json:
        emit_json([profile_summary(p, catalog.shadowed.get(p.id)).model_dump() for p in found])
    else:
        table = Table(box=box.SIMPLE_HEAD)
        table.add_column("id", no_wrap=True)
        for column in ("name", "domain", "runtimes", "tools", "scope"):
            table.add_column(column)
        for p in found:
            tools = (
                "all" if p.spec.allowed_tools is None else ", ".join(p.spec.allowed_tools) or "none"
            )
            table.add_row(
                p.id, escape(p.spec.name), p.spec.domain, ", ".join(p.runtimes),
                escape(tools), p.scope,
            )  # fmt: skip
        dropped = fit_columns(console, table, ("tools",))
        console.print(table)
        console.print(f"{len(found)} profiles{_not_shown(dropped, 'profile show ID')}")
    for problem in catalog.problems:
        print_skipped(f"{problem.scope} profile {problem.id}", problem.error)


def _not_shown(dropped: list[str], where: str) -> str:
    """What a narrow terminal left out of the list, and where to see it."""
    if not dropped:
        return ""
    return f" ({', '.join(dropped)} not shown at this width: `stagent {where}`)"


@app.command("show")
def show(ctx: typer.Context, profile_id: str, as_json: JsonFlag = False) -> None:
    """A profile: what it sets on each runtime, its smoke tests, last results, instructions."""
    service = _service(ctx)
    profile = service.get(profile_id)
    detail = profile_detail(
        profile, service.catalog().shadowed.get(profile_id), service.results.runs(profile_id)
    )
    if as_json:
        emit_json(detail.model_dump())
        return
    console.print(f"[bold]{escape(detail.name)}[/] ({detail.id} {detail.version}, {detail.scope})")
    console.print(escape(detail.description))
    console.print(f"domain {detail.domain} · tags {escape(', '.join(detail.tags))}")
    for opts in detail.options:
        tools = "all" if opts.tools is None else ", ".join(opts.tools) or "none"
        console.print(f"\n[bold]{opts.runtime}[/]: tools {escape(tools)}"
                      + (f"; model {opts.model}" if opts.model else "")
                      + (f"; max turns {opts.max_turns}" if opts.max_turns else ""))  # fmt: skip
        if opts.auto_approve:
            console.print(f"  allowed without asking: {escape(', '.join(opts.auto_approve))}")
        if opts.auto_deny:
            console.print(f"  denied: {escape(', '.join(opts.auto_deny))}")
    console.print("\n[bold]Smoke tests[/]")
    for test in detail.smoke_tests:
        console.print(
            f"- {escape(test.task)} [dim](expects {escape(', '.join(test.expected_keywords))})[/]"
        )
    if detail.last_results:
        last = detail.last_results[0]
        verdict = "[green]passed[/]" if last["passed"] else "[red]failed[/]"
        console.print(f"last run on {last['runtime']} at {last['finished_at']}: {verdict}")
    console.print(f"\n[bold]Instructions[/] [dim]({escape(detail.path)})[/]\n")
    console.print(escape(detail.instructions))


@app.command("test")
def test(
    ctx: typer.Context,
    profile_id: str,
    runtime: Annotated[
        str | None, typer.Option(help="Runtime (default: the profile's first).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run the profile's smoke tests as real tasks on a runtime and judge the answers."""
    from stagent.cli.running import run_task
    from stagent.profile_tests import run_smoke_tests

    with state_of(ctx).workspace() as ws:
        outcome = run_smoke_tests(
            ws, profile_id, runtime, lambda task_id: run_task(ws, task_id, wait=True).task
        )
    if as_json:
        emit_json(outcome.to_dict())
    else:
        for index, result in enumerate(outcome.results, start=1):
            mark = "[green]pass[/]" if result.passed else "[red]fail[/]"
            console.print(f"{mark} {index}. {escape(result.task)} [dim](task {result.task_id})[/]")
            if not result.passed:
                why = result.error or f"missing {', '.join(result.missing)}"
                console.print(f"     {escape(why)}")
        total = sum(r.passed for r in outcome.results)
        console.print(f"{total}/{len(outcome.results)} passed on {outcome.runtime}")
    if not outcome.passed:
        raise RunFailedError(f"{profile_id}: a smoke test failed on {outcome.runtime}")


@app.command("install")
def install(
    ctx: typer.Context,
    profile_id: str,
    scope: Annotated[
        Literal["user", "project"],
        typer.Option(help="user: ~/.claude/skills; project: ./.claude/skills."),
    ] = "user",
    target: Annotated[Path | None, typer.Option(help="Another skills folder.")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing folder.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Write a profile as a Claude Code skill where Claude Code finds it."""
    path = _service(ctx).install(profile_id, scope, target=target, force=force)
    if as_json:
        emit_json({"id": profile_id, "path": str(path)})
    else:
        console.print(f"Installed {profile_id} as a Claude Code skill in {escape(str(path))}")


@app.command("export")
def export(
    ctx: typer.Context,
    profile_id: str,
    directory: Annotated[Path, typer.Argument(help="Folder to write <id>/ into.")],
    force: Annotated[bool, typer.Option(help="Replace an existing folder.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Copy a profile's folder (SKILL.md + profile.yaml) somewhere."""
    path = _service(ctx).export(profile_id, directory, force=force)
    if as_json:
        emit_json({"id": profile_id, "path": str(path)})
    else:
        console.print(f"Exported {profile_id} to {escape(str(path))}")


@app.command("import")
def import_profile(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(help="A profile folder (SKILL.md + profile.yaml).")],
    force: Annotated[bool, typer.Option(help="Replace a user profile with that id.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Validate a profile folder and add it to your user profiles."""
    profile = _service(ctx).import_(folder, force=force)
    if as_json:
        emit_json(profile_summary(profile).model_dump())
    else:
        console.print(f"Imported {profile.id} into {escape(profile.path)}")


@app.command("route")
def route(
    ctx: typer.Context,
    title: str,
    description: Annotated[str, typer.Option(help="The task's description.")] = "",
    runtime: Annotated[str | None, typer.Option(help="Only profiles that support it.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Which profile the router picks for a task, and why."""
    decision = _service(ctx).route(title, description, runtime)
    if as_json:
        emit_json(route_out(decision).model_dump())
    else:
        console.print(f"[bold]{decision.profile_id}[/]: {escape(decision.reason)}")
