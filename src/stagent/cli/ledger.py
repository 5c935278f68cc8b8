"""``stagent ledger``: the cost ledger (every provider call), imports of hand-run sessions,
summaries, a task's audit trail, CSV export and re-pricing."""

from __future__ import annotations

import sys
from collections.abc import Generator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from stagent.cli.output import JsonFlag, console, emit_json, err_console
from stagent.cli.state import state_of
from stagent.domain.errors import ValidationError
from stagent.domain.ledger import LedgerEntry, LedgerFilter
from stagent.ledger.money import shown_usd

if TYPE_CHECKING:  # ``ledger list`` imports neither the importers, the reports nor the schemas
    from stagent.ledger.importers import LogImporter
    from stagent.workspace import Workspace

app = typer.Typer(
    help="The cost ledger: summaries, imports, audits.\n\nEvery provider call of every run, "
    "and hand-run Claude Code and Codex sessions you import; CSV export and re-pricing.",
    no_args_is_help=True,
)

SOURCES = {"run": "run", "claude-code": "import:claude-code", "codex": "import:codex"}
SinceOption = Annotated[
    str | None, typer.Option("--since", help="From this day (YYYY-MM-DD, your time zone).")
]
UntilOption = Annotated[
    str | None, typer.Option("--until", help="Up to and including this day (YYYY-MM-DD).")
]
RuntimeOption = Annotated[str | None, typer.Option("--runtime", help="Only this runtime.")]
SourceOption = Annotated[
    str | None, typer.Option("--source", help="run, claude-code or codex (imported sessions).")
]


def parse_day(text: str | None, field: str, ws: Workspace, *, end: bool = False) -> datetime | None:
    """A ``--since`` / ``--until`` day in the person's zone (see `LedgerService.instant`)."""
    return ws.ledger.instant(text, field, end=end)


def source_of(text: str | None) -> str | None:
    """A ``--source`` value as stored (``codex`` -> ``import:codex``)."""
    if text is None:
        return None
    if text not in SOURCES and text not in SOURCES.values():
        raise ValidationError(f"source: {text!r} is unknown", hint="run, claude-code or codex")
    return SOURCES.get(text, text)


def cost_text(entry: LedgerEntry) -> str:
    """A row's cost for people, as the pages show it (`shown_usd`): unpriced says so (never
    $0), a simulated call says "simulated" (after its scenario's figure, if it reported one),
    an estimate or a reported cost says where the figure came from."""
    if entry.cost_source == "unpriced":
        return "[bold yellow]UNPRICED[/]"
    text = shown_usd(entry.cost_micros)
    if entry.simulated:
        return f"{text} (simulated)" if entry.cost_micros else "simulated"
    if entry.cost_source not in ("computed", "none"):
        return f"{text} ({entry.cost_source})"
    return text


