"""``stagent budget``: spending caps per day and month, their spend, and breach cards."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from stagent.cli import ledger
from stagent.cli.output import JsonFlag, console, emit_json
from stagent.cli.person import the_person
from stagent.cli.state import state_of
from stagent.domain.errors import ValidationError
from stagent.governance.budgets import ScopeStatus
from stagent.governance.budgets_config import CLEAR, BudgetChange
from stagent.governance.budgets_policy import LimitStatus
from stagent.ledger.money import parse_usd, shown_usd
from stagent.schemas import BreachSchema, BudgetScopeSchema
from stagent.workspace import Workspace

app = typer.Typer(
    help="Spending caps, headroom and the usage ledger.\n\n"
    "Caps per day and month: overall, per runtime, per project.",
    no_args_is_help=True,
)

HEALTH_STYLES = {"ok": "green", "warning": "yellow", "blocked": "bold red", "unlimited": "dim"}

RuntimeOption = Annotated[
    str | None, typer.Option("--runtime", help="A runtime's budget (e.g. claude, codex).")
]
ProjectOption = Annotated[str | None, typer.Option("--project", help="A project's budget.")]


def _scope(runtime: str | None, project: str | None) -> tuple[str, str | None]:
    if runtime and project:
        raise ValidationError("give --runtime or --project, not both")
    if runtime:
        return "runtime", runtime
    if project:
        return "project", project
    return "overall", None


def _cap(value: str | None, field: str) -> int | None:
    if value is None:
        return None
    if value.strip().lower() in ("none", "off", "unlimited"):
        return CLEAR
    return parse_usd(value, field)


def show_json(ws: Workspace, statuses: list[ScopeStatus]) -> dict[str, Any]:
    """What ``budget show --json`` prints."""
    zone = ws.budgets.zone
    return {
        "timezone": ws.budgets.timezone_name(),
        "pricing_version": ws.budgets.recorder.prices.version,
        "scopes": [BudgetScopeSchema.of(status, zone).data() for status in statuses],
        "breaches": [BreachSchema.of(card).data() for card in ws.budgets.breaches()],
    }


@app.command("show")
def show(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Caps, spend today and this month, headroom, health and reset times, per scope."""
    with state_of(ctx).workspace() as ws:
        data = show_json(ws, ws.budgets.statuses())
    if as_json:
        emit_json(data)
        return
    _print_scopes(data)
    _print_notes(data)


