"""aura-db copy: the database named by --db into an empty database on any engine."""

# No `from __future__ import annotations` here: Typer reads these signatures
# at start-up, and string annotations cost a compile() each.

import contextlib
from typing import Any, Iterator, Optional

import typer

from aura_db.cli.common import AppState, state


def copy(
    ctx: typer.Context,
    to: str = typer.Option(..., "--to", metavar="URL",
                           help="The empty database to copy into (any engine; a plain path is a SQLite file)."),
    lock_timeout: Optional[float] = typer.Option(
        None, "--lock-timeout", metavar="SECONDS", min=0,
        help="Wait this long for another run's lock on the target, then exit 5."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Copy the database (--db) into an empty database on any engine, and prove it.

    The target's schema is built by aura-db's migrations (history included),
    then every row of every table follows, converted to the target's native
    types; row counts and checksums are compared table by table, then
    status --check and verify run on the copy. The target is left as it was
    unless everything arrived (MySQL: what the copy created is removed).

    Example: aura-db --db sqlite:///aura.db copy --to postgresql://aura@db/aura --yes
    """
    import peewee  # noqa: F401 - loads the server drivers, which a SQLite --db alone would skip

    from aura_db import copy as core
    from aura_db.engines.registry import check_url_parameters, engine_for, parse_url

    app = state(ctx)
    s = app.settings_with(lock_timeout=lock_timeout)
    url = parse_url(to, cwd=s.cwd)
    check_url_parameters(url)
    target = engine_for(url)
    source = app.engine()

    def confirm(n_tables: int) -> None:
        app.confirm(f"Copy {n_tables} table(s) of {source.describe()} into {target.describe()}?",
                    yes=yes, what="copy")

    with _progress(app, json_out) as on_progress:
        result = core.copy_database(source, target, s.migrations_dir, lock_timeout=s.lock_timeout,
                                    confirm=confirm, on_progress=on_progress)
    if json_out:
        app.emit_json(result.to_dict())
        return
    _render(app, result)


@contextlib.contextmanager
def _progress(app: AppState, json_out: bool) -> Iterator[Any]:
    """A bar per table on stderr, only on a real terminal; elsewhere nothing."""
    if app.quiet or not app.stderr_is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=app.err, transient=True) as bar:
        current: dict = {}  # the table being copied: one bar, replaced by the next table's

        def on_progress(event: str, name: str, done: int, total: Optional[int]) -> None:
            if event == "table":
                if current:
                    bar.remove_task(current.pop("task"))
                current["task"] = bar.add_task(name[:30].ljust(30), total=total or None)
            elif event == "rows" and current:
                bar.update(current["task"], completed=done, total=total or None)
            elif event == "apply":
                bar.console.print(f"applying {name}", markup=False, highlight=False)
            elif event == "check":
                if current:
                    bar.remove_task(current.pop("task"))
                bar.console.print(f"checking the copy: {name}", markup=False, highlight=False)

        yield on_progress


def _render(app: AppState, result: Any) -> None:
    from aura_db.cli.render import Col, layout

    lines = ["Copied", f"  from {result.source}", f"  into {result.target}"]
    rows = [[t.table, str(t.source_rows), str(t.target_rows), t.target_checksum[:12],
             "yes" if t.match else "NO"] for t in result.tables]
    columns = [Col("table", shrink=12), Col("source rows", justify="right"), Col("copied", justify="right"),
               Col("checksum", shrink=8, drop=1), Col("match")]
    lines += layout(app, columns, rows)
    lines.append(f"{result.rows} row(s) in {len(result.tables)} table(s), {result.duration_ms / 1000:.2f}s, "
                 "counts and checksums equal")
    lines.append(f"on the copy: status --check {result.status_check}, verify {result.verify}")
    for note in result.notes:
        lines.append(f"note: {note}")
    import sys

    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def register(root: typer.Typer) -> None:
    root.command("copy")(copy)
