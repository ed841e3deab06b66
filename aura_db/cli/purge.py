"""aura-db purge: remove what the Aura data model marks as disposable (a report per table first)."""

# No `from __future__ import annotations` here: Typer reads these signatures
# at start-up, and string annotations cost a compile() each.

import sys
from typing import Optional

import typer

from aura_db.cli.common import AppState, state

def _short(reason: str) -> str:
    return (reason.replace(" days ago", "d").replace("temporary, made > ", "temporary > ")
            .replace("no version refers to it", "unreferenced").replace("child of ", "via "))


def render(app_state: AppState, result, *, planned: bool) -> None:
    """The report per table (``planned``: what would go; else what went), then the backups that hold it."""
    from aura_db.cli.render import Col, layout, titled

    if result.nothing_to_do:
        sys.stdout.write(f"nothing to purge in {result.database} (older than {result.older_than_days} days)\n")
        for w in result.warnings:
            app_state.warn(w)
        return
    columns = [Col("table", shrink=10), Col("rows", justify="right"), Col("cascaded", justify="right", drop=2),
               Col("why", shrink=12)]
    rows, notes = [], []
    for t in result.tables:
        if not t.rows:
            continue
        n = t.rows if planned or t.deleted is None else t.deleted
        why = [_short(r) for r in t.reasons if "set to NULL" not in r and "ReferenceCount" not in r]
        rows.append([t.table, str(n), str(t.cascaded), ", ".join(why) or "-"])
    for t in result.tables:
        if t.detached:
            notes.append(f"{t.table}: {t.detached} row(s) kept, their link to a purged row set to NULL")
        if t.recounted:
            notes.append(f"{t.table}: ReferenceCount lowered on {t.recounted} kept row(s)")
    total = result.total if planned else result.deleted
    lines = [*titled(app_state, "Would purge" if planned else "Purged", result.database),
             *layout(app_state, columns, rows), *notes,
             f"{total} row(s) in {len(rows)} table(s); deleted and temporary rows:",
             f"  older than {result.older_than_days} days (before {result.cutoff})"]
    if not planned:
        lines.append(f"in {result.batches} batch(es); safety backup:")
        lines.append(f"  {result.backup or 'none'}")
    held = result.holding_backups
    if held:
        lines.append(f"{len(held)} backup(s) still hold {'these' if planned else 'the purged'} rows;")
        lines.append("erasure is complete only once they expire or are pruned:")
        lines.extend(f"  {b['file']}" for b in held)
    elif not planned:
        lines.append("no backup holds the purged rows: erasure is complete")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    for w in result.warnings:
        app_state.warn(w)


def purge(
    ctx: typer.Context,
    older_than: Optional[str] = typer.Option(
        None, "--older-than", metavar="DAYS",
        help="Soft-deleted and temporary rows older than this many days (default 30).",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would go; change nothing, take no backup."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Remove expired ActionLogs, rows soft-deleted more than DAYS ago (with their
    children), temporary assets older than DAYS and content blobs no version uses.

    Reports per table first; then asks, takes a safety backup and deletes in
    short batches.  The report names the backups that still hold purged rows.

    Example: aura-db purge --older-than 90 --dry-run
    """
    from aura_db import purge as core
    from aura_db.cli.migrate import safety_backup

    app_state = state(ctx)
    if json_out:
        app_state.json = True
    days = core.parse_days(older_than)
    s = app_state.settings

    def confirm(plan) -> None:
        app_state.made["plan"] = plan.to_dict()
        if not yes and app_state.interactive and not json_out:
            render(app_state, plan, planned=True)
        app_state.confirm(f"Delete these {plan.total} row(s) from {plan.database}?", yes=yes, what="purge")

    result = core.purge(
        app_state.engine(), s.migrations_dir, older_than_days=days, dry_run=dry_run, confirm=confirm,
        safety=safety_backup(app_state, enabled=True), backup_dir=s.backup_path,
        lock_timeout=s.lock_timeout,
    )
    if json_out:
        app_state.emit_json(result.to_dict())
    else:
        render(app_state, result, planned=result.dry_run)


def register(root: typer.Typer) -> None:
    root.command("purge")(purge)
