"""aura-db status: where the database stands.

``run`` is the command; ``register`` gives it its Typer signature.  Nothing
heavy at module level (no rich, no peewee, no driver): CI gates and shell
prompts run ``status`` again and again (tests/test_startup.py).
"""

# No `from __future__ import annotations` here: Typer reads the command's
# signature at start-up, and string annotations cost a compile() each.

from typing import TYPE_CHECKING

from aura_db.errors import DatabaseUnavailable

if TYPE_CHECKING:
    import typer

    from aura_db.cli.common import AppState
    from aura_db.db import Engine


def run(app: "AppState", *, check: bool = False, json_out: bool = False) -> None:
    from aura_db import migrations
    from aura_db.cli import render

    engine = app.engine()
    try:
        result = migrations.status(engine, app.settings.migrations_dir)
    except DatabaseUnavailable as exc:
        if json_out:  # a gate reads `.reachable`: it gets its document, and exit 4 as ever
            app.emit_json(unreachable(engine, exc))
        raise
    if json_out:
        app.emit_json(result.to_dict())
    else:
        render.status(app, result)
    if check:
        from aura_db import policy

        policy.check_status(result)


def unreachable(engine: "Engine", exc: DatabaseUnavailable) -> dict:
    """The --json document of a database that cannot be reached or does not exist.

    The keys of a reachable database's document, with what could not be
    read as null (unknown, not "none": `.drift == false` must not pass), and
    the error, its password masked.
    """
    return {
        "engine": engine.name,
        "url": engine.url.redacted,
        "location": engine.describe(),
        "reachable": False,
        "error": engine.scrub(exc.message),
        "server_version": None,
        "head": None,
        "applied": None,
        "pending": None,
        "changed": None,
        "missing": None,
        "drift": None,
        "up_to_date": None,
        "migrations": None,
        "read_only": None,
        "role": None,
        "role_reason": None,
        "primary": None,
    }


def register(root: "typer.Typer") -> None:
    import typer

    from aura_db.cli.common import state

    def status(
        ctx: typer.Context,
        check: bool = typer.Option(False, "--check", help="Exit 3 when migrations are pending or files drifted."),
        json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
    ) -> None:
        """Show engine, database, its role (primary, standby, read-only), current migration, pending ones and drift.

        Example: aura-db status --check --json
        """
        run(state(ctx), check=check, json_out=json_out)

    root.command("status")(status)
