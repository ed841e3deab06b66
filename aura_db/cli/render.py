"""Human output for the migration commands: rich tables on stdout, notes on stderr."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from aura_db.cli.common import AppState
    from aura_db.migrations import RunResult, Status

STATE_STYLE = {"applied": "green", "adopted": "cyan", "pending": "yellow", "changed": "red", "missing": "red"}


@dataclass
class Col:
    """A column of ``layout``: ``shrink`` is the narrowest it may be cut to (None: never cut);
    ``drop`` ranks columns that may go when even that is too wide (higher goes first)."""

    header: str
    justify: str = "left"
    shrink: int | None = None
    drop: int | None = None
    style: Callable[[str], str | None] | None = None  # the colour of a cell
    compact: Callable[[str], str] | None = None  # a shorter form of a cell, before columns are dropped


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def layout(app: "AppState", columns: list[Col], rows: list[list[str]], *, width: int | None = None,
           below: list[list[str]] | None = None, indent: int = 4) -> list[str]:
    """Rows as aligned lines no wider than ``width`` (the output's), keeping every fact that fits.

    Columns are cut (``shrink``) and then left out (``drop``) until the table
    fits; ``below[i]`` are lines printed under row i, indented, never cut
    (file names, paths: things to copy whole).  Header in bold, a rule
    under it; colours only where the output shows them.
    """
    width = width or app.width
    below = below or [[] for _ in rows]
    keep = list(range(len(columns)))
    compacted = False

    def natural(i: int) -> int:
        return max([len(columns[i].header), *(len(r[i]) for r in rows)])

    while True:
        widths = {i: natural(i) for i in keep}
        room = sum(max(widths[i] - max(columns[i].shrink or 0, len(columns[i].header)), 0)
                   for i in keep if columns[i].shrink is not None)
        for gap in (2, 1):  # two spaces between columns, one when that is what makes it fit
            over = sum(widths.values()) + gap * (len(keep) - 1) - width
            if over <= room:
                break
        if over > room and not compacted and any(c.compact for c in columns):
            compacted = True
            rows = [[columns[i].compact(c) if columns[i].compact else c for i, c in enumerate(r)] for r in rows]
            continue
        droppable = [i for i in keep if columns[i].drop is not None]
        if over <= room or not droppable:
            break
        keep.remove(max(droppable, key=lambda i: columns[i].drop or 0))
    while over > 0:  # take from the widest cuttable column, one column at a time
        candidates = [i for i in keep if columns[i].shrink is not None
                      and widths[i] > max(columns[i].shrink or 0, len(columns[i].header))]
        if not candidates:
            break
        i = max(candidates, key=lambda i: widths[i])
        widths[i] -= 1
        over -= 1
    sep = " " * gap

    def line(cells: list[str], styled: bool) -> str:
        out = []
        for i in keep:
            text = clip(cells[i], widths[i])
            padded = text.rjust(widths[i]) if columns[i].justify == "right" else text.ljust(widths[i])
            colour = columns[i].style(cells[i]) if styled and columns[i].style else None
            out.append(app.paint(padded, colour) if colour else padded)
        return sep.join(out).rstrip()

    total = sum(widths.values()) + gap * (len(keep) - 1)
    lines = [app.paint(line([c.header for c in columns], False), "bold"), "─" * min(total, width)]
    for cells, extra in zip(rows, below):
        lines.append(line(cells, True))
        lines.extend(" " * indent + e for e in extra)
    return lines


def titled(app: "AppState", title: str, where: str) -> list[str]:
    """``title (where)`` on one line if it fits, else the place on a line of its own."""
    line = f"{title} ({where})"
    return [line] if len(line) <= app.width else [f"{title}:", f"  {where}"]


def wrap_value(key: str, value: str, key_width: int, width: int) -> list[str]:
    """``key  value`` lines for a key/value listing: a value too long for the line goes under
    its key, whole (a path, a URL), or wrapped at commas (a list of names)."""
    first = f"{key.ljust(key_width)}  "
    if len(first) + len(value) <= width:
        return [first + value]
    if ", " in value:
        import textwrap

        wrapped = textwrap.wrap(value, width=max(width - len(first), 20), break_long_words=False,
                                break_on_hyphens=False)
        return [first + wrapped[0], *(" " * len(first) + w for w in wrapped[1:])]
    return [first.rstrip(), "  " + value]


def migration_table(app: "AppState", st: "Status") -> None:
    columns = [
        Col("#", justify="right", drop=3),  # the name starts with it: the first to go
        Col("name"),  # whole: it is what `--to` and `rollback` take
        Col("state", style=lambda v: STATE_STYLE.get(v)),
        # To the minute; without the year when narrow.
        Col("applied (UTC)", compact=lambda v: v[5:] if len(v) == 16 else v),
        Col("by", shrink=8, drop=2),
        Col("checksum", drop=1),
    ]
    # adopted: recorded by `aura-db adopt` over what the Aura app had built
    rows = [[f"{m.number:03d}" if m.number is not None else "?", m.name,
             "adopted" if m.adopted and m.state == "applied" else m.state,
             (m.applied_at or "").replace("T", " ")[:16], m.applied_by or "", m.checksum_state or ""]
            for m in st.migrations]
    if not rows:
        rows = [["", "(no migrations)", "", "", "", ""]]
    lines = [*titled(app, "Migrations", st.location), *layout(app, columns, rows)]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def status(app: "AppState", st: "Status") -> None:
    # Plain aligned lines, not a rich table: `status` runs at every deploy
    # gate and shell prompt, and rich's import costs more than the query.
    # The layout is the one rich gave a borderless two-column table.
    from aura_db.engines.registry import ENGINES

    engine = ENGINES.get(st.engine)
    # A file is shown by its path; a server by its URL (redacted).
    by_path = engine is not None and engine.features.database_is_a_file
    rows: list[tuple[str, str, str | None]] = [
        ("engine", f"{st.engine} {st.server_version or ''}".strip(), None),
        ("database", st.location if by_path else st.url, None),
        ("reachable", "yes" if st.reachable else "no", None),
        ("role", _role_line(st), "yellow" if st.read_only else None),
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
    lines = []
    for key, value, colour in rows:
        # A long URL or path goes on its own line, a long list wraps: never past the output's width.
        for n, text in enumerate(wrap_value(key, value, width, app.width)):
            head, rest = (text[: width + 2], text[width + 2:]) if n == 0 and len(text) > width else ("", text)
            shown = app.paint(rest, colour) if colour and rest.strip() else rest
            lines.append((app.paint(head.rstrip(), "bold") + head[len(head.rstrip()):] if head else "") + shown)
    sys.stdout.write("\n".join(line.rstrip() for line in lines) + "\n")
    sys.stdout.flush()


def _role_line(st: "Status") -> str:
    """primary; or standby/read-only, why, and where writes go."""
    if not st.read_only:
        return st.role
    text = st.role if st.role == "read-only" else f"{st.role} (read-only)"
    text += f": {st.role_reason}" if st.role_reason else ""
    return text + (f", primary at {st.primary}" if st.primary else "")


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
