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


def _write(app: "AppState", lines: list[str], *, stderr: bool = False) -> None:
    import sys

    stream = sys.stderr if stderr else sys.stdout
    stream.write("\n".join(lines) + "\n")
    stream.flush()


def created(app: "AppState", r: "CreateResult") -> None:
    m = r.manifest
    for w in r.warnings:
        app.warn(w)
    rows = sum(m.row_counts.values())
    compression = m.compression if not m.archive_compression else f"{m.archive_compression} inside the archive"
    # The path whole on its own line (to copy), the facts under it.
    _write(app, [f"backup {r.path}",
                 f"  {size(m.size)}, {compression}, {len(m.row_counts)} tables, {rows} rows, "
                 f"schema {m.schema_head or 'none'}, {r.duration_s:.1f}s"])
    if r.reused:
        app.note(f"identical to {r.path.name}: not written again")
    for d in r.prune.decisions if r.prune else []:
        if d.action == "delete":
            app.note(f"pruned {d.path.name}: {d.reason}")
        elif d.action == "leave":
            app.note(f"left {d.path.name}: {d.reason}")


def backup_table(app: "AppState", entries: list["BackupEntry"], folder: Any, *, stderr: bool = False) -> None:
    """The backups, newest first: one line of facts each, its file name whole on the line under it."""
    from aura_db.cli.render import Col, layout, titled

    columns = [
        Col("#", justify="right"),
        # To the minute (the file name has the seconds); without the year when narrow.
        Col("created (UTC)", compact=lambda v: v[5:] if len(v) == 16 else v),
        Col("age", justify="right", drop=1),
        Col("size", justify="right"),
        Col("engine"),
        Col("schema", shrink=11, drop=2),
        Col("label", shrink=12),  # pre-rollback, pre-restore: whole
        Col("state", style=lambda v: STATE_STYLE.get(v) or None),
    ]
    rows, files = [], []
    for i, e in enumerate(entries, 1):
        m = e.manifest
        # "unchecked" in JSON; on screen say what *was* checked (--check hashes them all).
        shown = "size ok" if e.state == "unchecked" else e.state
        rows.append([str(i), (e.created_at or "")[:16].replace("T", " "), age(e.created_at), size(e.size),
                     m.engine if m else "", (m.schema_head if m else "") or "", e.to_dict()["label"] or "", shown])
        files.append([e.name + ("  (safety)" if e.kind == "safety" else "")])
    lines = titled(app, "Backups", str(folder))
    if entries:
        lines += layout(app, columns, rows, below=files)
    else:
        lines.append("(no backups)")
    _write(app, lines, stderr=stderr)


def verified(app: "AppState", results: list["VerifyResult"]) -> None:
    """Each backup: its file name whole on a line, then the verdict and what was checked, wrapped."""
    import textwrap

    lines = ["Backup verification"]
    for r in results:
        verdict = "ok" if r.ok else "damaged"
        details = "; ".join(r.problems) if r.problems else ", ".join(f"{k} {v}" for k, v in r.checks.items())
        wrapped = textwrap.wrap(f"{verdict}: {details}", width=max(app.width - 2, 20), break_long_words=False,
                                break_on_hyphens=False) or [verdict]
        first = wrapped[0].replace(verdict, app.paint(verdict, "green" if r.ok else "red"), 1)
        lines += [r.path.name, "  " + first, *("  " + w for w in wrapped[1:])]
        for w in r.warnings:
            app.warn(f"{r.path.name}: {w}")
    if not results:
        lines.append("(no backups)")
    _write(app, lines)


def _retention_table(app: "AppState", decisions: list, *, verb: dict[str, str] | None = None) -> list[str]:
    """One row per backup: created, kind, what retention does, which rules keep it; the file name whole
    under it, and for one deleted or left alone the reason, wrapped."""
    import textwrap

    from aura_db.cli.render import Col, layout

    columns = [
        Col("created (UTC)", compact=lambda v: v[5:] if len(v) == 16 else v),
        Col("kind", drop=1),
        Col("action", style=lambda v: {"keep": "green", "leave": "yellow"}.get(v, "red")),
        Col("kept by", shrink=12),
    ]
    rows, below = [], []
    for d in decisions:
        rows.append([(d.created_at or "")[:16].replace("T", " "), d.kind or "",
                     (verb or {}).get(d.action, d.action),
                     " ".join(d.kept_by) if d.kept_by else ("" if d.action != "keep" else "(all kept)")])
        extra = [d.path.name]
        if d.action != "keep":
            extra += textwrap.wrap(d.reason, width=max(app.width - 6, 30), initial_indent="  ",
                                   subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)
        below.append(extra)
    return layout(app, columns, rows, below=below) if rows else []


def prune_plan(app: "AppState", r: "PruneResult") -> None:
    """What retention will do and why, on stderr (it precedes a question)."""
    _write(app, _retention_table(app, r.decisions), stderr=True)


def pruned(app: "AppState", r: "PruneResult") -> None:
    deleted = set(r.deleted)
    shown = [d for d in r.decisions if d.action != "delete" or d.path in deleted]
    _write(app, _retention_table(app, shown, verb={"delete": "deleted"}))
    if not r.deleted:
        _write(app, [f"nothing to prune ({len(r.kept)} kept, {len(r.left)} left alone)"])
        return
    _write(app, [f"{len(r.deleted)} deleted, {len(r.kept)} kept, {len(r.left)} left alone"])


def restore_plan(app: "AppState", plan: "RestorePlan") -> None:
    """What is about to happen, on stderr (it precedes a question)."""
    from rich.table import Table

    m = plan.manifest
    line = f"restore {plan.backup.name} over {plan.target}"
    if len(line) > app.width:  # the target (a path, a URL) whole on its own line
        line = f"restore {plan.backup.name}\n  over {plan.target}"
    app.err.print(line, markup=False)
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
    line = f"restored {r.plan.backup.name} into {r.plan.target} ({r.duration_s:.1f}s)"
    if len(line) > app.width:
        line = f"restored {r.plan.backup.name} ({r.duration_s:.1f}s)\n  into {r.plan.target}"
    app.out.print(line, markup=False)
    if r.unknown:
        app.out.print(f"[yellow]applied but not among the migrations on disk: {', '.join(r.unknown)}[/] "
                      "(the database is ahead of this code; see aura-db status)")
    if r.changed:
        app.out.print(f"[yellow]changed on disk since they were applied: {', '.join(r.changed)}[/]")
    if r.pending:
        app.out.print(f"[yellow]{len(r.pending)} pending: run aura-db migrate[/] ({', '.join(r.pending)})")
    elif not (r.unknown or r.changed or r.interrupted):
        app.out.print("schema is up to date with the migrations on disk", markup=False)
