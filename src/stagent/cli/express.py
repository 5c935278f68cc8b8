"""The express lane: ``stagent ledger import`` on a ready SQLite file without Typer.

A re-run of ``ledger import`` with little or nothing new is mostly the CLI's start-up: Typer
(with Click and pydantic) and Rich took ~0.2 s of a 0.25 s command. `run` recognises exactly
``stagent [--home H] [--database-url U] ledger import WHICH [--path P] [--json]`` (each option
also as ``--name=value``), and runs it with the command's own code (`stagent.cli.ledger_import`)
when the database is a SQLite file at the newest migration with its owner enrolled. Anything
else (``--help``, an option it does not know, a home that is a file, PostgreSQL, a database to
create or migrate) returns None and the Typer app runs the command as usual, so usage errors and
help read the same as ever. Errors print through the CLI's one printer (`stagent.cli.errors`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from stagent.domain.errors import StagentError

GLOBAL_OPTIONS = ("--home", "--database-url")
"""The root options the lane takes (before the command, as Click reads them)."""


class ImportRequest(NamedTuple):
    """A ``stagent ledger import`` command line, read."""

    which: str
    path: Path | None
    as_json: bool
    home: Path | None
    database_url: str | None


def parse(argv: list[str]) -> ImportRequest | None:
    """``argv`` (after the program name) as an import request, or None if it is anything else
    or anything the lane leaves to Typer (help, unknown or repeated options, empty values)."""
    found: dict[str, str] = {}
    position = _options(argv, 0, GLOBAL_OPTIONS, found)
    if position is None or argv[position : position + 2] != ["ledger", "import"]:
        return None
    which: str | None = None
    as_json = False
    position += 2
    while position < len(argv):
        token = argv[position]
        if token == "--json":
            as_json, position = True, position + 1
        elif token.startswith("-"):
            after = _options(argv, position, ("--path",), found, one=True)
            if after is None:
                return None
            position = after
        elif which is None:
            which, position = token, position + 1
        else:
            return None
    if which is None:
        return None
    home = found.get("--home")
    path = found.get("--path")
    return ImportRequest(
        which,
        Path(path) if path is not None else None,
        as_json,
        Path(home) if home is not None else None,
        found.get("--database-url"),
    )


def _options(
    argv: list[str],
    position: int,
    names: tuple[str, ...],
    found: dict[str, str],
    *,
    one: bool = False,
) -> int | None:
    """Read ``--name value`` / ``--name=value`` options of ``names`` from ``position`` into
    ``found`` (one only if ``one``); the position after them, or None for anything the lane
    does not take."""
    while position < len(argv) and argv[position].startswith("-"):
        name, equals, value = argv[position].partition("=")
        if name not in names or name in found:
            return None
        if not equals:
            if position + 1 >= len(argv):
                return None
            position += 1
            value = argv[position]
        if not value or value.startswith("-"):
            return None
        found[name] = value
        position += 1
        if one:
            break
    return position


def run(argv: list[str], *, exiting: bool = False) -> int | None:
    """Run ``argv`` if it is an import the lane takes: its exit code, or None (not taken:
    nothing was done; the Typer app runs the command). ``exiting``: the process ends without
    teardown after it (`stagent.cli.app.main`), so the database may be left unclosed."""
    request = parse(argv)
    if request is None or (request.home is not None and request.home.is_file()):
        return None  # a home that is a file: Click's own usage error
    try:
        return _import(request, exiting)
    except KeyboardInterrupt:
        sys.stderr.write("\nAborted!\n")  # as Click ends a command on Ctrl-C
        return 1


def _import(request: ImportRequest, exiting: bool) -> int | None:
    from stagent.cli.ledger_import import (
        check_request,
        plain_importer_at,
        print_reports,
        run_imports,
    )

    home = request.home.expanduser() if request.home is not None else None
    try:
        check_request(request.which, request.path)
        with plain_importer_at(home, request.database_url, exiting=exiting) as importer:
            if importer is None:
                return None
            reports = run_imports(importer, request.which, request.path, request.as_json)
    except Exception as exc:
        # loaded only now (it was raised, or is not needed): `stagent.domain.errors` loads
        # `dataclasses`, which an import that succeeds never needs
        from stagent.domain.errors import StagentError

        if isinstance(exc, StagentError):
            return _failed(exc, request.as_json)
        from stagent.cli.errors import internal_error, raise_errors

        if raise_errors():
            raise
        return _failed(internal_error(exc), request.as_json)
    print_reports(reports, request.as_json, request.path)
    return 0


def _failed(err: StagentError, as_json: bool) -> int:
    from stagent.cli.errors import print_error

    print_error(err, json_mode=as_json)
    return 1
