"""``stagent rules``: saved permission rules, trust presets, Claude Code settings files.

A rule's scope is ``global`` (default), ``project`` (``--project``) or ``task`` (``--task``);
naming a project or task implies its scope.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from stagent.cli.output import JsonFlag, console, emit_json
from stagent.cli.person import the_person
from stagent.cli.state import state_of
from stagent.domain.errors import ValidationError
from stagent.domain.permissions import PermissionRule
from stagent.governance.defaults import MODE_DESCRIPTIONS
from stagent.governance.rule_service import PresetState
from stagent.schemas import RuleSchema

app = typer.Typer(
    help="Saved permission rules and trust presets.\n\n"
    "Rules use Claude Code's syntax; import and export .claude/settings.json.",
    no_args_is_help=True,
)
preset_app = typer.Typer(
    help="Trust presets: read-only, git-safe, full-auto.", no_args_is_help=True
)
app.add_typer(preset_app, name="preset")

ScopeOpt = Annotated[
    str | None,
    typer.Option("--scope", help="task, project or global (default: from --task/--project)."),
]
ProjectOpt = Annotated[str | None, typer.Option("--project", help="Project id or name.")]
TaskOpt = Annotated[str | None, typer.Option("--task", help="Task id.")]


def scope_of(scope: str | None, project: str | None, task: str | None) -> tuple[str, str | None]:
    """The scope and its reference from ``--scope``, ``--project`` and ``--task``."""
    if project and task:
        raise ValidationError("give --project or --task, not both")
    chosen = scope or ("task" if task else "project" if project else "global")
    ref = task if chosen == "task" else project if chosen == "project" else None
    if chosen == "global" and (project or task):
        raise ValidationError("a global rule takes no --project or --task")
    return chosen, ref


def rule_json(rule: PermissionRule) -> dict[str, Any]:
    """A rule as JSON-ready data (the shared schema)."""
    return RuleSchema.of(rule).data()


def _print_rules(rules: list[PermissionRule]) -> None:
    if not rules:
        console.print("No saved rules. Every tool call no rule decides waits in the inbox.")
        return
    table = Table(title="Rules", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("ID", "Rule", "Effect", "Scope", "Source"):
        table.add_column(name, overflow="fold")
    for rule in rules:
        where = rule.scope if rule.scope == "global" else f"{rule.scope} {rule.scope_ref}"
        table.add_row(
            rule.id or "", escape(rule.text), rule.effect, escape(where), escape(rule.source)
        )
    console.print(table, soft_wrap=False)


@app.command("list")
def list_rules(
    ctx: typer.Context,
    scope: ScopeOpt = None,
    project: ProjectOpt = None,
    task: TaskOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """List saved rules (all, or one scope's)."""
    with state_of(ctx).workspace() as ws:
        if scope is None and project is None and task is None:
            rules = ws.rules.list()
        else:
            chosen, ref = scope_of(scope, project, task)
            rules = ws.rules.list(scope=chosen, ref=ref)
    if as_json:
        emit_json([rule_json(r) for r in rules])
    else:
        _print_rules(rules)


AckFlag = Annotated[
    bool,
    typer.Option(
        "--acknowledge-risk",
        help="Save a rule that lets an agent run code even though agents run without a sandbox "
        "here (the agent can then act as you, including approving its own requests).",
    ),
]


@app.command("add")
def add(
    ctx: typer.Context,
    rule: Annotated[str, typer.Argument(help="The rule, e.g. 'Bash(npm run test *)'.")],
    effect: Annotated[str, typer.Option("--effect", help="allow, deny or ask.")] = "allow",
    scope: ScopeOpt = None,
    project: ProjectOpt = None,
    task: TaskOpt = None,
    acknowledge: AckFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Save a rule; a malformed one, or one Claude Code would ignore, is refused with the reason."""
    chosen, ref = scope_of(scope, project, task)
    with state_of(ctx).workspace() as ws:
        the_person(ws)
        saved = ws.rules.add(rule, effect, scope=chosen, ref=ref, acknowledged=acknowledge)
    if as_json:
        emit_json(rule_json(saved))
    else:
        console.print(f"Saved {saved.effect} rule {escape(saved.text)} ({saved.id}, {chosen}).")


@app.command("remove")
def remove(
    ctx: typer.Context,
    rule_id: Annotated[str, typer.Argument(metavar="ID", help="The rule's id.")],
    as_json: JsonFlag = False,
) -> None:
    """Delete a rule."""
    with state_of(ctx).workspace() as ws:
        the_person(ws)
        removed = ws.rules.remove(rule_id)
    if as_json:
        emit_json(rule_json(removed))
    else:
        console.print(f"Deleted {removed.effect} rule {escape(removed.text)} ({rule_id}).")


def _preset_json(state: PresetState) -> dict[str, Any]:
    return {
        "name": state.name,
        "tier": state.tier,
        "risk": state.risk,
        "description": state.description,
        "rule_count": state.rule_count,
        "active": state.active,
    }


@preset_app.command("list")
def preset_list(
    ctx: typer.Context,
    scope: ScopeOpt = None,
    project: ProjectOpt = None,
    task: TaskOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """The presets and which are active."""
    chosen, ref = scope_of(scope, project, task)
    with state_of(ctx).workspace() as ws:
        states = ws.rules.presets(scope=chosen, ref=ref)
    if as_json:
        emit_json([_preset_json(s) for s in states])
        return
    for s in states:
        mark = "[green]active[/]" if s.active else "[dim]off[/]"
        console.print(f"{s.name:<10} {s.tier:<13} {mark}  {escape(s.description)}")


@preset_app.command("apply")
def preset_apply(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="read-only, git-safe or full-auto.")],
    scope: ScopeOpt = None,
    project: ProjectOpt = None,
    task: TaskOpt = None,
    acknowledge: AckFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Add a preset's rules (idempotent)."""
    chosen, ref = scope_of(scope, project, task)
    with state_of(ctx).workspace() as ws:
        the_person(ws)
        added = ws.rules.apply_preset(name, scope=chosen, ref=ref, acknowledged=acknowledge)
    if as_json:
        emit_json({"name": name, "added": [rule_json(r) for r in added], "removed": 0})
    else:
        console.print(f"Applied {escape(name)}: {len(added)} rule(s) added.")


@preset_app.command("remove")
def preset_remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="read-only, git-safe or full-auto.")],
    scope: ScopeOpt = None,
    project: ProjectOpt = None,
    task: TaskOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove only a preset's own rules (rules from elsewhere stay)."""
    chosen, ref = scope_of(scope, project, task)
    with state_of(ctx).workspace() as ws:
        the_person(ws)
        removed = ws.rules.remove_preset(name, scope=chosen, ref=ref)
    if as_json:
        emit_json({"name": name, "added": [], "removed": removed})
    else:
        console.print(f"Removed {escape(name)}: {removed} rule(s) deleted.")


