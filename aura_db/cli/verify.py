"""aura-db verify: post-migration verification, one row per check."""

from __future__ import annotations

import typer

from aura_db.cli.common import state

STYLE = {"pass": "green", "warn": "yellow", "fail": "red"}


def verify(
    ctx: typer.Context,
    full: bool = typer.Option(
        False, "--full", help="Full checks: SQLite integrity_check and foreign_key_check instead of the quick ones."),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Check connection, migration history, schema, integrity, data invariants and query plans.

    Exits 3 when any check fails.  Example: aura-db verify --json
    """
    from aura_db import policy
    from aura_db import verify as core

    app = state(ctx)
    report = core.verify(app.engine(), app.settings.migrations_dir, full=full)
    if json_out:
        app.emit_json(report.to_dict())
    else:
        from rich.table import Table

        from aura_db.cli.render import titled

        for line in titled(app, "Verify", report.location):
            app.out.print(line, markup=False)
        table = Table()
        table.add_column("check", no_wrap=True)  # names whole: they are what --json's .check says
        table.add_column("status", no_wrap=True)
        table.add_column("detail", overflow="fold")
        for c in report.checks:
            table.add_row(c.check, f"[{STYLE[c.status]}]{c.status}[/]", c.detail.replace("[", "\\["))
        app.out.print(table)
        app.out.print(f"{len(report.checks)} checks in {report.duration_ms / 1000:.2f}s: "
                      f"{len(report.failed)} failed, {len(report.warnings)} warning(s)", markup=False)
    policy.check_verify(report)


def register(root: typer.Typer) -> None:
    root.command("verify")(verify)
