"""aura-db backup: create (the default), list, verify, prune."""

from __future__ import annotations

from typing import List, Optional

import typer

from aura_db.cli.common import state
from aura_db.cli.completion import complete_backup_file

app = typer.Typer(
    help="Consistent online backups with a manifest (and: list, verify, prune).",
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode=None,
)

_LABEL = typer.Option(None, "--label", metavar="LABEL", help="Word added to the file name and manifest.")
_KEEP = typer.Option(None, "--keep", metavar="N", min=1, help="Keep the newest N backups afterwards (default 10).")
_KEEP_SAFETY = typer.Option(None, "--keep-safety", metavar="N", min=1,
                            help="Keep the newest N safety backups of this database (default 5).")
_KEEP_HOURLY = typer.Option(None, "--keep-hourly", metavar="N", min=0,
                            help="Also keep the newest backup of each of the last N hours (UTC) that have one (0: off).")
_KEEP_DAILY = typer.Option(None, "--keep-daily", metavar="N", min=0,
                           help="Also keep the newest backup of each of the last N days (UTC) that have one (0: off).")
_KEEP_WEEKLY = typer.Option(None, "--keep-weekly", metavar="N", min=0,
                            help="Also keep the newest backup of each of the last N ISO weeks that have one (0: off).")
_COMPRESS = typer.Option(None, "--compress", metavar="zstd|gzip|none", help="Compression (default: setting, else none).")
_JSON = typer.Option(False, "--json", help="One JSON document on stdout.")
_ENCRYPT_TO = typer.Option(None, "--encrypt-to", metavar="RECIPIENT",
                           help="Encrypt (age) to this age1... or SSH public key, or a file of them; repeatable.")
_IDENTITY = typer.Option(None, "--identity", metavar="FILE",
                         help="age identity (key file or SSH private key) to read encrypted backups.")


def _create(ctx: typer.Context, label: Optional[str], keep: Optional[int], compress: Optional[str],
            json_out: bool, keep_safety: Optional[int] = None, by_age: tuple = (None, None, None),
            encrypt_to: Optional[List[str]] = None) -> None:
    from aura_db import backup as core
    from aura_db.cli import render_backup as render

    app_state = state(ctx)
    s = app_state.settings_with(keep=keep, compression=compress, keep_safety=keep_safety,
                                **dict(zip(("keep_hourly", "keep_daily", "keep_weekly"), by_age)),
                                encrypt_to=encrypt_to or None)
    with render.progress(app_state, "backup") as on_progress:
        result = core.create_backup(
            app_state.engine(), s.backup_path, label=label, compression=s.compression, keep=s.keep,
            keep_safety=s.keep_safety, encrypt_to=s.recipients, on_progress=on_progress,
            keep_hourly=s.keep_hourly, keep_daily=s.keep_daily, keep_weekly=s.keep_weekly,
        )
    if json_out:
        app_state.emit_json(result.to_dict())
    else:
        render.created(app_state, result)


@app.callback(invoke_without_command=True)
def backup(
    ctx: typer.Context,
    label: Optional[str] = _LABEL,
    keep: Optional[int] = _KEEP,
    compress: Optional[str] = _COMPRESS,
    json_out: bool = _JSON,
    keep_safety: Optional[int] = _KEEP_SAFETY,
    keep_hourly: Optional[int] = _KEEP_HOURLY,
    keep_daily: Optional[int] = _KEEP_DAILY,
    keep_weekly: Optional[int] = _KEEP_WEEKLY,
    encrypt_to: Optional[List[str]] = _ENCRYPT_TO,
) -> None:
    """Take a consistent backup of the live database into the backup folder.

    With --encrypt-to (or the encrypt_to setting) the file is compressed, then
    encrypted in the age format: `age -d -i KEY` reads it.

    Example: aura-db backup --label pre-deploy --compress zstd
    """
    if ctx.invoked_subcommand is not None:
        return
    _create(ctx, label, keep, compress, json_out, keep_safety, (keep_hourly, keep_daily, keep_weekly), encrypt_to)


@app.command("create")
def create(
    ctx: typer.Context,
    label: Optional[str] = _LABEL,
    keep: Optional[int] = _KEEP,
    compress: Optional[str] = _COMPRESS,
    json_out: bool = _JSON,
    keep_safety: Optional[int] = _KEEP_SAFETY,
    keep_hourly: Optional[int] = _KEEP_HOURLY,
    keep_daily: Optional[int] = _KEEP_DAILY,
    keep_weekly: Optional[int] = _KEEP_WEEKLY,
    encrypt_to: Optional[List[str]] = _ENCRYPT_TO,
) -> None:
    """Take a consistent backup (the same as plain `aura-db backup`).

    Example: aura-db backup create --keep 20
    """
    _create(ctx, label, keep, compress, json_out, keep_safety, (keep_hourly, keep_daily, keep_weekly), encrypt_to)


@app.command("list")
def list_(
    ctx: typer.Context,
    check: bool = typer.Option(False, "--check", help="Compute every checksum (reads every backup)."),
    json_out: bool = _JSON,
) -> None:
    """The backups, newest first: file, created, age, size, engine, schema head, label, checksum state.

    Example: aura-db backup list --json
    """
    from aura_db import backup as core
    from aura_db.cli import render_backup as render

    app_state = state(ctx)
    folder = app_state.settings.backup_path
    entries = core.list_backups(folder, checksums=check)
    for w in core.listing_warnings(entries):
        app_state.warn(w)
    if json_out:
        app_state.emit_json([e.to_dict() for e in entries])
    else:
        render.backup_table(app_state, entries, folder)


