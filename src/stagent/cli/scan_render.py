"""The Rich report of `stagent scan`: score, findings with fixes, artifacts by tool."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from stagent.cli.output import console
from stagent.scanner import ScanReport

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def short_path(path: str) -> str:
    """``path`` relative to here when inside it, with ``~`` for the home folder otherwise."""
    here = str(Path.cwd())
    if path == here or path.startswith(here + os.sep):
        return os.path.relpath(path, here)
    home = str(Path.home())
    return "~" + path[len(home) :] if path.startswith(home + os.sep) else path


def print_report(report: ScanReport) -> None:
    """Print the whole report for a person."""
    counts = report.counts()
    style = "green" if report.score >= 80 else "yellow" if report.score >= 50 else "red"
    console.print(
        f"[bold]Health {report.score}/100[/] [{style}]{'█' * (report.score // 10)}[/]  "
        f"{len(report.projects)} project(s), {len(report.artifacts)} artifacts, "
        f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} note(s) "
        f"in {report.duration_ms:.1f} ms"
    )
    console.print(_dimensions(report))
    if report.findings:
        console.print("[bold]Findings[/]")
        for f in report.findings:
            where = short_path(f.path) + (f":{f.line}" if f.line else "")
            console.print(
                f"  [{SEVERITY_STYLE[f.severity]}]{f.severity:7}[/] {escape(where)}  "
                f"{escape(f.message)} [dim](-{f.cost} {f.dimension})[/]"
            )
            console.print(f"          [dim]fix:[/] {escape(f.fix)}")
    else:
        console.print("[green]No findings.[/]")
    if report.artifacts:
        console.print(_artifacts(report))
    else:
        console.print(
            "No Claude Code or Codex artifacts found (settings, instructions, skills, "
            "subagents, commands, MCP servers)."
        )


def _dimensions(report: ScanReport) -> Table:
    table = Table(title=None, box=None, pad_edge=False, show_header=True)
    table.add_column("dimension")
    table.add_column("score", justify="right")
    table.add_column("what it cost")
    for d in report.health.dimensions:
        cost = ", ".join(f"{x.kind} ×{x.count} -{x.points}" for x in d.deductions) or "-"
        table.add_row(d.name, str(d.score), escape(cost))
    return table


def _artifacts(report: ScanReport) -> Table:
    counts = Counter((a.tool, a.category) for a in report.artifacts)
    tools = sorted({tool for tool, _ in counts})
    categories = sorted({category for _, category in counts})
    table = Table(title="Artifacts by tool", box=None, pad_edge=False)
    table.add_column("category")
    for tool in tools:
        table.add_column(tool, justify="right")
    for category in categories:
        table.add_row(category, *(str(counts.get((t, category), "")) for t in tools))
    return table
