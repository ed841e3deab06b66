"""The root of the command line: global options, command groups, exit codes.

(``aura_db.cli.app`` is the entry point; it imports this module for every
invocation except a bare ``aura-db --version``.)

``AuraGroup`` is the one place where exceptions become exit codes: an
``AuraError`` becomes ``error: ...`` on stderr and its code; a usage error
from the parser becomes one line and exit 2; anything unexpected becomes one
line and exit 1, with the traceback only under ``--verbose``.
"""

# No `from __future__ import annotations` here: Typer reads these signatures
# at start-up, and string annotations cost a compile() each.

import sys
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, Optional

import typer
from typer.core import TyperGroup

from aura_db import __version__
from aura_db.cli.common import app_state, error_line, failure_code, finish, is_broken_pipe

_verbose = False


# The commands in the order of the contract (a day's work).  A command NAME
# lives in ``aura_db/cli/NAME.py``, whose ``register(app)`` adds it to a Typer
# app; a name whose module is not part of this build is simply not offered.
ORDER = ["migrate", "rollback", "status", "script", "backup", "restore", "seed", "verify", "inspect", "adopt",
         "copy", "purge", "optimize"]


def _available(name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(f"aura_db.cli.{name}") is not None


def _registered(name: str) -> typer.Typer:
    """A Typer app holding what ``aura_db/cli/NAME.py`` registers."""
    import importlib

    module = importlib.import_module(f"aura_db.cli.{name}")
    # The same settings the root passes down to everything it builds: plain
    # (not rich) help, no pretty exceptions.
    holder = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)
    module.register(holder)
    return holder


def _load_command(name: str) -> dict[str, Any]:
    """Import one command module and build its click command(s)."""
    import typer.main

    commands = dict(typer.main.get_group(_registered(name)).commands)
    for command in commands.values():
        example_last(command, recursive=True)
    return commands


def _closing_example(text: str | None) -> tuple[str, str | None]:
    """``text`` without its closing "Example: ..." and that example (None if none)."""
    text = (text or "").rstrip()
    at = text.rfind("Example:")
    if at < 0 or (at > 0 and not text[at - 1].isspace()):
        return text, None
    return text[:at].rstrip(), text[at:]


def example_last(command: Any, *, recursive: bool = False) -> None:
    """Show a command's example after its options, as the last thing --help prints.

    Each command's help text closes with "Example: ..."; click would print it
    before the options and rewrap it mid-command.  It becomes the epilog,
    kept on its own lines (click's ``\b``).  A group whose help text is set
    on its Typer app (so its callback's docstring is not shown) takes the
    example from that docstring: running the group runs the callback.
    """
    head, example = _closing_example(command.help)
    if example is None:
        _, example = _closing_example(_doc(getattr(command, "callback", None)))
    if example is not None and not command.epilog:
        if head:
            command.help = head
        command.epilog = "\b\n" + "\n".join(" ".join(line.split()) for line in example.splitlines())
    if recursive:
        for sub in getattr(command, "commands", {}).values():
            example_last(sub, recursive=True)


def _doc(callback: Any) -> str | None:
    import inspect

    return inspect.getdoc(callback) if callback is not None else None


def _summaries(name: str) -> dict[str, Any]:
    """Stand-ins carrying only what a command list shows: name, help, hidden.

    Building a real command means inspecting every parameter; the root's
    ``--help`` lists nine commands and runs none, so it reads the help the
    way Typer resolves it (tests/test_help.py checks the two agree).
    """
    import inspect

    import typer.main
    from typer.core import TyperCommand

    holder = _registered(name)
    out: dict[str, Any] = {}
    for info in holder.registered_commands:
        cmd_name = info.name or typer.main.get_command_name(info.callback.__name__)
        doc = inspect.cleandoc(info.help) if info.help is not None else inspect.getdoc(info.callback)
        out[cmd_name] = TyperCommand(cmd_name, help=doc, short_help=info.short_help,
                                     hidden=info.hidden, deprecated=info.deprecated)
    for group in holder.registered_groups:
        solved = typer.main.solve_typer_info_defaults(group)
        out[solved.name] = TyperCommand(solved.name, help=solved.help, short_help=solved.short_help,
                                        hidden=solved.hidden, deprecated=solved.deprecated)
    return out


