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
    from aura_db import inspection

    app_state = state(ctx)
    ov = inspection.overview(app_state.engine())
    if json_out:
        app_state.emit_json(ov.to_dict())
        return
    from aura_db.cli.render import Col, layout, wrap_value

    facts = [("engine", f"{ov.engine} {ov.server_version}"), ("database", ov.location)]
    for key, value in ov.facts.items():
        shown = human_bytes(value) if key.endswith("_bytes") else str(value)
        facts.append((key.replace("_", " ").removesuffix(" bytes"), shown))
    facts.append(("schema head", f"{ov.head} ({ov.applied} applied)" if ov.head else "(not migrated)"))
    facts.append(("latency", f"{ov.health['latency_ms']:.3f} ms (SELECT 1, median of 5)"))
    if ov.health.get("connections") is not None:
        facts.append(("connections", f"{ov.health['connections']} of {ov.health.get('max_connections', '?')}"))
    key_width = max(len(k) for k, _ in facts)
    lines = [line for k, v in facts for line in wrap_value(k, v, key_width, app_state.width)]
    estimated = set()
    rows = []
    for t in ov.tables:
        mark = "" if t.size_exact else "~"
        if not t.size_exact:
            estimated.add(t.size_source)
        rows.append([t.name, f"{t.rows:,}", mark + human_bytes(t.data_bytes),
                     "" if t.index_bytes is None else mark + human_bytes(t.index_bytes), str(t.indexes)])
    columns = [Col("table"), Col("rows", justify="right"), Col("data", justify="right"),
               Col("indexes size", justify="right", drop=1), Col("indexes", justify="right")]
    lines += ["", "Tables", *layout(app_state, columns, rows)]
    _write(lines)
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


def _write(lines: list[str]) -> None:
    import sys

    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def _render_table(app_state: AppState, d) -> None:
    from aura_db.cli.render import Col, layout

    out = app_state.out
    fk_cols = {fk.column for fk in d.foreign_keys_out}
    rows = []
    for c in d.columns:
        key = "PK" if c.primary_key else ("FK" if c.name in fk_cols else "")
        rows.append([c.name, c.type, "yes" if c.nullable else "no", "" if c.default is None else str(c.default), key])
    lines = [f"{d.name} ({d.rows:,} rows)",
             *layout(app_state, [Col("column"), Col("type", shrink=12), Col("null"), Col("default", shrink=8),
                                 Col("key")], rows)]
    rows = [[i.name, ", ".join(i.columns), "yes" if i.unique else ""] for i in d.indexes]
    lines += ["", "Indexes"]
    if rows:
        # Index names whole: they are what DROP INDEX and the runbook need.
        lines += layout(app_state, [Col("name"), Col("columns", shrink=7), Col("unique", drop=1)], rows)
    else:
        lines.append("(none besides the primary key)")
    rows = [["out", f"{fk.table}.{fk.column}", f"{fk.target_table}.{fk.target_column}", fk.on_delete or ""]
            for fk in d.foreign_keys_out]
    rows += [["in", f"{fk.table}.{fk.column}", f"{fk.target_table}.{fk.target_column}", fk.on_delete or ""]
             for fk in d.foreign_keys_in]
    lines += ["", "Foreign keys"]
    if rows:
        lines += layout(app_state, [Col("direction"), Col("from"), Col("to"), Col("on delete", drop=1)], rows)
    else:
        lines.append("(none)")
    _write(lines)
    if d.sample_columns:
        from rich.table import Table

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
    from aura_db import inspection

    app_state = state(ctx)
    report = inspection.config(app_state.engine(), show_sensitive=show_sensitive)
    if json_out:
        app_state.emit_json(report.to_dict())
        return
    from aura_db.cli.render import Col, layout

    # Keys are copied into commands and code: whole, on the row.  The value
    # goes on its own line under it, as one line (cut at the width, with
    # `--json` for the rest), never folded into a narrow column.
    rows, values = [], []
    for r in report.rows:
        flags = ", ".join(f for f, on in (("sensitive", r["IsSensitive"]), ("inactive", not r["IsActive"])) if on)
        rows.append([r["Key"], str(r["Category"] or ""), str(r["ValueType"] or ""), flags,
                     "" if r["UpdatedAt"] is None else str(r["UpdatedAt"])[:16].replace("T", " ")])
        values.append(["= " + _cell(r["Value"], max(app_state.width - 6, 10))])
    columns = [Col("key"), Col("category", shrink=8, drop=2), Col("type", shrink=6, drop=3), Col("flags", shrink=9),
               Col("updated (UTC)", drop=1)]
    lines = [f"Configurations ({len(report.rows)})"]
    lines += layout(app_state, columns, rows, below=values) if rows else ["(none)"]
    _write(lines)
    if report.masked:
        app_state.note(f"{report.masked} sensitive value(s) masked; --show-sensitive shows them")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="inspect")
