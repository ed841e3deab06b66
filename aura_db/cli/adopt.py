"""aura-db adopt: take over a database the Aura app built itself."""

# No `from __future__ import annotations` here: Typer reads these signatures
# at start-up, and string annotations cost a compile() each.

import typer

from aura_db.cli.common import state


def adopt(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and show what would be recorded; change nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Take over a database the Aura app built (EF Core, __EFMigrationsHistory).

    Finds the aura-db migration matching the newest app migration applied,
    compares the live schema with what aura-db builds up to it, and records
    aura-db history up to it marked as adopted; nothing else changes.  A
    schema that differs is exit 3 with every difference listed.  Back the
    database up first (aura-db backup).

    Example: aura-db adopt --dry-run
    """
    from aura_db import adopt as core
    from aura_db.cli import render

    app = state(ctx)
    engine = app.engine()

    def confirm(plan) -> None:
        app.confirm(
            f"Record {len(plan.to_record)} migration(s) as adopted ({plan.to_record[0]} .. {plan.matched})?",
            yes=yes, what=f"adopting {engine.describe()}",
        )

    # A schema that differs raises SchemaMismatch carrying the plan: the
    # --json document of the failure includes it (common.finish).
    result = core.adopt(engine, app.settings.migrations_dir, dry_run=dry_run, confirm=confirm)
    if json_out:
        app.emit_json(result.to_dict())
    else:
        render.adopt_result(app, result)


def register(root: typer.Typer) -> None:
    root.command("adopt")(adopt)
