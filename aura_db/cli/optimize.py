"""aura-db optimize: the engine's upkeep (VACUUM/ANALYZE and the like) and the space it gave back."""

# No `from __future__ import annotations` here: Typer reads these signatures
# at start-up, and string annotations cost a compile() each.

import sys

import typer

from aura_db.cli.common import AppState, state


def render(app_state: AppState, result) -> None:
    from aura_db.cli.render import Col, layout, titled
    from aura_db.cli.render_backup import size

    lines = titled(app_state, "Optimized", result.database)
    import textwrap

    lines += textwrap.wrap(f"ran: {'; '.join(result.steps)}", width=app_state.width, subsequent_indent="  ",
                           break_long_words=False, break_on_hyphens=False)
    shown = [t for t in result.tables if t.reclaimed] or result.tables[:0]
    if shown:
        columns = [Col("table", shrink=12), Col("before", justify="right"), Col("after", justify="right"),
                   Col("given back", justify="right")]
        lines += layout(app_state, columns,
                        [[t.table, size(t.before), size(t.after), size(t.reclaimed)] for t in shown])
    for name, before in result.files_before.items():
        lines.append(f"{name}: {size(before)} -> {size(result.files_after.get(name, 0))}")
    gained = result.reclaimed
    verdict = (f"gave back {size(gained)}" if gained > 0 else
               "gave back nothing" if gained == 0 else f"grew by {size(-gained)}")
    lines.append(f"{size(result.bytes_before)} -> {size(result.bytes_after)}: {verdict}")
    lines.append(f"  measured: {result.measured}")
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    for w in result.warnings:
        app_state.warn(w)


def optimize(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Run the engine's upkeep and report the space given back.

    SQLite: WAL checkpoint, VACUUM (incremental where set), ANALYZE, PRAGMA
    optimize; refused while another process has the file open.  PostgreSQL:
    VACUUM (ANALYZE) on each table.  MySQL: OPTIMIZE TABLE, ANALYZE TABLE.

    Example: aura-db optimize --json
    """
    from aura_db import optimize as core

    app_state = state(ctx)
    if json_out:
        app_state.json = True

    def step(what: str, table) -> None:
        app_state.note(f"{what} {table}" if table else what)

    result = core.optimize(app_state.engine(), app_state.settings.migrations_dir,
                           on_step=None if json_out or not app_state.verbose else step)
    if json_out:
        app_state.emit_json(result.to_dict())
    else:
        render(app_state, result)


def register(root: typer.Typer) -> None:
    root.command("optimize")(optimize)
