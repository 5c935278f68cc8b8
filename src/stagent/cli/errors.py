"""The CLI's one error printer, and the one place every command's exceptions pass through.

- A `StagentError` becomes one line ``Error: <message>`` (plus a dim ``hint:`` line) on stderr and
  exit code 1; one with several `StagentError.problems` gets ``Error: N problems`` and a line
  (plus its hint) per problem. With ``--json`` its `StagentError.to_dict` is printed on stdout
  instead.
- Anything else is a bug: one ``Internal error: ...`` line and a pointer to
  ``STAGENT_RAISE_ERRORS=1``, which re-raises it so the traceback shows.
- Usage errors (exit code 2), ``--help`` and explicit exits are Click's own and pass through.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.markup import escape
from typer.core import TyperGroup

from stagent.cli.output import emit_json, err_console, json_mode_requested
from stagent.domain.errors import StagentError

RAISE_ERRORS_ENV = "STAGENT_RAISE_ERRORS"


class InternalError(StagentError):
    """An unexpected exception, reported without its traceback."""

    code = "internal"
    status = 500


class RunFailedError(StagentError):
    """A task run ended failed or cancelled (``task run`` exits 1)."""

    code = "run_failed"
    status = 409


def print_skipped(what: str, err: StagentError) -> None:
    """Say that ``what`` (``user profile reviewer``) was skipped, and why: each problem on its
    own line with its hint."""
    if len(err.problems) < 2:
        err_console.print(f"[yellow]skipped {what}:[/] {escape(err.message)}")
        if err.hint:
            err_console.print(f"  [dim]hint: {escape(err.hint)}[/]")
        return
    err_console.print(f"[yellow]skipped {what}:[/] {len(err.problems)} problems")
    _print_problems(err)


def _print_problems(err: StagentError) -> None:
    for problem in err.problems:
        err_console.print(f"  {escape(problem.text())}")
        if problem.hint:
            err_console.print(f"    [dim]hint: {escape(problem.hint)}[/]")


def print_error(err: StagentError, *, json_mode: bool = False) -> None:
    """Print ``err`` the one canonical way."""
    if json_mode:
        emit_json(err.to_dict())
        return
    if len(err.problems) > 1:
        err_console.print(f"[bold red]Error:[/] {len(err.problems)} problems")
        _print_problems(err)
        return
    label = "Internal error" if isinstance(err, InternalError) else "Error"
    err_console.print(f"[bold red]{label}:[/] {escape(err.message)}")
    if err.hint:
        err_console.print(f"[dim]hint: {escape(err.hint)}[/]")


def exit_with_error(err: StagentError, *, json_mode: bool = False, exit_code: int = 1) -> NoReturn:
    """Print ``err`` the one canonical way and exit non-zero."""
    print_error(err, json_mode=json_mode)
    raise typer.Exit(exit_code)


def raise_errors() -> bool:
    """True when ``STAGENT_RAISE_ERRORS`` asks for real tracebacks."""
    return os.environ.get(RAISE_ERRORS_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def internal_error(exc: BaseException) -> InternalError:
    """Describe an unexpected exception in one line."""
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return InternalError(
        f"{name}: {detail}" if detail else name,
        hint=f"this is a bug in Stagent; set {RAISE_ERRORS_ENV}=1 to see the traceback",
    )


@contextmanager
def handle_errors(ctx: typer.Context | None = None) -> Generator[None]:
    """Turn exceptions raised inside the block into the CLI's one error output."""
    try:
        yield
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise  # explicit exits, Ctrl-C's abort and usage errors are Typer's own to report
    except StagentError as err:
        exit_with_error(err, json_mode=json_mode_requested(ctx))
    except Exception as exc:
        if raise_errors():
            raise
        exit_with_error(internal_error(exc), json_mode=json_mode_requested(ctx))


class StagentGroup(TyperGroup):
    """The root command group: every subcommand's invocation runs inside `handle_errors`."""

    def invoke(self, ctx: Any) -> Any:  # Typer's (vendored Click) context
        """Invoke the chosen command, reporting errors through the one printer."""
        with handle_errors(ctx):
            return super().invoke(ctx)