class LazyCommands(MutableMapping):
    """The root's command table, building a command only when it is looked up.

    Every process builds the click command it runs, not all of them: Typer
    otherwise inspects every command's signature at start-up, and a TAB press
    or a CI step would pay for commands it never runs.  The root's ``--help``
    lists stand-ins (``for_listing``); completing a command name builds them
    all, since click asks each one for its help there.
    """

    def __init__(self, eager: Mapping[str, Any]):
        self._loaded: dict[str, Any] = dict(eager)
        self._names: list[str] | None = None

    def _known(self) -> list[str]:
        if self._names is None:
            self._names = [n for n in ORDER if _available(n)]
        return [*self._names, *(n for n in self._loaded if n not in self._names)]

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded and name in self._known():
            self._loaded.update(_load_command(name))
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]
        if self._names and name in self._names:
            self._names.remove(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._known())

    def __len__(self) -> int:
        return len(self._known())

    def __contains__(self, name: object) -> bool:
        return name in self._loaded or name in self._known()

    def for_listing(self, name: str) -> Any:
        """The command if built, else a stand-in good for a help listing."""
        if name in self._loaded:
            return self._loaded[name]
        if name not in self._known():
            return None
        return _summaries(name).get(name)


class AuraGroup(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        example_last(self)  # the root's own; each command's when it is built
        self.commands = LazyCommands(self.commands)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # TyperGroup.format_commands, reading summaries without building
        # every command (see LazyCommands.for_listing).
        commands = []
        for name in self.list_commands(ctx):
            cmd = self.commands.for_listing(name)
            if cmd is not None and not cmd.hidden:
                commands.append((name, cmd))
        if commands:
            limit = formatter.width - 6 - max(len(name) for name, _ in commands)
            with formatter.section("Commands"):
                formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in commands])

    def list_commands(self, ctx: Any) -> list[str]:
        # Names only: listing must not build every command.
        names = list(self.commands)
        return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        # The root's own parsing, where --help and --version print: Ctrl-C
        # and a closed stdout end it as they end a command (failure_code),
        # not as Typer would (exit 130 in silence; exit 1).
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt as exc:
            raise typer.Exit(failure_code(exc, verbose=False)) from None
        except OSError as exc:
            if not is_broken_pipe(exc):
                raise
            raise typer.Exit(failure_code(exc, verbose=False)) from None

    def invoke(self, ctx: Any) -> Any:
        # finish(): the one place where the outcome becomes stdout's JSON
        # document (on failure too), stderr's line and the exit code.
        words = [*getattr(ctx, "_protected_args", []), *ctx.args]
        words = words[: words.index("--")] if "--" in words else words
        asked_json = "--json" in words  # also for a failure before the command read its options
        try:
            rv = super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt as exc:  # Ctrl-C: "error: interrupted", exit 130
            raise typer.Exit(finish(_app_of(ctx, json=asked_json), exc, verbose=_verbose)) from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            from typer._click.exceptions import ClickException

            if isinstance(exc, ClickException):  # the parser's own errors: main() shows them
                raise
            raise typer.Exit(finish(_app_of(ctx, json=asked_json), exc, verbose=_verbose)) from None
        code = finish(_app_of(ctx))
        if code:
            raise typer.Exit(code)
        return rv

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
            error_line(exc.format_message(), hint)
            code = exc.exit_code
            app = _app_of(ctx) if ctx is not None else None
            if app is not None and (ctx.params.get("json_out") or _asks_json(args, kwargs)):
                app.json = True
                finish(app, exc, reported=(code, exc.format_message(), hint))
        except typer.Abort as exc:
            # click turns Ctrl-C and end of input at a prompt into Abort; the
            # first is "interrupted" (130), the second a refusal (6).
            if isinstance(exc.__context__, KeyboardInterrupt):
                code = failure_code(exc.__context__, verbose=False)
            else:
                error_line("aborted, nothing changed")
                code = 6
        if standalone_mode:
            sys.exit(code)
        return code


def _asks_json(args: tuple, kwargs: dict) -> bool:
    """Whether the command line holds --json, also after the value the parser refused."""
    argv = kwargs.get("args", args[0] if args else None)
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" in argv:
        argv = argv[: argv.index("--")]
    return "--json" in argv


def _app_of(ctx: Any, *, json: bool = False) -> Any:
    from aura_db.cli.common import AppState

    app = ctx.find_object(AppState)
    if app is not None and json:
        app.json = True
    return app


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


def _version(ctx: typer.Context, value: bool) -> None:
    # Not while completing: a TAB after --version must complete, not print.
    if value and not ctx.resilient_parsing:
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
        help="Settings file; default ./aura-db.toml if present [env AURA_DB_CONFIG].",
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
    ctx.obj = app_state(ctx.params)

