"""aura-db inspect: engine facts and tables; one table in detail; configuration rows."""

from __future__ import annotations

import typer

from aura_db.cli.common import AppState, state
from aura_db.cli.completion import complete_table_name

app = typer.Typer(
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode=None,
)

# A sample is for reading: beyond this, --json and a query serve better (and
# a number past the engine's integer range is a usage error, not a driver's).
MAX_SAMPLE_ROWS = 1000
SHOW_SENSITIVE_HELP = "Show values of rows marked IsSensitive instead of masking them."


def human_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def _cell(value: object, width: int = 48) -> str:
    text = "NULL" if value is None else str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


@app.callback(invoke_without_command=True)
def inspect(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """What is in the database: engine facts and tables (and: `table`, `config`).

    Without a subcommand: engine, version, file size, page size, journal mode,
    schema head, health figures, and every table's rows, size and index count.

    Example: aura-db inspect --json
    """
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table

    from aura_db import inspection

    app_state = state(ctx)
    ov = inspection.overview(app_state.engine())
    if json_out:
        app_state.emit_json(ov.to_dict())
        return
    facts = Table(show_header=False, box=None, pad_edge=False)
    facts.add_column(style="bold")
    facts.add_column()
    facts.add_row("engine", f"{ov.engine} {ov.server_version}")
    facts.add_row("database", ov.location)
    for key, value in ov.facts.items():
        shown = human_bytes(value) if key.endswith("_bytes") else str(value)
        facts.add_row(key.replace("_", " ").removesuffix(" bytes"), shown)
    facts.add_row("schema head", f"{ov.head} ({ov.applied} applied)" if ov.head else "(not migrated)")
    facts.add_row("latency", f"{ov.health['latency_ms']:.3f} ms (SELECT 1, median of 5)")
    if ov.health.get("connections") is not None:
        facts.add_row("connections", f"{ov.health['connections']} of {ov.health.get('max_connections', '?')}")
    app_state.out.print(facts)
    table = Table(title="Tables", title_justify="left")
    for name, justify in (("table", "left"), ("rows", "right"), ("data", "right"), ("indexes size", "right"),
                          ("indexes", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    estimated = set()
    for t in ov.tables:
        mark = "" if t.size_exact else "~"
        if not t.size_exact:
            estimated.add(t.size_source)
        table.add_row(t.name, f"{t.rows:,}", mark + human_bytes(t.data_bytes),
                      "" if t.index_bytes is None else mark + human_bytes(t.index_bytes), str(t.indexes))
    app_state.out.print(table)
    for how in sorted(estimated):
        app_state.note(f"~ sizes are estimates: {how}")


@app.command("table")
def table_cmd(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Table name.", autocompletion=complete_table_name),
    rows: int = typer.Option(0, "--rows", min=0, max=MAX_SAMPLE_ROWS, metavar="N",
                             help=f"Also show N sample rows (at most {MAX_SAMPLE_ROWS})."),
    show_sensitive: bool = typer.Option(False, "--show-sensitive", help=SHOW_SENSITIVE_HELP),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Columns (type, null, default, key), indexes, foreign keys in and out, row count.

    Example: aura-db inspect table ProjectStates --rows 5
    """
    from aura_db import inspection

    app_state = state(ctx)
    d = inspection.table_detail(app_state.engine(), name, rows=rows, show_sensitive=show_sensitive)
    if json_out:
        app_state.emit_json(d.to_dict())
        return
    _render_table(app_state, d)


def _render_table(app_state: AppState, d) -> None:
    from rich.table import Table

    out = app_state.out
    fk_cols = {fk.column for fk in d.foreign_keys_out}
    cols = Table(title=f"{d.name} ({d.rows:,} rows)", title_justify="left")
    for h in ("column", "type", "null", "default", "key"):
        cols.add_column(h)
    for c in d.columns:
        key = "PK" if c.primary_key else ("FK" if c.name in fk_cols else "")
        cols.add_row(c.name, c.type, "yes" if c.nullable else "no", "" if c.default is None else str(c.default), key)
    out.print(cols)
    idx = Table(title="Indexes", title_justify="left")
    for h in ("name", "columns", "unique"):
        idx.add_column(h)
    for i in d.indexes:
        idx.add_row(i.name, ", ".join(i.columns), "yes" if i.unique else "")
    if not d.indexes:
        idx.add_row("(none besides the primary key)", "", "")
    out.print(idx)
    fks = Table(title="Foreign keys", title_justify="left")
    for h in ("direction", "from", "to", "on delete"):
        fks.add_column(h)
    for fk in d.foreign_keys_out:
        fks.add_row("out", f"{fk.table}.{fk.column}", f"{fk.target_table}.{fk.target_column}", fk.on_delete)
    for fk in d.foreign_keys_in:
        fks.add_row("in", f"{fk.table}.{fk.column}", f"{fk.target_table}.{fk.target_column}", fk.on_delete)
    if not (d.foreign_keys_out or d.foreign_keys_in):
        fks.add_row("(none)", "", "", "")
    out.print(fks)
    if d.sample_columns:
        # One small table per row: tables here are too wide to show a row per line.
        for n, r in enumerate(d.sample_rows, 1):
            sample = Table(title=f"Row {n} of {len(d.sample_rows)}", title_justify="left")
            sample.add_column("column")
            sample.add_column("value", overflow="fold")
            for c, v in zip(d.sample_columns, r):
                sample.add_row(c, _cell(v, 200).replace("[", "\\["))
            out.print(sample)
        if d.masked:
            app_state.note(f"{d.masked} sensitive value(s) masked; --show-sensitive shows them")


@app.command("config")
def config_cmd(
    ctx: typer.Context,
    show_sensitive: bool = typer.Option(False, "--show-sensitive", help=SHOW_SENSITIVE_HELP),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Configuration rows; values marked IsSensitive are masked unless --show-sensitive.

    Example: aura-db inspect config --json
    """
    from rich.table import Table

    from aura_db import inspection

    app_state = state(ctx)
    report = inspection.config(app_state.engine(), show_sensitive=show_sensitive)
    if json_out:
        app_state.emit_json(report.to_dict())
        return
    table = Table(title=f"Configurations ({len(report.rows)})", title_justify="left")
    # Keys are copied into commands and code: keep each on one line.
    table.add_column("key", no_wrap=True)
    table.add_column("value", overflow="fold")
    for h in ("category", "type", "sensitive", "active", "updated at"):
        table.add_column(h)
    for r in report.rows:
        table.add_row(r["Key"], _cell(r["Value"], 60).replace("[", "\\["), r["Category"], r["ValueType"],
                      "yes" if r["IsSensitive"] else "", "yes" if r["IsActive"] else "no",
                      _cell(r["UpdatedAt"], 19))
    app_state.out.print(table)
    if report.masked:
        app_state.note(f"{report.masked} sensitive value(s) masked; --show-sensitive shows them")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="inspect")
