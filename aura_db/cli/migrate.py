"""aura-db migrate: apply pending migrations; add, remove and list modules."""

# No `from __future__ import annotations` here: Typer reads these signatures
# at start-up, and string annotations cost a compile() each.

from typing import Optional

import typer

from aura_db.cli.common import AppState, state
from aura_db.cli.completion import complete_migration_target

app = typer.Typer(
    help="Apply pending migrations (and: add, remove, list).",
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode=None,
)


def safety_backup(app_state: AppState, *, enabled: bool):
    """The safety-backup policy switched on or off, saying on stderr where each backup went."""
    from aura_db.policy import SafetyBackup

    s = app_state.settings

    def taken(made) -> None:
        for w in made.warnings:
            app_state.warn(w)
        same = " (identical to the newest backup: not written again)" if made.reused else ""
        app_state.note(f"safety backup: {made.path}{same}")

    return SafetyBackup(s.backup_path, keep_safety=s.keep_safety, enabled=enabled, on_taken=taken,
                        encrypt_to=s.encrypt_to)


@app.callback(invoke_without_command=True)
def migrate(
    ctx: typer.Context,
    to: Optional[str] = typer.Option(
        None, "--to", metavar="TARGET", help="Stop after TARGET (number or name).",
        autocompletion=complete_migration_target,
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the SQL that would run; change nothing."),
    fake: bool = typer.Option(False, "--fake", help="Record migrations as applied without running them."),
    no_backup: bool = typer.Option(False, "--no-backup", help="Skip the safety backup before changing an existing database."),
    lock_timeout: Optional[float] = typer.Option(
        None, "--lock-timeout", metavar="SECONDS", min=0, help="Wait this long for another run's lock (default 60), then exit 5."
    ),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Apply pending migrations in order, each in its own transaction.

    Example: aura-db migrate --to 002 --dry-run
    """
    if ctx.invoked_subcommand is not None:
        return
    from aura_db import migrations
    from aura_db.cli import render

    app_state = state(ctx)
    s = app_state.settings_with(lock_timeout=lock_timeout, backup_before_migrate=False if no_backup else None)
    result = migrations.migrate(
        app_state.engine(),
        s.migrations_dir,
        target=to,
        fake=fake,
        dry_run=dry_run,
        lock_timeout=s.lock_timeout,
        safety=safety_backup(app_state, enabled=s.backup_before_migrate),  # --no-backup made it False
        on_progress=None if json_out else app_state.progress("migrate"),
    )
    if json_out:
        app_state.emit_json(result.to_dict())
    else:
        render.run_result(app_state, result)


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="snake_case name, e.g. add_tags."),
    auto: bool = typer.Option(False, "--auto/--empty", help="Fill it from the models (--auto) or leave it empty."),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Write the next numbered migration module into the migrations folder.

    Example: aura-db migrate add add_project_tags
    """
    from aura_db import authoring

    app_state = state(ctx)
    created = authoring.add(app_state.settings.migrations_dir, name, auto=auto)
    for warning in created.warnings:
        app_state.warn(warning)
    if json_out:
        app_state.emit_json(created.to_dict())
    elif not created.written:
        app_state.out.print("no changes: the models match what the migrations build; nothing written", markup=False)
    else:
        detail = f" ({created.operations} operation(s); review it before applying)" if auto else ""
        app_state.out.print(f"created {created.path}{detail}", markup=False)


@app.command("remove")
def remove(
    ctx: typer.Context,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Delete the newest migration module, only if it is not applied.

    Example: aura-db migrate remove --yes
    """
    from aura_db import authoring

    app_state = state(ctx)
    newest = authoring.removable(app_state.engine(), app_state.settings.migrations_dir)
    app_state.confirm(f"Delete {newest.path}?", yes=yes, what=f"removing {newest.name}")
    authoring.remove(app_state.engine(), app_state.settings.migrations_dir, expected=newest.name)
    if json_out:
        app_state.emit_json({"removed": str(newest.path), "name": newest.name})
    else:
        app_state.out.print(f"removed {newest.path}", markup=False)


@app.command("list")
def list_(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Every migration: number, name, applied or pending, applied-at, checksum state.

    Example: aura-db migrate list --json
    """
    from aura_db import migrations
    from aura_db.cli import render

    app_state = state(ctx)
    result = migrations.status(app_state.engine(), app_state.settings.migrations_dir)
    if json_out:
        app_state.emit_json([m.to_dict() for m in result.migrations])
    else:
        render.migration_table(app_state, result)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="migrate")
