"""aura-db restore: put a verified backup back in place of the live database."""

from __future__ import annotations

import contextlib
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
    identity: Optional[str] = typer.Option(
        None, "--identity", metavar="FILE",
        help="age identity (key file or SSH private key) to read an encrypted backup."),
) -> None:
    """Verify a backup, take a safety backup, ask, then replace the database atomically.

    Refuses while another process has the database in use. 'latest' is the
    newest regular backup of this database that passes its checks (never a
    safety backup). Without FILE, lists the backups (and lets you pick one on
    a terminal). A Ctrl-C after the swap reports the restore done, exit 0.
    An encrypted backup needs --identity (or AURA_DB_BACKUP_IDENTITY); the
    safety backup is encrypted to the encrypt_to setting's recipients.

    Example: aura-db restore latest --yes
    """
    from aura_db import backup as core
    from aura_db.cli import render_backup as render
    from aura_db.errors import UsageError

    app_state = state(ctx)
    s = app_state.settings_with(lock_timeout=lock_timeout, identity=identity)
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
            lock_timeout=s.lock_timeout,
            keep_safety=s.keep_safety,
            identities=s.identity_path,
            encrypt_to=s.recipients,
            on_progress=on_progress,
        )
    with _ctrl_c_held():  # the database is replaced: a Ctrl-C must not cut the report short
        if result.interrupted:
            app_state.warn(f"interrupted (Ctrl-C) after the swap: {result.plan.target} IS restored from "
                           f"{result.plan.backup.name}; the checks after it were skipped (run `aura-db status`)")
        if json_out:
            app_state.emit_json(result.to_dict())
        else:
            render.restored(app_state, result)


@contextlib.contextmanager
def _ctrl_c_held():
    """SIGINT ignored for the duration, then as it was (in-process callers keep their handler)."""
    import signal

    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _pick(app_state, folder) -> str | None:
    """On a terminal, let the operator choose; otherwise show the list on stderr and give up."""
    from aura_db import policy
    from aura_db.cli import render_backup as render

    choices = policy.restore_choices(app_state.engine(), folder)
    for w in choices.warnings:
        app_state.warn(w)
    render.backup_table(app_state, choices.entries, folder, stderr=True)
    if not choices.entries or not app_state.interactive:
        return None
    if choices.has_safety:
        app_state.note("(safety) marks a safety backup: what the database held before a migrate, rollback or restore")
    entries = choices.entries
    default = None if choices.default is None else str(choices.default)
    choice = typer.prompt(f"Restore which backup? [1-{len(entries)}, or a file name]", default=default, err=True)
    choice = choice.strip()
    if choice.isdigit() and 1 <= int(choice) <= len(entries):
        return str(entries[int(choice) - 1].path)
    return choice


def register(root: typer.Typer) -> None:
    root.command("restore")(restore)
