"""``stagent pricing``: the price table in use (shipped, with your overrides)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from stagent.cli import startup
from stagent.cli.output import JsonFlag, console, emit_json
from stagent.cli.state import state_of
from stagent.cli.tables import fit_columns
from stagent.domain.ids import utcnow
from stagent.ledger.prices import PriceTable, load_price_table
from stagent.ledger.views import CATEGORIES, decimal_text, priced_model_json, table_json
from stagent.locations import home_dir

app = typer.Typer(
    help="The price table in use (with your overrides).\n\nUSD per million tokens by model "
    "and token category; $STAGENT_HOME/prices.yaml adds or replaces models.",
    no_args_is_help=True,
)


def prices_in_use(ctx: typer.Context) -> PriceTable:
    """The shipped table with the home's ``prices.yaml`` applied, as the workspace prices
    calls, read without opening the database (the price table is files only)."""
    state = state_of(ctx)
    home = home_dir(state.home.expanduser() if state.home is not None else None)
    table = load_price_table(user_file=home / "prices.yaml")
    startup.ready()
    return table


@app.command("list")
def list_prices(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every priced model with today's prices per million tokens."""
    table = prices_in_use(ctx)
    if as_json:
        emit_json(table_json(table))
        return
    out = Table(
        title=f"Prices {table.version} (USD per million tokens; checked {table.checked})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    out.add_column("Model", no_wrap=True)
    for column in ("Input", "Output", "Write 5m", "Write 1h", "Read", "Long ctx", "Modes"):
        out.add_column(column)
    now = utcnow().date()
    for pricing in table.models:
        period = pricing.at(now) or pricing.periods[-1]
        cells = [decimal_text(getattr(period.prices, name)) or "-" for name in CATEGORIES]
        tiers = ", ".join(f">{t.above // 1000}K" for t in period.tiers) or ""
        modes = ", ".join(f"{n} ×{decimal_text(v)}" for n, v in pricing.multipliers)
        name = pricing.model + (" (yours)" if pricing.model in table.overrides else "")
        if pricing.at(now) is None:
            name += f" (from {period.effective_from})"
        out.add_row(escape(name), *cells, tiers, modes)
    dropped = fit_columns(console, out, ("Modes", "Write 1h"))
    console.print(out, soft_wrap=False)
    if dropped:
        shown = ", ".join(dropped)
        console.print(f"[dim]{shown} not shown at this width: `stagent pricing show MODEL`.[/]")
    console.print(
        "[dim]Not listed = unpriced (flagged in the ledger, never $0). Add models or your own "
        "rates in $STAGENT_HOME/prices.yaml; `stagent ledger reprice` applies them to history.[/]",
        soft_wrap=False,
    )


@app.command("show")
def show(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="A model id or alias, e.g. claude-opus-4-7.")],
    as_json: JsonFlag = False,
) -> None:
    """One model's prices, tiers, modes, aliases and sources."""
    table = prices_in_use(ctx)
    data = priced_model_json(table, model)
    if as_json:
        emit_json(data)
        return
    pricing = table.lookup(model)
    assert pricing is not None  # `priced_model_json` found it
    console.print(f"[bold]{escape(pricing.model)}[/] ({pricing.provider}), table {table.version}")
    if pricing.aliases:
        console.print(f"  aliases: {escape(', '.join(pricing.aliases))}")
    if data["multipliers"]:
        modes = ", ".join(f"{k} x{v}" for k, v in data["multipliers"].items())
        console.print(f"  modes (whole request): {modes}")
    if pricing.note:
        console.print(f"  note: {escape(pricing.note)}")
    for period in data["periods"]:
        start = period["from"] or "the start of the table"
        prices = ", ".join(f"{k} {v}" for k, v in period["prices"].items() if v is not None)
        console.print(f"  from {start}: {prices}")
        for tier in period["tiers"]:
            tiered = ", ".join(f"{k} {v}" for k, v in tier["prices"].items() if v is not None)
            console.print(
                f"    prompts over {tier['above_prompt_tokens']:,} tokens (the whole request): "
                f"{tiered}"
            )
        console.print(f"    [dim]source: {escape(period['source'])}[/]")