@app.command("list")
def list_rows(
    ctx: typer.Context,
    task: Annotated[str | None, typer.Option("--task", help="Only this task's rows.")] = None,
    runtime: RuntimeOption = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="completed, failed, cancelled, blocked, reserved..."),
    ] = None,
    source: SourceOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=5000)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """The ledger, newest first: tokens by category, cost and where it came from."""
    where = LedgerFilter(task_id=task, runtime=runtime, status=status, source=source_of(source))
    with state_of(ctx).workspace() as ws:
        entries = ws.ledger.entries(where, limit=limit)
    if as_json:
        from stagent.schemas import UsageSchema

        emit_json([UsageSchema.of(entry).data() for entry in entries])
        return
    if console.width < WIDE_TABLE_COLUMNS:
        _print_lines(entries)
        return
    table = Table(title="Usage ledger", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("When", "Task / session", "Runtime", "Model", "In", "Out", "Cache w/r", "Cost",
                   "Status"):  # fmt: skip
        table.add_column(column, overflow="fold", no_wrap=column == "Cost")
    for entry in entries:
        table.add_row(
            entry.finished_at.astimezone().strftime("%m-%d %H:%M"),
            entry.task_id or (f"{entry.source}" if entry.source != "run" else ""),
            entry.runtime,
            escape(entry.model or ""),
            str(entry.input_tokens),
            str(entry.output_tokens),
            f"{entry.cache_write_5m_tokens + entry.cache_write_1h_tokens}/"
            f"{entry.cache_read_tokens}",
            cost_text(entry),
            entry.status,
        )
    console.print(table, soft_wrap=False)


WIDE_TABLE_COLUMNS = 110
"""Below this terminal width the ledger prints one line per row instead of a folded table."""


def _print_lines(entries: list[LedgerEntry]) -> None:
    """The ledger as lines that wrap whole (nothing is cut or folded mid-value)."""
    console.print("[bold]Usage ledger[/]")
    if not entries:
        console.print("[dim]No usage yet.[/]")
    for entry in entries:
        cache = f"{entry.cache_write_5m_tokens + entry.cache_write_1h_tokens}/"
        cache += str(entry.cache_read_tokens)
        who = entry.task_id or (entry.source if entry.source != "run" else "-")
        console.print(
            f"{entry.finished_at.astimezone().strftime('%m-%d %H:%M')}  {who}  "
            f"{escape(entry.runtime)}  {escape(entry.model or '-')}  "
            f"in {entry.input_tokens}, out {entry.output_tokens}, cache w/r {cache}  "
            f"[bold]{cost_text(entry)}[/]  {entry.status}"
        )


@app.command("summary")
def summary(
    ctx: typer.Context,
    since: SinceOption = None,
    until: UntilOption = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="Group by day, model, runtime, project, source, profile, workflow or schedule.",
        ),
    ] = None,
    runtime: RuntimeOption = None,
    source: SourceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Requests, tokens and cost (all time without --since); simulated calls are shown apart."""
    from stagent.ledger.reports import SUMMARY_GROUPS, Scope

    if by is not None and by not in SUMMARY_GROUPS:
        raise ValidationError(f"by: {by!r} is not a grouping", hint=", ".join(SUMMARY_GROUPS))
    with state_of(ctx).workspace() as ws:
        scope = Scope(
            since=parse_day(since, "since", ws),
            until=parse_day(until, "until", ws, end=True),
            runtime=runtime,
            source=source_of(source),
        )
        data = ws.ledger.summary(scope, by)
    if as_json:
        from stagent.schemas.ledger import SummaryOut

        emit_json(SummaryOut.model_validate(data).data())
        return
    _print_summary(data)


def _print_summary(data: dict[str, Any]) -> None:
    span = f"{data['since'] or 'the beginning'} to {data['until'] or 'now'}"
    table = Table(
        title=f"Ledger summary, {span} ({data['timezone']})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    first = (data["by"] or "").capitalize() or "All"
    for column in (first, "Requests", "Input", "Output", "Cache write", "Cache read", "Tokens",
                   "Cost"):  # fmt: skip
        if column in (first, "Cost"):
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, justify="right", overflow="fold")
    rows: list[dict[str, Any]] = [*data["groups"], {**data["totals"], "label": "Total"}]
    for row in rows:
        cost = shown_usd(row["total_cost_micros"])
        if row["unpriced_requests"] == row["requests"] and row["requests"]:
            cost = "[bold yellow]UNPRICED[/]"
        elif row["unpriced_requests"]:
            cost += f" [yellow]+{row['unpriced_requests']} unpriced[/]"
        table.add_row(
            escape(str(row.get("label") or "")),
            f"{row['requests']:,}",
            f"{row['input_tokens']:,}",
            f"{row['output_tokens']:,}",
            f"{row['cache_write_5m_tokens'] + row['cache_write_1h_tokens']:,}",
            f"{row['cache_read_tokens']:,}",
            f"{row['total_tokens']:,}",
            cost,
        )
    console.print(table, soft_wrap=False)
    if data["unpriced_models"]:
        models = ", ".join(f"{escape(m)} ({n})" for m, n in data["unpriced_models"].items())
        console.print(
            f"[bold yellow]Unpriced (cost unknown, not $0):[/] {models}. Add them to "
            "$STAGENT_HOME/prices.yaml, then run `stagent ledger reprice`."
        )
    simulated = data.get("simulated")
    if simulated and simulated["requests"]:
        console.print(
            f"[dim]{simulated['requests']} simulated calls (scripted runtime) are not counted.[/]"
        )
    console.print(f"[dim]Prices: {data['pricing_version']}[/]")


@app.command("forecast")
def forecast(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Month-end spend at the current pace against each monthly budget cap."""
    from stagent.schemas.ledger import CapForecastOut

    with state_of(ctx).workspace() as ws:
        budgets = [status.as_json(ws.budgets.zone) for status in ws.budgets.statuses()]
        rows = [CapForecastOut.model_validate(f) for f in ws.ledger.cap_forecasts(budgets)]
    if as_json:
        emit_json([row.data() for row in rows])
        return
    if not rows:
        console.print("No monthly cap is set (stagent budget set --monthly 100).")
        return
    table = Table(title="Month-end forecast", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("Budget", "Spent this month", "On pace for", "Monthly cap", ""):
        table.add_column(column, no_wrap=column == "Budget")
    for row in rows:
        verdict = "[bold red]over the cap[/]" if row.over else "within the cap"
        table.add_row(
            escape(row.label), shown_usd(row.spent_micros), shown_usd(row.projected_micros),
            shown_usd(row.cap_micros),
            verdict,
        )  # fmt: skip
    console.print(table, soft_wrap=False)
    console.print(
        f"[dim]{rows[0].elapsed:.0%} of the month gone; budgets count only runs' real calls.[/]"
    )


@app.command("audit")
def audit(ctx: typer.Context, task_id: str, as_json: JsonFlag = False) -> None:
    """A task's provider calls interleaved with its tool requests and decisions."""
    from stagent.ledger.audit import call_summary

    with state_of(ctx).workspace() as ws:
        data = ws.ledger.audit(task_id)
    if as_json:
        emit_json(data)
        return
    task = data["task"]
    table = Table(
        title=f"Audit of {task['id']} ({escape(task['title'])}, {task['runtime']}, "
        f"{task['status']})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for column in ("When", "What", "Detail"):
        table.add_column(column, overflow="fold")
    for item in data["items"]:
        when = datetime.fromisoformat(item["at"]).astimezone().strftime("%H:%M:%S")
        call = item.get("call")
        text = item["summary"] if call is None else call_summary(call, shown_usd)
        table.add_row(when, item["type"], escape(text))
    console.print(table, soft_wrap=False)
    console.print(
        f"{data['requests']} provider calls, {data['total_tokens']:,} tokens, "
        f"{shown_usd(data['total_cost_micros'])}"
        + (f", {data['unpriced_requests']} unpriced" if data["unpriced_requests"] else "")
        + (f", {data['estimated_requests']} estimated" if data["estimated_requests"] else "")
        + (" (simulated)" if data["simulated"] else "")
    )


@app.command("export")
def export(
    ctx: typer.Context,
    csv_flag: Annotated[bool, typer.Option("--csv", help="Write CSV (the only format).")] = True,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (default stdout).")
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    runtime: RuntimeOption = None,
    source: SourceOption = None,
) -> None:
    """Every matching ledger row as CSV, oldest first."""
    del csv_flag
    with state_of(ctx).workspace() as ws:
        where = LedgerFilter(
            since=parse_day(since, "since", ws),
            until=parse_day(until, "until", ws, end=True),
            runtime=runtime,
            source=source_of(source),
        )
        if output is None:
            ws.ledger.export_csv(where, sys.stdout)
            return
        with output.open("w", newline="", encoding="utf-8") as handle:
            count = ws.ledger.export_csv(where, handle)
    err_console.print(f"Wrote {count} rows to {output}")


@app.command("import")
def import_logs(
    ctx: typer.Context,
    which: Annotated[str, typer.Argument(help="claude-code, codex or all.")],
    path: Annotated[
        Path | None,
        typer.Option(
            "--path",
            help="Read this folder instead of ~/.claude (or CLAUDE_CONFIG_DIR) / "
            "~/.codex (or CODEX_HOME).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Import hand-run Claude Code and Codex sessions (only what was added since last time)."""
    from stagent.cli.ledger_import import check_request, print_reports, run_imports

    check_request(which, path)
    with _importer(ctx) as importer:
        reports = run_imports(importer, which, path, as_json)
    print_reports(reports, as_json, path)


@contextmanager
def _importer(ctx: typer.Context) -> Generator[LogImporter]:
    """The plain importer (`ledger_import.plain_importer_at`) on a ready SQLite file, else
    one through the workspace (which creates or migrates the database; PostgreSQL)."""
    from stagent.cli.ledger_import import plain_importer_at
    from stagent.ledger.importers.opening import store_importer

    state = state_of(ctx)
    home = state.home.expanduser() if state.home is not None else None
    with plain_importer_at(home, state.database_url) as plain:
        if plain is not None:
            yield plain
            return
    with state.workspace() as ws:
        yield store_importer(ws.store, ws.ledger.prices)


@app.command("reprice")
def reprice(
    ctx: typer.Context,
    everything: Annotated[
        bool, typer.Option("--all", help="Also rows already priced with this table version.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Recompute stored costs from raw token counts with the current prices (your overrides in
    $STAGENT_HOME/prices.yaml included); reported costs stay as reported."""
    with state_of(ctx).workspace() as ws:
        report = ws.ledger.reprice(everything=everything)
    if as_json:
        emit_json(report.as_json())
        return
    console.print(
        f"Re-priced {report.rows} rows with {report.version}: {report.changed} changed "
        f"({shown_usd(report.delta_micros)} in total), {report.newly_priced} newly priced."
    )
    if report.still_unpriced:
        models = ", ".join(f"{escape(m)} ({n})" for m, n in report.still_unpriced.items())
        console.print(f"[bold yellow]Still unpriced:[/] {models}")