@app.command("verify")
def verify(
    ctx: typer.Context,
    file: Optional[str] = typer.Argument(None, metavar="[FILE]", help="Backup to check (name, path or 'latest').",
                                         autocompletion=complete_backup_file),
    all_: bool = typer.Option(False, "--all", help="Check every backup in the folder."),
    full: bool = typer.Option(False, "--full", help="PostgreSQL/MySQL: also restore into a scratch database."),
    scratch: Optional[str] = typer.Option(
        None, "--scratch", metavar="URL",
        help="With --full: an existing EMPTY database to restore into (emptied again afterwards) "
             "instead of creating one [env AURA_DB_SCRATCH_URL]."),
    json_out: bool = _JSON,
    identity: Optional[str] = _IDENTITY,
) -> None:
    """Checksum against the manifest, then an integrity check of the contents; exit 3 on damage.

    An encrypted backup's content is checked with --identity (or
    AURA_DB_BACKUP_IDENTITY); without one only its checksum is, and a
    warning says so.

    Example: aura-db backup verify latest
    """
    from aura_db import backup as core
    from aura_db import policy
    from aura_db.cli import render_backup as render
    from aura_db.errors import UsageError

    if (file is None) == (not all_):
        raise UsageError("name one backup FILE or pass --all", hint="see `aura-db backup list`")
    if scratch is not None and not full:
        raise UsageError("--scratch is the database a --full check restores into", hint="add --full")
    app_state = state(ctx)
    s = app_state.settings_with(identity=identity, scratch_url=scratch)
    server = _server_for_full(app_state) if full else None
    scratch_db = _scratch_engine(s) if full and s.scratch_url else None
    if scratch_db is not None:
        core.check_scratch(scratch_db, server)
    with render.progress(app_state, "verify") as on_progress:
        if all_:
            results = core.verify_all(s.backup_path, server=server, full=full, identities=s.identity_path,
                                      scratch=scratch_db, on_progress=on_progress)
        else:
            path = core.resolve_backup(s.backup_path, file)
            results = [core.verify_backup(path, server=server, full=full, identities=s.identity_path,
                                          scratch=scratch_db,
                                          on_progress=on_progress)]
    if json_out:
        app_state.emit_json(results[0].to_dict() if not all_ else [r.to_dict() for r in results])
    else:
        render.verified(app_state, results)
    policy.check_backups(results)


def _server_for_full(app_state):
    from aura_db.errors import AuraError

    try:
        return app_state.engine()
    except AuraError:
        return None


def _scratch_engine(s):
    """The engine of the scratch_url setting (a server database URL)."""
    from aura_db.engines.registry import ENGINES, check_url_parameters, engine_for, parse_url
    from aura_db.errors import UsageError

    url = parse_url(s.scratch_url, cwd=s.cwd)
    if ENGINES[url.engine].features.database_is_a_file:
        raise UsageError(f"--scratch names a {url.engine} file; a full check of a file backup needs none",
                         hint="name an empty PostgreSQL or MySQL database, or leave --scratch out")
    check_url_parameters(url)
    return engine_for(url)


@app.command("prune")
def prune(
    ctx: typer.Context,
    keep: Optional[int] = typer.Option(None, "--keep", metavar="N", min=1, help="How many to keep (default 10)."),
    keep_safety: Optional[int] = _KEEP_SAFETY,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_out: bool = _JSON,
    keep_hourly: Optional[int] = _KEEP_HOURLY,
    keep_daily: Optional[int] = _KEEP_DAILY,
    keep_weekly: Optional[int] = _KEEP_WEEKLY,
) -> None:
    """Delete the backups of each database that no retention rule keeps.

    Kept: the newest N good ones (--keep, default 10) and the newest good one
    of each of the last N hours, days, ISO weeks (UTC) that have one
    (--keep-hourly/--keep-daily/--keep-weekly; off by default). Safety
    backups (taken before migrate, rollback, restore) are kept apart: their
    own newest N (--keep-safety, default 5). Damaged backups are never
    counted as kept, nor deleted; the newest good one is always kept.

    Example: aura-db backup prune --keep 3 --keep-daily 7 --keep-weekly 4 --yes
    """
    from aura_db import backup as core
    from aura_db.cli import render_backup as render

    app_state = state(ctx)
    s = app_state.settings_with(keep=keep, keep_safety=keep_safety, keep_hourly=keep_hourly,
                                keep_daily=keep_daily, keep_weekly=keep_weekly)
    plan = core.plan_prune(s.backup_path, s.keep, keep_safety=s.keep_safety, keep_hourly=s.keep_hourly,
                           keep_daily=s.keep_daily, keep_weekly=s.keep_weekly)
    doomed = plan.deleted
    if doomed:
        if not json_out:
            render.prune_plan(app_state, plan)
        app_state.confirm(f"Delete {len(doomed)} backup(s): {', '.join(p.name for p in doomed)}?", yes=yes,
                          what=f"deleting {len(doomed)} backup(s)")
    result = core.prune(s.backup_path, s.keep, plan=plan)
    for w in result.warnings:
        app_state.warn(w)
    if json_out:
        app_state.emit_json(result.to_dict())
    else:
        render.pruned(app_state, result)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="backup")
