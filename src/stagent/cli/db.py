"""``stagent db``: manage the database schema."""

from __future__ import annotations

import typer

from stagent.cli.output import JsonFlag, console, emit_json
from stagent.cli.state import state_of

app = typer.Typer(help="Manage the database.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Apply pending migrations (safe to run at any time)."""
    with state_of(ctx).workspace() as ws:
        revision = ws.schema_revision()
        url = ws.store.safe_url
    if as_json:
        emit_json({"ok": True, "revision": revision, "database_url": url})
        return
    console.print(f"Database is at revision [bold]{revision}[/] ({url})")
