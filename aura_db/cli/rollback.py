"""aura-db rollback: undo applied migrations, newest first."""

# No `from __future__ import annotations` here: Typer reads these signatures
# at start-up, and string annotations cost a compile() each.

from typing import Optional

import typer

from aura_db.cli.common import state
from aura_db.cli.completion import complete_rollback_target


def rollback(
    ctx: typer.Context,
    target: Optional[str] = typer.Argument(
        None, metavar="TARGET", help="Undo everything applied after TARGET; TARGET stays applied.",
        autocompletion=complete_rollback_target,
    ),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="Undo the newest N migrations."),
    all_: bool = typer.Option(False, "--all", help="Undo every applied migration."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the SQL that would run; change nothing."),
    no_backup: bool = typer.Option(False, "--no-backup", help="Skip the safety backup."),
    lock_timeout: Optional[float] = typer.Option(
        None, "--lock-timeout", metavar="SECONDS", min=0, help="Wait this long for another run's lock, then exit 5."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Undo the newest applied migration (or down to TARGET, --steps N, --all).

    Destructive: asks for confirmation, and takes a safety backup first.

    Example: aura-db rollback 001 --yes
    """
    from aura_db import migrations
    from aura_db.cli import render
    from aura_db.cli.migrate import safety_backup

    app = state(ctx)
    s = app.settings_with(lock_timeout=lock_timeout, backup_before_migrate=False if no_backup else None)

    def confirm(plan: list) -> None:
        app.confirm(f"Roll back {len(plan)} migration(s): {', '.join(plan)}?", yes=yes,
                    what=f"rolling back {', '.join(plan)}")

    result = migrations.rollback(
        app.engine(), s.migrations_dir,
        target=target, steps=steps, all_=all_,
        dry_run=dry_run,
        lock_timeout=s.lock_timeout,
        safety=safety_backup(app, enabled=not no_backup),
        confirm=confirm,
        on_progress=None if json_out else app.progress("rollback"),
    )
    if json_out:
        app.emit_json(result.to_dict())
    else:
        render.run_result(app, result)


def register(root: typer.Typer) -> None:
    root.command("rollback")(rollback)
