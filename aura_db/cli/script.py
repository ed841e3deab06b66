"""aura-db script: write the SQL of the migrations, touching no database."""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from aura_db.cli.common import state
from aura_db.cli.completion import complete_migration_target
from aura_db.engines.registry import ENGINES

# One choice per registered engine.
Dialect = Enum("Dialect", {name: name for name in ENGINES}, type=str)  # type: ignore[misc]


def script(
    ctx: typer.Context,
    output: Optional[Path] = typer.Argument(
        None, metavar="[OUTPUT]", help="File to write; '-' or nothing for stdout.", dir_okay=False,
    ),
    from_: Optional[str] = typer.Option(
        None, "--from", metavar="A",
        help="Start from the database where A is the head (0: empty). Default: empty (--rollback: the newest).",
        autocompletion=complete_migration_target,
    ),
    to: Optional[str] = typer.Option(
        None, "--to", metavar="B",
        help="End with B as the head (0: empty). Default: the newest (--rollback: empty).",
        autocompletion=complete_migration_target,
    ),
    rollback: bool = typer.Option(False, "--rollback", help="Write the down SQL, newest first."),
    dialect: Optional[Dialect] = typer.Option(
        None, "--dialect", case_sensitive=False,
        help="SQL dialect (default: the engine of --db).",
    ),
    idempotent: bool = typer.Option(
        False, "--idempotent", help="PostgreSQL: each block runs only if its history row says so."
    ),
    allow_python: bool = typer.Option(
        False, "--allow-python", help="Write migrations that run Python as comments instead of failing."
    ),
    json_out: bool = typer.Option(False, "--json", help="One JSON document (statements per migration) on stdout."),
) -> None:
    """Write the SQL the migrations run, plus their history rows, without touching any database.

    Example: aura-db script schema.sql --dialect postgresql
    """
    from aura_db import script as script_core
    from aura_db.engines.registry import parse_url

    app = state(ctx)
    s = app.settings
    configured = parse_url(s.url, cwd=s.cwd)
    chosen = dialect.value if dialect is not None else configured.engine
    # A server is only ever asked when a migration cannot be scripted
    # without one, and only the one the user configured for this dialect.
    offline = ENGINES[chosen].features.database_is_a_file  # scripted on a scratch file, never a server
    server = app.engine() if not offline and configured.engine == chosen else None
    result = script_core.build(
        s.migrations_dir,
        dialect=chosen,
        from_=from_,
        to=to,
        rollback=rollback,
        idempotent=idempotent,
        allow_python=allow_python,
        server=server,
    )
    to_stdout = output is None or str(output) == "-"
    if not to_stdout:
        _write_atomically(output, result.text)  # type: ignore[arg-type]
    if json_out:
        doc = result.to_dict()
        doc["output"] = None if to_stdout else str(output)
        app.emit_json(doc)
    elif to_stdout:
        sys.stdout.write(result.text)
        sys.stdout.flush()
    for name in result.python_migrations:
        app.warn(f"{name} runs Python code: written as comments, not scripted")
    where = "stdout" if to_stdout else str(output)
    if result.migrations:
        app.note(f"{result.direction} script for {result.dialect}: {len(result.migrations)} migration(s) to {where}")
    else:
        app.note(f"nothing to do: no migrations in the range; wrote only the history tables to {where}")


def _write_atomically(path: Path, text: str) -> None:
    from aura_db.errors import AuraError

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AuraError(f"cannot write {path}: {exc.strerror or exc}") from None


def register(app: typer.Typer) -> None:
    app.command("script")(script)
