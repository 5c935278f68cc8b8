"""The Rich consoles the CLI writes prose to (`stagent.cli.output` re-exports them; a command
that needs no Typer, `stagent.cli.express`, imports them from here)."""

from __future__ import annotations

from rich.console import Console

console = Console(highlight=False, soft_wrap=True)
"""Human output on stdout (Rich resolves ``sys.stdout`` lazily, so test runners can capture it)."""

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
"""Errors, hints and progress for people, on stderr."""
