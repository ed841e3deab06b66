"""aura-db status: where the database stands."""

# No `from __future__ import annotations` here: Typer reads these signatures
# at start-up, and string annotations cost a compile() each.

import typer

from aura_db.cli.common import state
from aura_db.errors import CheckFailed


def status(
    ctx: typer.Context,
    check: bool = typer.Option(False, "--check", help="Exit 3 when migrations are pending or files drifted."),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Show engine, database, current migration, pending ones and drift.

    Example: aura-db status --check --json
    """
    from aura_db import migrations
    from aura_db.cli import render

    app = state(ctx)
    result = migrations.status(app.engine(), app.settings.migrations_dir)
    if json_out:
        app.emit_json(result.to_dict())
    else:
        render.status(app, result)
    if check and not result.up_to_date:
        parts = []
        if result.pending:
            parts.append(f"{len(result.pending)} pending")
        if result.changed:
            parts.append(f"changed since applied: {', '.join(result.changed)}")
        if result.missing:
            parts.append(f"missing files: {', '.join(result.missing)}")
        raise CheckFailed("; ".join(parts), hint="run `aura-db migrate`" if result.pending and not result.drift else None)


def register(root: typer.Typer) -> None:
    root.command("status")(status)