@app.command("import")
def import_rules(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A Claude Code settings file.")],
    scope: ScopeOpt = None,
    project: ProjectOpt = None,
    acknowledge: AckFlag = False,
    as_json: JsonFlag = False,
) -> None:
    """Import permissions from a .claude/settings.json (refused entries say why)."""
    chosen, ref = scope_of(scope, project, None)
    with state_of(ctx).workspace() as ws:
        the_person(ws)
        result = ws.rules.import_file(path, scope=chosen, ref=ref, acknowledged=acknowledge)
    refused = [
        {"effect": i.effect, "text": i.text, "reason": i.note} for i in result.report.refused
    ]
    if as_json:
        emit_json(
            {
                "path": result.report.path,
                "added": [rule_json(r) for r in result.added],
                "already": [rule_json(r) for r in result.already],
                "refused": refused,
                "warnings": list(result.report.warnings),
            }
        )
        return
    console.print(
        f"Imported {len(result.added)} rule(s) from {escape(result.report.path)} "
        f"({len(result.already)} already saved, {len(refused)} refused)."
    )
    for item in refused:
        why = escape(str(item["reason"] or "refused"))
        console.print(f"  refused {item['effect']} {escape(str(item['text']))}: {why}")
    for warning in result.report.warnings:
        console.print(f"  [yellow]{escape(warning)}[/]")


@app.command("export")
def export_rules(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The settings file to write (merged if it exists).")],
    scope: ScopeOpt = None,
    project: ProjectOpt = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Make the lists hold exactly these rules.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Merge one scope's rules into a Claude Code settings file (other keys are kept)."""
    chosen, ref = scope_of(scope, project, None)
    with state_of(ctx).workspace() as ws:
        result = ws.rules.export_file(path, scope=chosen, ref=ref, replace=replace)
    skipped = [{"rule": r.text, "reason": why} for r, why in result.skipped]
    if as_json:
        emit_json(
            {
                "path": str(path),
                "exported": [rule_json(r) for r in result.exported],
                "skipped": skipped,
            }
        )
        return
    console.print(f"Exported {len(result.exported)} rule(s) to {escape(str(path))}.")
    for item in skipped:
        console.print(f"  skipped {escape(item['rule'])}: {escape(item['reason'])}")


@app.command("default")
def default_mode(
    ctx: typer.Context,
    mode: Annotated[
        str | None,
        typer.Argument(
            metavar="[MODE]",
            help="claude-code (reads inside the working directory run; the rest asks) or ask "
            "(everything asks). Without it: show the current one.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show or set what a call no rule decides gets."""
    with state_of(ctx).workspace() as ws:
        chosen = ws.permission_defaults.set_mode(mode) if mode else ws.permission_defaults.mode()
    if as_json:
        emit_json({"mode": chosen, "description": MODE_DESCRIPTIONS[chosen]})
        return
    console.print(f"Default: [bold]{chosen}[/] — {escape(MODE_DESCRIPTIONS[chosen])}")
