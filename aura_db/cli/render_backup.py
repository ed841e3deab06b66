"""Human output for backup and restore: rich tables on stdout, progress on stderr."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from aura_db.backup import BackupEntry, CreateResult, PruneResult, RestorePlan, RestoreResult, VerifyResult
    from aura_db.cli.common import AppState

STATE_STYLE = {"ok": "green", "size ok": "", "no manifest": "yellow", "bad manifest": "red",
               "size differs": "red", "checksum differs": "red"}


def size(n: int | None) -> str:
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(n)


def age(created_at: str | None) -> str:
    if not created_at:
        return ""
    try:
        when = dt.datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except ValueError:
        return ""
    seconds = int((dt.datetime.now(dt.timezone.utc) - when).total_seconds())
    if seconds < 0:
        return "in the future"
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= span:
            return f"{seconds // span}{unit} ago"
    return f"{seconds}s ago"


@contextlib.contextmanager
def progress(app: "AppState", description: str) -> Iterator[Any]:
    """A progress callback drawing a bar on stderr - only on a terminal, never in --quiet."""
    if app.quiet or not app.stderr_is_terminal:  # a real terminal: FORCE_COLOR asks for colour, not bars
        yield None
        return
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                               TransferSpeedColumn)

    bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                   TimeRemainingColumn(), console=app.err, transient=True)
    tasks: dict[str, Any] = {}

    def on_progress(phase: str, done: int, total: int | None) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(f"{description}: {phase}", total=total)
        bar.update(tasks[phase], completed=done, total=total)

    @contextlib.contextmanager
    def paused() -> Iterator[None]:
        # A question is written straight to the terminal: a live bar redrawn
        # over it would hide it.  The phases so far are done; they stay gone.
        for task in tasks.values():
            bar.update(task, visible=False)
        bar.stop()
        try:
            yield
        finally:
            bar.start()

    on_progress.paused = paused  # type: ignore[attr-defined]
    with bar:
        yield on_progress


def paused(on_progress: Any) -> Any:
    """A context in which the progress bar (if any) is off the terminal, for a question."""
    pause = getattr(on_progress, "paused", None)
    return pause() if pause is not None else contextlib.nullcontext()


def _print_wide(console: Any, table: Any) -> None:
    # Piped into a file or a CI log, the console would assume 80 columns and
    # squeeze the table into ellipses; a log has no width limit.
    if not console.is_terminal and console.width < 220:
        console.width = 220
    console.print(table)


def created(app: "AppState", r: "CreateResult") -> None:
    m = r.manifest
    for w in r.warnings:
        app.warn(w)
    rows = sum(m.row_counts.values())
    app.out.print(
        f"backup {r.path}  ({size(m.size)}, {m.compression}, {len(m.row_counts)} tables, {rows} rows, "
        f"schema {m.schema_head or 'none'}, {r.duration_s:.1f}s)",
        markup=False,
    )
    if r.reused:
        app.note(f"identical to {r.path.name}: not written again")
    decisions = r.prune.decisions if r.prune else []
    for d in decisions:
        if d.action == "delete":
            app.note(f"pruned {d.path.name}: {d.reason}")
        elif d.action == "leave":
            app.note(f"left {d.path.name}: {d.reason}")


def backup_table(app: "AppState", entries: list["BackupEntry"], folder: Any, *, stderr: bool = False) -> None:
    from rich.table import Table

    table = Table(title=f"Backups ({folder})", title_justify="left")
    table.add_column("#", justify="right")
    # A file name is something to copy and paste: never fold it.
    table.add_column("file", no_wrap=True, min_width=max((len(e.name) for e in entries), default=4))
    for col in ("created (UTC)", "age"):
        table.add_column(col)
    table.add_column("size", justify="right")
    for col in ("engine", "schema head", "label", "checksum"):
        table.add_column(col)
    for i, e in enumerate(entries, 1):
        m = e.manifest
        d = e.to_dict()
        # "unchecked" in JSON; on screen say what *was* checked (--check hashes them all).
        shown = "size ok" if e.state == "unchecked" else e.state
        style = STATE_STYLE.get(shown, "")
        table.add_row(
            str(i), e.name, (e.created_at or "")[:19].replace("T", " "), age(e.created_at),
            size(e.size), m.engine if m else "", (m.schema_head if m else "") or "",
            (d["label"] or "") + (" (safety)" if e.kind == "safety" else ""),
            f"[{style}]{shown}[/]" if style else shown,
        )
    if not entries:
        table.add_row("", "(no backups)", "", "", "", "", "", "", "")
    _print_wide(app.err if stderr else app.out, table)


def verified(app: "AppState", results: list["VerifyResult"]) -> None:
    from rich.table import Table

    table = Table(title="Backup verification", title_justify="left")
    table.add_column("file")
    table.add_column("result")
    table.add_column("details")
    for r in results:
        verdict = "[green]ok[/]" if r.ok else "[red]damaged[/]"
        details = "; ".join(r.problems) if r.problems else ", ".join(f"{k} {v}" for k, v in r.checks.items())
        table.add_row(r.path.name, verdict, details)
        for w in r.warnings:
            app.warn(f"{r.path.name}: {w}")
    if not results:
        table.add_row("(no backups)", "", "")
    _print_wide(app.out, table)


def prune_plan(app: "AppState", r: "PruneResult") -> None:
    """What retention will do and why, on stderr (it precedes a question)."""
    for d in r.decisions:
        app.err.print(f"  {'delete' if d.action == 'delete' else d.action:6} {d.path.name}: {d.reason}",
                      markup=False, soft_wrap=True)


def pruned(app: "AppState", r: "PruneResult") -> None:
    for d in r.decisions:
        if d.action != "delete":
            app.out.print(f"{d.action:7} {d.path.name}: {d.reason}", markup=False, soft_wrap=True)
    deleted = set(r.deleted)
    for d in r.decisions:
        if d.action == "delete" and d.path in deleted:
            app.out.print(f"deleted {d.path.name}: {d.reason}", markup=False, soft_wrap=True)
    if not r.deleted:
        app.out.print(f"nothing to prune ({len(r.kept)} kept, {len(r.left)} left alone)", markup=False)
        return
    app.out.print(f"{len(r.deleted)} deleted, {len(r.kept)} kept, {len(r.left)} left alone", markup=False)


def restore_plan(app: "AppState", plan: "RestorePlan") -> None:
    """What is about to happen, on stderr (it precedes a question)."""
    from rich.table import Table

    m = plan.manifest
    app.err.print(f"restore {plan.backup.name} over {plan.target}", markup=False)
    for caveat in plan.caveats:  # shown with the plan even in --quiet: it precedes a question
        app.err.print(f"warning: {caveat}", style="yellow", markup=False)
    app.err.print(f"  backup taken {m.created_at[:19].replace('T', ' ')} UTC ({age(m.created_at)}), schema {m.schema_head or 'none'}",
                  markup=False)
    if plan.live_exists:
        app.err.print(f"  live database: schema {plan.live_head or 'none'}", markup=False)
    else:
        app.err.print("  live database: does not exist yet", markup=False)
    table = Table(title_justify="left")
    table.add_column("table")
    table.add_column("backup rows", justify="right")
    table.add_column("live rows", justify="right")
    same = 0
    total_b = total_l = 0
    for t, counts in plan.to_dict()["row_counts"].items():
        b, live = counts["backup"], counts["live"]
        total_b += b or 0
        total_l += live or 0
        if b == live:
            same += 1  # only what changes is worth reading at 3 a.m.
            continue
        table.add_row(t, "" if b is None else str(b), "" if live is None else str(live))
    table.add_row("[bold]all tables[/]", str(total_b), str(total_l) if plan.live_counts is not None else "")
    app.err.print(table)
    if same:
        app.err.print(f"  {same} table(s) hold the same number of rows in both", markup=False)
    if plan.safety_backup:
        app.err.print("  a safety backup of the live database is taken first", markup=False)


def restored(app: "AppState", r: "RestoreResult") -> None:
    for w in r.warnings:
        app.warn(w)
    if r.safety_backup:
        same = " (identical content: the existing backup, not written again)" if r.safety_reused else ""
        app.note(f"safety backup: {r.safety_backup}{same}")
    app.out.print(f"restored {r.plan.backup.name} into {r.plan.target} ({r.duration_s:.1f}s)", markup=False)
    if r.unknown:
        app.out.print(f"[yellow]applied but not among the migrations on disk: {', '.join(r.unknown)}[/] "
                      "(the database is ahead of this code; see aura-db status)")
    if r.changed:
        app.out.print(f"[yellow]changed on disk since they were applied: {', '.join(r.changed)}[/]")
    if r.pending:
        app.out.print(f"[yellow]{len(r.pending)} pending: run aura-db migrate[/] ({', '.join(r.pending)})")
    elif not (r.unknown or r.changed or r.interrupted):
        app.out.print("schema is up to date with the migrations on disk", markup=False)
