"""``stagent ledger import``'s work, shared by its Typer command (`stagent.cli.ledger`) and the
express lane (`stagent.cli.express`): checking the request, opening the plain importer, running
the imports and printing their reports. Imports no Typer (Rich only to print for people)."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stagent.ledger.importers import ImportReport, LogImporter, Plan

WHICH = ("claude-code", "codex", "all")
"""What ``stagent ledger import`` takes as its argument."""
PROGRESS_BYTES = 8 * 1024 * 1024
"""Below this many new bytes an import shows no progress bar."""


def check_request(which: str, path: Path | None) -> None:
    """Raise `ValidationError` unless ``which`` and ``path`` name something to import."""
    if which in WHICH and (path is None or path.exists()):
        return
    from stagent.domain.errors import ValidationError  # its `dataclasses`: only for an error

    if which not in WHICH:
        raise ValidationError(f"{which!r}: import claude-code, codex or all")
    raise ValidationError(f"--path: {path} does not exist")


@contextmanager
def plain_importer_at(
    home: Path | None, database_url: str | None, *, exiting: bool = False
) -> Generator[LogImporter | None]:
    """The importer straight into the SQLite file when it is at the newest migration with its
    owner enrolled (no workspace, no SQLAlchemy, whose import was most of the command's
    start-up); None otherwise (the caller opens the workspace, which creates or migrates the
    database; PostgreSQL). ``home`` and ``database_url`` as given on the command line;
    ``exiting``: the process ends without teardown once the import is done (the connection
    may then be left to the process's end: `SqliteImports.close`; the garbage collector, off
    while the CLI starts, stays off: the import pauses it while it reads and books anyway, and
    the short rest of the command made ~16 young collections for nothing to free)."""
    from stagent.cli import startup
    from stagent.ledger.importers.opening import open_plain, plain_importer
    from stagent.locations import database_url as url_of
    from stagent.locations import home_dir

    plain = open_plain(url_of(home, database_url))
    if plain is None:
        yield None
        return
    try:
        importer = plain_importer(plain, home_dir(home))
        if not exiting:
            startup.ready()
        yield importer
    except BaseException:
        plain.close()
        raise
    plain.close(exiting=exiting)


def run_imports(
    importer: LogImporter, which: str, path: Path | None, as_json: bool
) -> list[ImportReport]:
    """Import every source ``which`` names (a progress bar on stderr for people when there
    is much to read)."""
    from stagent.ledger.importers.calls import IMPORT_SOURCES

    reports: list[ImportReport] = []
    for plan in [importer.plan(source, path) for source in IMPORT_SOURCES[which]]:
        if as_json or plan.pending_bytes < PROGRESS_BYTES:
            reports.append(importer.run(plan))
            continue
        reports.append(_run_with_bar(importer, plan))
    return reports


def _run_with_bar(importer: LogImporter, plan: Plan) -> ImportReport:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from stagent.cli.consoles import err_console

    with Progress(
        TextColumn(f"{plan.source}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("import", total=plan.pending_bytes)
        bar.refresh()  # shown from the start, not at the first tick of its refresh thread
        return importer.run(plan, lambda done: bar.advance(task, done))


def print_reports(reports: list[ImportReport], as_json: bool, path: Path | None = None) -> None:
    """The reports as one JSON document, or a few lines each for people (a source with no
    files says where it looked: ``path``, else the tool's own folders)."""
    if as_json:
        from stagent.cli.jsonout import emit_json

        emit_json([report.as_json() for report in reports])
        return
    for report in reports:
        _print_report(report)
        if not report.files and not report.skipped:
            _print_nothing_found(report.source, path)


def _print_nothing_found(source: str, path: Path | None) -> None:
    from rich.markup import escape

    from stagent.cli.consoles import console
    from stagent.ledger.importers import discovery

    if path is not None and path.is_file():
        tool = "Claude Code transcripts" if source.endswith("claude-code") else "Codex rollouts"
        shown = escape(str(path))
        console.print(f"  [dim]{shown} is not a session log: {tool} are .jsonl files[/]")
        return
    if path is not None:
        where = [path]
    elif source.endswith("claude-code"):
        where = discovery.claude_code_roots()
    else:
        where = [discovery.codex_root()]
    looked = escape(" or ".join(str(folder) for folder in where))
    console.print(f"  [dim]no session files found in {looked}[/]")


def _print_report(report: ImportReport) -> None:
    from rich.markup import escape

    from stagent.cli.consoles import console

    mib = report.bytes_read / (1024 * 1024)
    console.print(
        f"[bold]{report.source}[/]: {report.files} files ({report.files_read} read, "
        f"{mib:,.1f} MiB), {report.added} calls added, {report.replaced} replaced by a fuller "
        f"copy, {report.duplicates} duplicates skipped"
    )
    for line in report.restarted:
        console.print(f"  read again from the start: {escape(line)}")
    for line in report.skipped:
        console.print(f"  [dim]skipped: {escape(line)}[/]")
    if report.malformed:
        console.print(f"  [yellow]{report.malformed} malformed lines skipped:[/]")
        for example in report.malformed_examples:
            console.print(f"    {escape(example)}")
        if report.malformed > len(report.malformed_examples):
            console.print(f"    ... and {report.malformed - len(report.malformed_examples)} more")
    if report.unpriced:
        models = ", ".join(f"{escape(m)} ({n})" for m, n in report.unpriced.items())
        console.print(f"  [bold yellow]unpriced models (cost unknown, not $0):[/] {models}")
