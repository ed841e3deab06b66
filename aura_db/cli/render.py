"""Human output for the migration commands: rich tables on stdout, notes on stderr."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aura_db.cli.common import AppState
    from aura_db.migrations import RunResult, Status

STATE_STYLE = {"applied": "green", "adopted": "cyan", "pending": "yellow", "changed": "red", "missing": "red"}


def migration_table(app: "AppState", st: "Status") -> None:
    from rich.table import Table

    table = Table(title=f"Migrations ({st.location})", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("name")
    table.add_column("state")
    table.add_column("applied at (UTC)")
    table.add_column("by")
    table.add_column("checksum")
    for m in st.migrations:
        table.add_row(
            f"{m.number:03d}" if m.number is not None else "?",
            m.name,
            # adopted: recorded by `aura-db adopt` over what the Aura app had built
            f"[{STATE_STYLE['adopted']}]adopted[/]" if m.adopted and m.state == "applied"
            else f"[{STATE_STYLE[m.state]}]{m.state}[/]",
            m.applied_at or "",
            m.applied_by or "",
            m.checksum_state or "",
        )
    if not st.migrations:
        table.add_row("", "(no migrations)", "", "", "", "")
    app.out.print(table)


def status(app: "AppState", st: "Status") -> None:
    # Plain aligned lines, not a rich table: `status` runs at every deploy
    # gate and shell prompt, and rich's import costs more than the query.
    # The layout is the one rich gave a borderless two-column table.
    rows: list[tuple[str, str, str | None]] = [
        ("engine", f"{st.engine} {st.server_version or ''}".strip(), None),
        ("database", st.url if st.engine != "sqlite" else st.location, None),
        ("reachable", "yes" if st.reachable else "no", None),
        ("head", st.head or "(none applied)", None),
        ("applied", str(len(st.applied)) + (f" ({len(st.adopted)} adopted from the Aura app)" if st.adopted else ""),
         None),
        ("pending", ", ".join(st.pending) if st.pending else "none", "yellow" if st.pending else None),
    ]
    if st.app_migrations is not None:
        newest = st.app_migrations[-1] if st.app_migrations else "none"
        rows.append(("aura app", f"{len(st.app_migrations)} EF Core migration(s) in __EFMigrationsHistory, "
                                  f"newest {newest}", None))
    if st.not_adopted:
        rows.append(("adopt", "tables aura-db did not create: take the database over with `aura-db adopt`",
                     "yellow"))
    if st.changed:
        rows.append(("changed", f"{', '.join(st.changed)} (edited after they were applied)", "red"))
    if st.missing:
        rows.append(("missing", f"{', '.join(st.missing)} (applied, file gone)", "red"))
    verdict = "not adopted: run aura-db adopt" if st.not_adopted else "up to date" if st.up_to_date else ("drift" if st.drift else f"{len(st.pending)} pending: run aura-db migrate")
    rows.append(("state", verdict, "green" if st.up_to_date else "yellow"))
    width = max(len(key) for key, _, _ in rows)
    lines = [
        f"{app.paint(key.ljust(width), 'bold')}  {app.paint(value, colour) if colour else value}"
        for key, value, colour in rows
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def run_result(app: "AppState", r: "RunResult") -> None:
    for warning in r.warnings:
        app.warn(warning)
    if r.dry_run:
        if not r.migrations:
            app.note("nothing to do")
            return
        verb = "migrate" if r.command == "migrate" else "rollback"
        for name in r.migrations:
            app.out.print(f"-- {verb} {name}", markup=False, highlight=False)
            for stmt in r.sql.get(name, []):
                app.out.print(stmt, markup=False, highlight=False)
            app.out.print("")
        app.note(f"dry run: {len(r.migrations)} migration(s), nothing changed")
        return
    if r.nothing_to_do:
        where = r.from_head or "nothing applied"
        app.out.print(f"nothing to do (head: {where})", markup=False)
        return
    if r.command == "migrate":
        verb = "recorded as applied (fake)" if r.fake else "applied"
    else:
        verb = "rolled back"
    app.out.print(
        f"{verb} {len(r.migrations)} migration(s) in {r.duration_ms / 1000:.2f}s: {', '.join(r.migrations)}",
        markup=False,
    )
    app.out.print(f"head: {r.from_head or '(none)'} -> {r.to_head or '(none)'}", markup=False)


def adopt_result(app: "AppState", r) -> None:
    """What adopt found, recorded or would record."""
    if r.already_adopted:
        app.note(f"nothing to do: aura-db already keeps this database's history (head {r.matched})")
        if r.pending:
            app.note(f"{len(r.pending)} pending: run aura-db migrate")
        return
    lines = [
        f"Aura app migrations applied ({len(r.ef_migrations)}): " + (r.ef_migrations[-1] if r.ef_migrations else "none"),
        f"matches aura-db migration: {r.matched}",
        f"schema: {r.tables_compared} tables compared, no difference",
    ]
    verb = "would record" if r.dry_run else "recorded"
    names = r.to_record if r.dry_run else r.recorded
    lines.append(f"{verb} as adopted ({len(names)}): {', '.join(names)}")
    lines.append("pending after adoption: " + (", ".join(r.pending) if r.pending else "none"))
    for line in lines:
        app.out.print(line, markup=False, highlight=False)
    if r.dry_run:
        app.note("dry run: nothing changed")
    elif r.pending:
        app.note(f"next: aura-db verify, then aura-db migrate ({len(r.pending)} pending)")
    else:
        app.note("next: aura-db verify")