def _print_scopes(data: dict[str, Any]) -> None:
    table = Table(
        title=f"Budgets (days and months in {data['timezone']})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for column in ("Scope", "Window", "Spent", "Cap", "Left", "Health", "Resets"):
        justify = "right" if column in ("Spent", "Cap", "Left") else "left"
        table.add_column(column, justify=justify, no_wrap=column != "Scope")
    for scope in data["scopes"]:
        for index, limit in enumerate((scope["daily"], scope["monthly"])):
            label = f"{escape(scope['label'])} [dim]({scope['on_breach']})[/]" if index == 0 else ""
            table.add_row(
                label,
                "today" if limit["period"] == "daily" else "month",
                shown_usd(limit["spent_micros"]),
                _cap_text(limit),
                "-" if limit["headroom_micros"] is None else shown_usd(limit["headroom_micros"]),
                f"[{HEALTH_STYLES[limit['health']]}]{limit['health']}[/]",
                limit["resets"].rsplit(" ", 1)[0],
                end_section=index == 1,
            )
    console.print(table, soft_wrap=False)


def _cap_text(limit: dict[str, Any]) -> str:
    if limit["cap_micros"] is None:
        return "-"
    extra = f" +{shown_usd(limit['allowance_micros'])}" if limit["allowance_micros"] else ""
    return f"{shown_usd(limit['cap_micros'])}{extra}"


def _print_notes(data: dict[str, Any]) -> None:
    unpriced = max((s["monthly"]["unpriced_rows"] for s in data["scopes"]), default=0)
    if unpriced:
        console.print(
            f"[yellow]{unpriced} usage rows this month have no price and count as $0 "
            "(see `stagent budget usage`).[/]"
        )
    for card in data["breaches"]:
        console.print(
            f"[bold red]waiting[/] {card['id']}: {escape(card['title'])} - "
            f"answer with `stagent budget respond {card['id']} raise|allow --amount USD|cancel`"
        )


@app.command("set")
def set_budget(
    ctx: typer.Context,
    runtime: RuntimeOption = None,
    project: ProjectOption = None,
    daily: Annotated[
        str | None, typer.Option("--daily", help="Daily cap in USD ('none' removes it).")
    ] = None,
    monthly: Annotated[
        str | None, typer.Option("--monthly", help="Monthly cap in USD ('none' removes it).")
    ] = None,
    warn_at: Annotated[
        float | None,
        typer.Option("--warn-at", help="Warn once per window at this fraction (default 0.8)."),
    ] = None,
    on_breach: Annotated[
        str | None,
        typer.Option(
            "--on-breach", help="fail: refuse new calls; pause: hold work for your decision."
        ),
    ] = None,
    per_run: Annotated[
        str | None,
        typer.Option("--per-run", help="Each run's own cap in USD (default 2.00)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Set caps for one scope (overall unless --runtime or --project is given)."""
    scope, ref = _scope(runtime, project)
    change = BudgetChange(
        scope=scope,
        ref=ref,
        daily=_cap(daily, "daily"),
        monthly=_cap(monthly, "monthly"),
        warn_at=warn_at,
        on_breach=on_breach,
        per_run=_cap(per_run, "per_run"),
    )
    with state_of(ctx).workspace() as ws:
        the_person(ws)
        status = ws.budgets.set(change)
        data = BudgetScopeSchema.of(status, ws.budgets.zone).data()
    if as_json:
        emit_json(data)
        return
    console.print(f"Budget for [bold]{escape(status.label)}[/]: {_summary(status)}")


def _summary(status: ScopeStatus) -> str:
    def cap(limit: LimitStatus) -> str:
        return shown_usd(limit.cap) if limit.cap is not None else "no cap"

    daily, monthly = status.limits
    return (
        f"daily {cap(daily)}, monthly {cap(monthly)}, warn at {int(status.policy.warn_at * 100)}%"
        f", on breach {status.policy.on_breach}"
    )


@app.command("clear")
def clear(
    ctx: typer.Context,
    runtime: RuntimeOption = None,
    project: ProjectOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove one scope's budget (its spend stays in the ledger)."""
    scope, ref = _scope(runtime, project)
    with state_of(ctx).workspace() as ws:
        the_person(ws)
        removed = ws.budgets.clear(scope, ref)
    if as_json:
        emit_json({"scope": scope, "ref": ref, "removed": removed})
        return
    label = f"{scope} {ref or ''}".strip()
    console.print(f"Removed the {label} budget." if removed else f"No {label} budget was set.")


@app.command("respond")
def respond(
    ctx: typer.Context,
    card_id: Annotated[str, typer.Argument(metavar="ID", help="The breach card's id.")],
    action: Annotated[str, typer.Argument(help="raise, allow or cancel.")],
    amount: Annotated[
        str | None,
        typer.Option("--amount", help="raise: the new cap; allow: USD more for this window."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Answer a breach card: raise the cap, allow more for this window, or cancel the work."""
    micros = parse_usd(amount, "amount") if amount is not None else None
    with state_of(ctx).workspace() as ws:
        card = ws.budgets.respond(card_id, action, micros, by=the_person(ws))
    if as_json:
        emit_json(BreachSchema.of(card).data())
        return
    console.print(f"Answered {card.id}: {escape(str((card.response or {}).get('action')))}")


@app.command("usage")
def usage(
    ctx: typer.Context,
    task: Annotated[str | None, typer.Option("--task", help="Only this task's rows.")] = None,
    runtime: Annotated[str | None, typer.Option("--runtime", help="Only this runtime.")] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="completed, failed, cancelled, blocked, reserved..."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=5000)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """The usage ledger, newest first (the same as `stagent ledger list`)."""
    ledger.list_rows(
        ctx, task=task, runtime=runtime, status=status, source=None, limit=limit, as_json=as_json
    )
