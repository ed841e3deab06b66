"""aura-db restore: put a verified backup back in place of the live database."""

from __future__ import annotations

from typing import Optional

import typer

from aura_db.cli.common import state
from aura_db.cli.completion import complete_backup_file


def restore(
    ctx: typer.Context,
    file: Optional[str] = typer.Argument(
        None, metavar="[FILE|latest]", help="Backup to restore: a name in the backup folder, a path, or 'latest'.",
        autocompletion=complete_backup_file,
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    no_safety_backup: bool = typer.Option(False, "--no-safety-backup", help="Skip the backup of the live database."),
    lock_timeout: Optional[float] = typer.Option(
        None, "--lock-timeout", metavar="SECONDS", min=0, help="Wait this long for a migration run's lock."
    ),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Verify a backup, take a safety backup, ask, then replace the database atomically.

    Refuses while another process has the database in use. Without FILE, lists
    the backups (and lets you pick one on a terminal).

    Example: aura-db restore latest --yes
    """
    from aura_db import backup as core
    from aura_db.cli import render_backup as render
    from aura_db.errors import UsageError

    app_state = state(ctx)
    s = app_state.settings
    engine = app_state.engine()
    if file is None:
        file = _pick(app_state, s.backup_path)
        if file is None:
            raise UsageError("name the backup to restore (FILE or 'latest')",
                             hint="the backups are listed above; e.g. aura-db restore latest")

    bar = []

    def confirm(plan) -> None:
        with render.paused(bar[0]):
            # The plan precedes a question; with --yes it is only a note,
            # which --json and --quiet leave out.
            if not yes or not (json_out or app_state.quiet):
                render.restore_plan(app_state, plan)
            app_state.confirm(f"Replace {plan.target} with {plan.backup.name}?", yes=yes,
                              what=f"restoring {plan.backup.name}")

    with render.progress(app_state, "restore") as on_progress:
        bar.append(on_progress)
        result = core.restore(
            engine, s.backup_path, file,
            safety=not no_safety_backup,
            confirm=confirm,
            migrations_dir=s.migrations_dir,
            lock_timeout=s.lock_timeout if lock_timeout is None else lock_timeout,
            on_progress=on_progress,
        )
    if json_out:
        app_state.emit_json(result.to_dict())
    else:
        render.restored(app_state, result)


def _pick(app_state, folder) -> str | None:
    """On a terminal, let the operator choose; otherwise show the list on stderr and give up."""
    from aura_db import backup as core
    from aura_db.cli import render_backup as render

    engine = app_state.engine()
    usable = [e for e in core.list_backups(folder) if e.manifest is not None and e.manifest.engine == engine.name]
    # This database's backups; another's only when it has none (a moved file, a renamed host).
    here = core.database_key(engine.name, engine.describe())
    entries = [e for e in usable if core.database_key(e.manifest.engine, e.manifest.source) == here] or usable
    render.backup_table(app_state, entries, folder, stderr=True)
    if not entries or not app_state.interactive:
        return None
    choice = typer.prompt(f"Restore which backup? [1-{len(entries)}, or a file name]", default="1", err=True)
    choice = choice.strip()
    if choice.isdigit() and 1 <= int(choice) <= len(entries):
        return str(entries[int(choice) - 1].path)
    return choice


def register(root: typer.Typer) -> None:
    root.command("restore")(restore)
