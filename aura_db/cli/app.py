"""The root of the command line: global options, command groups, exit codes.

``AuraGroup`` is the one place where exceptions become exit codes: an
``AuraError`` becomes ``error: ...`` on stderr and its code; a usage error
from the parser becomes one line and exit 2; anything unexpected becomes one
line and exit 1, with the traceback only under ``--verbose``.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any, Optional

import typer
from typer.core import TyperGroup

from aura_db import __version__
from aura_db.cli.common import AppState
from aura_db.errors import AuraError

_verbose = False


def _error_line(message: str, hint: str | None = None) -> None:
    sys.stderr.write(f"error: {message}\n")
    if hint:
        sys.stderr.write(f"hint: {hint}\n")
    sys.stderr.flush()


ORDER = ["migrate", "rollback", "status", "script", "backup", "restore", "seed", "verify", "inspect"]


class AuraGroup(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        # The order of the contract (a day's work), not registration order.
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except AuraError as exc:
            if _verbose:
                traceback.print_exc()
            _error_line(exc.message, exc.hint)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            from typer._click.exceptions import ClickException

            if isinstance(exc, ClickException):  # the parser's own errors: main() shows them
                raise
            if _verbose:
                traceback.print_exc()
            text = str(exc).strip().splitlines()
            _error_line(
                f"{type(exc).__name__}: {text[0] if text else 'unexpected failure'}",
                None if _verbose else "run with --verbose for the traceback",
            )
            raise typer.Exit(1) from None

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        from typer._click.exceptions import ClickException, NoArgsIsHelpError

        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
            code = rv if isinstance(rv, int) else 0
        except NoArgsIsHelpError as exc:
            sys.stdout.write(exc.format_message().rstrip("\n") + "\n")
            code = exc.exit_code
        except ClickException as exc:
            hint = None
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                hint = f"see '{ctx.command_path} --help'"
            _error_line(exc.format_message(), hint)
            code = exc.exit_code
        except typer.Abort:
            _error_line("aborted, nothing changed")
            code = 6
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    cls=AuraGroup,
    name="aura-db",
    help="Administer the Aura Video Studio database: migrations, backups, restore, seed, verify, inspect.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"aura-db {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    db: Optional[str] = typer.Option(
        None, "--db", metavar="URL",
        help="Database URL or SQLite file path [env AURA_DB_URL, DATABASE_URL; default sqlite:///aura.db].",
    ),
    migrations: Optional[str] = typer.Option(
        None, "--migrations", metavar="DIR",
        help="Folder of numbered migration modules [env AURA_DB_MIGRATIONS; default: the shipped ones].",
    ),
    backup_dir: Optional[str] = typer.Option(
        None, "--backup-dir", metavar="DIR",
        help="Where backups are written and looked up [env AURA_DB_BACKUP_DIR; default ./backups].",
    ),
    config: Optional[str] = typer.Option(
        None, "--config", metavar="FILE",
        help="Settings file [env AURA_DB_CONFIG; default ./aura-db.toml if present].",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Say where each setting came from; tracebacks on errors."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors (and requested output)."),
    no_color: bool = typer.Option(False, "--no-color", help="No colour (also: the NO_COLOR variable)."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Administer the Aura Video Studio database.

    Example: aura-db --db sqlite:///aura.db migrate
    """
    global _verbose
    _verbose = verbose
    flags = {"url": db, "migrations": migrations, "backup_dir": backup_dir}
    ctx.obj = AppState(flags=flags, config=config, verbose=verbose, quiet=quiet, no_color=no_color)


def _register() -> None:
    from aura_db.cli import migrate, rollback, status

    app.add_typer(migrate.app, name="migrate")
    app.command("rollback")(rollback.rollback)
    app.command("status")(status.status)
    for optional in ("backup", "restore", "seed", "verify", "inspect", "script"):
        _try_register(optional)


def _try_register(name: str) -> None:
    import importlib

    try:
        module = importlib.import_module(f"aura_db.cli.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"aura_db.cli.{name}":
            raise
        return
    module.register(app)


_register()


def main() -> None:
    app()
