"""What every command shares: settings, consoles, confirmation, JSON output, failures.

Only the cli package imports typer and rich, and this module imports neither
at import time: ``status`` and TAB completion load it and must stay quick
(tests/test_startup.py), and rich is imported when something is printed.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from aura_db.errors import AuraError, CheckFailed, Interrupted, Refused

if TYPE_CHECKING:
    import typer
    from rich.console import Console

    from aura_db.config import Settings
    from aura_db.db import Engine


_ANSI = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}


@dataclass
class AppState:
    """The root callback's global options, handed to every command as ctx.obj."""

    flags: dict[str, Any]
    config: str | None = None
    verbose: bool = False
    quiet: bool = False
    no_color: bool = False
    # The command answers with one JSON document (its --json was given).
    json: bool = False
    # What the command made before it might stop (e.g. "backup": a safety
    # backup's path): fields of the --json document of a failure.
    made: dict[str, Any] = field(default_factory=dict)
    _doc: Any = field(default=None, repr=False)
    _has_doc: bool = field(default=False, repr=False)
    _warned: set[str] = field(default_factory=set, repr=False)
    _settings: "Settings | None" = field(default=None, repr=False)
    _explained: bool = field(default=False, repr=False)
    _out: "Console | None" = field(default=None, repr=False)
    _err: "Console | None" = field(default=None, repr=False)

    # -- settings ----------------------------------------------------------
    @property
    def settings(self) -> "Settings":
        """The settings this command runs with: the global ones, or what ``settings_with`` derived."""
        if self._settings is None:
            self._settings = self._global_settings()
        self._explain()
        return self._settings

    def settings_with(self, **overrides: Any) -> "Settings":
        """The global settings with this command's own flags on top (None: the flag was not given).

        Called by a command before anything else reads the settings, so that
        ``-v`` explains the values the command really uses.
        """
        base = self._settings if self._settings is not None else self._global_settings()
        self._settings = base.with_overrides(**overrides)
        self._explain()
        return self._settings

    def _global_settings(self) -> "Settings":
        from aura_db.config import load_settings

        settings = load_settings(self.flags, config=self.config)
        for warning in settings.warnings:
            self.warn(warning)
        return settings

    def _explain(self) -> None:
        """Under -v, once: the settings file and every setting's value and source."""
        if not self.verbose or self._explained or self._settings is None:
            return
        self._explained = True
        if self._settings.config_file:
            self.note(f"settings file: {self._settings.config_file}")
        for line in self._settings.explain():
            self.note(line)

    def engine(self) -> "Engine":
        from aura_db.engines.registry import (ENGINES, SCHEMA_PARAMETER, check_url_parameters, engine_for, parse_url,
                                             with_schema)

        s = self.settings
        url = parse_url(s.url, cwd=s.cwd)  # a file engine's URL is parsed without peewee
        if ENGINES[url.engine].features.database_is_a_file:
            _skip_server_drivers()  # a database in a file never connects to a server
        check_url_parameters(url)
        where = s.sources.get("schema", "the settings")
        url = with_schema(url, s.schema, where)
        engine = engine_for(url)
        if s.direct_url:  # the server's own URL, for the dump tools behind a pooler
            direct = parse_url(s.direct_url, cwd=s.cwd)
            if direct.engine != url.engine:
                from aura_db.errors import UsageError

                raise UsageError(f"direct_url {direct.redacted} is not a {url.engine} URL like url",
                                 hint="give direct_url the same database, reached without the pooler")
            check_url_parameters(direct)
            # pg_dump dumps the schema the URL works in (its own ?schema= or the setting).
            engine.direct_url = with_schema(direct, url.params.get(SCHEMA_PARAMETER), where)
        return engine

    # -- terminals and consoles -------------------------------------------
    @property
    def interactive(self) -> bool:
        """A person can answer a prompt: stdin is a terminal."""
        return sys.stdin.isatty()

    @property
    def stderr_is_terminal(self) -> bool:
        """stderr is a real terminal: the condition for progress bars and other live displays.

        Not rich's ``Console.is_terminal``, which FORCE_COLOR (or TTY_COMPATIBLE)
        makes true on a pipe: that asks for colour, and a progress bar
        redrawn into a CI log or a file is never wanted.
        """
        return is_terminal(sys.stderr)

    @property
    def stdout_is_terminal(self) -> bool:
        """stdout is a real terminal (see ``stderr_is_terminal``)."""
        return is_terminal(sys.stdout)

    @property
    def colour_off(self) -> bool:
        """--no-color, or the NO_COLOR convention (any non-empty value)."""
        return self.no_color or bool(os.environ.get("NO_COLOR"))

    def colour(self, stream: Any) -> bool:
        """Colour on ``stream``: only a terminal, and only when nobody said no.

        FORCE_COLOR (any non-empty value) asks for colour without a terminal,
        as rich's consoles also honour it; NO_COLOR and --no-color win.
        """
        if self.colour_off or os.environ.get("TERM") == "dumb":
            return False
        if os.environ.get("FORCE_COLOR"):
            return True
        try:
            return stream.isatty()
        except (AttributeError, ValueError):  # replaced or closed streams
            return False

    def paint(self, text: str, colour: str, *, stream: Any = None) -> str:
        """``text`` in a basic ANSI colour when ``stream`` (stdout) shows colour.

        For the short human lines that do not need rich: importing rich's
        console costs more start-up time than ``aura-db status`` itself.
        """
        code = _ANSI.get(colour)
        if code is None or not self.colour(stream if stream is not None else sys.stdout):
            return text
        return f"\x1b[{code}m{text}\x1b[0m"

    @property
    def width(self) -> int:
        """The columns human output may use (cli.md, Output): a terminal's width, else COLUMNS, else 80."""
        return output_width(sys.stdout)

    def _console(self, stderr: bool) -> "Console":
        no_color = self.colour_off
        # soft_wrap: long lines (SQL, paths) are printed whole, never folded
        # into something a shell or psql would read differently.
        # No colour means no escapes at all: rich's no_color still writes bold
        # and italic, which garble logs and `less` as much as colour does.
        extra: dict[str, Any] = {"color_system": None} if no_color else {}
        stream = sys.stderr if stderr else sys.stdout
        if not is_terminal(stream):
            extra["width"] = output_width(stream)  # COLUMNS, else 80: what a pipe or a log gets
        return _console_class()(stderr=stderr, no_color=no_color, highlight=False, soft_wrap=True, **extra)

    @property
    def out(self) -> "Console":
        if self._out is None:
            self._out = self._console(stderr=False)
        return self._out

    @property
    def err(self) -> "Console":
        if self._err is None:
            self._err = self._console(stderr=True)
        return self._err

    def note(self, message: str) -> None:
        """A note on stderr; --quiet silences it.

        Written directly rather than through rich: a note is one plain line,
        and commands that only print notes should not pay for rich's import.
        """
        if not self.quiet:
            sys.stderr.write(message + "\n")
            sys.stderr.flush()

    def warn_once(self, message: str) -> None:
        """A warning from the core (aura_db.errors.notify): each said once per command."""
        if message not in self._warned:
            self._warned.add(message)
            self.warn(message)

    def warn(self, message: str) -> None:
        if not self.quiet:
            sys.stderr.write(self.paint(f"warning: {message}", "yellow", stream=sys.stderr) + "\n")
            sys.stderr.flush()

    def emit_json(self, doc: Any) -> None:
        """The command's JSON document; ``finish`` writes it, once the command's outcome is known.

        A command may still fail after its report (``verify`` exits 3 on a
        failing check): the one document on stdout then says so too.
        """
        self.json = True
        self._doc = doc
        self._has_doc = True

    def confirm(self, question: str, *, yes: bool, what: str) -> None:
        """Go on only with --yes or a person's yes; else Refused (exit 6)."""
        if yes:
            return
        if not self.interactive:
            raise Refused(f"{what} needs confirmation: no terminal to ask on", hint="pass --yes to go ahead")
        import typer

        try:
            confirmed = typer.confirm(question, default=False, err=True)
        except typer.Abort as exc:
            if isinstance(exc.__context__, KeyboardInterrupt):  # Ctrl-C: interrupted (130), not a "no"
                raise exc.__context__ from None
            sys.stderr.write("\n")  # end of input (Ctrl-D): the prompt's line is still open
            confirmed = False
        if not confirmed:
            raise Refused(f"{what}: not confirmed, nothing changed")

    def progress(self, description: str) -> Callable[[str, str], None] | None:
        """A progress callback printing one line per step on stderr (not in --quiet)."""
        if self.quiet:
            return None

        def on_progress(action: str, name: str) -> None:
            verb = {"apply": "applying", "rollback": "rolling back"}.get(action, action)
            self.note(f"{verb} {name}")

        return on_progress


# Set by the entry point (aura_db.cli.app.main): this process is one aura-db
# command, talking to the one database its settings name.
ONE_COMMAND_PROCESS = False

# Modules peewee (and playhouse) import at start-up if they are installed.
_SERVER_DRIVERS = ("psycopg2", "psycopg2cffi", "psycopg", "pymysql", "MySQLdb", "mysql", "mariadb")


def _skip_server_drivers() -> None:
    """Keep peewee from importing the PostgreSQL and MySQL drivers.

    peewee imports every driver it finds when it is imported, SQLite or not:
    psycopg2 and PyMySQL cost more start-up time than ``aura-db status``
    itself.  A process that runs one command against a SQLite database never
    connects to a server, so there they are marked absent (peewee and
    playhouse treat an ImportError as "not installed").  Only in a real
    aura-db process, never in one that may go on to open other databases
    (tests, a program using the CLI), and only before peewee is loaded.
    """
    if not ONE_COMMAND_PROCESS or "peewee" in sys.modules:
        return
    for name in _SERVER_DRIVERS:
        sys.modules.setdefault(name, None)  # type: ignore[assignment]


DEFAULT_COLUMNS = 80


def output_width(stream: Any) -> int:
    """Columns for human output on ``stream``: a terminal's own width, else ``COLUMNS``, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if is_terminal(stream):
        try:
            return os.get_terminal_size(stream.fileno()).columns or columns or DEFAULT_COLUMNS
        except (OSError, ValueError, AttributeError):
            pass
    return columns if columns >= 20 else DEFAULT_COLUMNS


def is_terminal(stream: Any) -> bool:
    """``stream`` is a real terminal (``os.isatty`` of its descriptor), whatever the environment says."""
    try:
        return os.isatty(stream.fileno())
    except (AttributeError, ValueError, OSError):  # replaced (tests), closed or descriptor-less streams
        return False


_CONSOLE_CLASS: Any = None


def _console_class() -> Any:
    """rich's Console, reporting a closed pipe as BrokenPipeError.

    rich's own answer to a reader that went away (``aura-db inspect | head``)
    is ``SystemExit(1)``: a failure, which it was not.  Raised instead, it
    reaches ``failure_code`` like any other write's, which ends the command
    quietly (``broken_pipe``).
    """
    global _CONSOLE_CLASS
    if _CONSOLE_CLASS is None:
        import errno

        from rich.console import Console

        class AuraConsole(Console):
            def on_broken_pipe(self) -> None:
                self.quiet = True  # nothing more to write there
                raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

        _CONSOLE_CLASS = AuraConsole
    return _CONSOLE_CLASS


def app_state(params: dict[str, Any]) -> AppState:
    """The AppState of the root's global options, as the parser left them."""
    from aura_db import errors

    flags = {"url": params.get("db"), "migrations": params.get("migrations"), "backup_dir": params.get("backup_dir")}
    app = AppState(flags=flags, config=params.get("config"), verbose=bool(params.get("verbose")),
                   quiet=bool(params.get("quiet")), no_color=bool(params.get("no_color")))
    errors.WARNING_SINKS[:] = [app.warn_once]  # this command's stderr hears the core's warnings
    return app


# The last error line written, with its hint: the "error" of a --json failure document.
_last_error: list[str | None] = [None, None]


def one_line(text: str) -> str:
    """``text`` on one line: an error is one line on stderr, whatever its source put in it."""
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())


def error_line(message: str, hint: str | None = None) -> None:
    message = one_line(message)
    hint = one_line(hint) if hint else hint
    _last_error[:] = [message, hint]
    sys.stderr.write(f"error: {message}\n")
    if hint:
        sys.stderr.write(f"hint: {hint}\n")
    sys.stderr.flush()


# Exit codes of the contract that no AuraError carries.
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, what a shell reports for a process SIGINT ended)
# stdout's reader went away (`aura-db inspect | head -1`): 128 + SIGPIPE,
# what the shell reports for cat, grep and every tool SIGPIPE ends.  Not 0:
# the output was not all delivered, and `set -o pipefail` scripts treat
# aura-db exactly as they treat those tools.
BROKEN_PIPE = 141


def is_broken_pipe(exc: BaseException) -> bool:
    """``exc`` is EPIPE from writing to stdout or stderr, whose reader went away.

    Not any EPIPE: one from a pipe to a client tool (psql, pg_dump) that
    died is a failure to report like any other.
    """
    import errno

    if not (isinstance(exc, BrokenPipeError) or (isinstance(exc, OSError) and exc.errno == errno.EPIPE)):
        return False
    return any(_reader_gone(stream) for stream in (sys.stdout, sys.stderr))


def _reader_gone(stream: Any) -> bool:
    """The pipe (or socket) ``stream`` writes to has no reader left: poll says POLLERR or POLLHUP."""
    try:
        import select

        poller = select.poll()
        poller.register(stream.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, ValueError, OSError):  # no poll (Windows), replaced or closed streams
        return False


def broken_pipe() -> int:
    """End quietly after the reader of stdout went away: no message, no traceback.

    Whatever is still buffered for stdout goes to /dev/null, so that Python's
    flush at exit does not print "Exception ignored ... BrokenPipeError".
    (Python's documented recipe, docs.python.org/3/library/signal.html#note-on-sigpipe.)
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
    return BROKEN_PIPE


def interrupted(exc: BaseException) -> int:
    """Report Ctrl-C in one line (two with a hint); exit 130.

    When it came while a migration (or its rollback) ran, the core raised
    ``Interrupted``, whose message says what became of that migration:
    rolled back with its transaction, or, where DDL commits as it goes
    (MySQL), how much of it the server had committed.
    """
    try:
        if is_terminal(sys.stderr):
            sys.stderr.write("\n")  # after the ^C the terminal echoed
        if isinstance(exc, Interrupted):
            error_line(exc.message, exc.hint)
        else:
            error_line("interrupted")
    except Exception:  # noqa: BLE001 - stderr itself may be gone; the exit code still says it
        pass
    return INTERRUPTED


def write_json(doc: Any) -> None:
    """One JSON document on stdout."""
    import json

    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
    sys.stdout.flush()


def finish(app: "AppState | None", exc: BaseException | None = None, *, verbose: bool = False,
           reported: tuple[int, str | None, str | None] | None = None) -> int:
    """The one place a command's outcome becomes output and an exit code.

    Success: the command's JSON document (an object gets ``"ok": true``),
    exit 0.  Failure: the one line on stderr (``failure_code``) and, when the
    command answers in JSON, one document on stdout all the same: ``"ok":
    false``, ``"error"`` (the stderr line, without its ``error: ``),
    ``"exit_code"``, the hint, and whatever was made before it stopped (the
    error's ``details``, what the CLI recorded in ``app.made``), merged into
    the command's own report when it had made one (``reported``: the code
    and line of an error already written).  A report that is a list
    (``backup verify --all``) is written as it is: each entry says ``ok``.
    """
    code = 0
    message = hint = None
    if reported is not None:  # the line is on stderr already (the parser's errors)
        code, message, hint = reported
    elif exc is not None:
        code, message, hint = _report_failure(exc, verbose=verbose)
    if app is None or not app.json or code == BROKEN_PIPE:
        return code
    doc = app._doc if app._has_doc else None
    if exc is None:
        if not app._has_doc:
            return code
        if isinstance(doc, dict) and "ok" not in doc:
            doc = {"ok": True, **doc}
    elif not isinstance(doc, list):
        failed: dict[str, Any] = {"ok": False, "error": message, "exit_code": code}
        if hint:
            failed["hint"] = hint
        extra = {**app.made, **_made_before(exc)}
        for key, value in {**extra, **(doc or {})}.items():
            failed.setdefault(key, value)
        doc = failed
    try:
        write_json(doc)
    except (OSError, ValueError) as write_error:
        if isinstance(write_error, OSError) and is_broken_pipe(write_error):
            return broken_pipe()
        raise
    return code


def _made_before(exc: BaseException) -> dict[str, Any]:
    """The partial results an error carries: an AuraError's details (an interrupted run's too) and,
    for a failed check, the fields of the result it carries (adopt's plan on a schema that differs)."""
    made = dict(getattr(exc, "details", None) or {})  # an AuraError's; what core attached to another
    result = getattr(exc, "result", None)
    if isinstance(exc, CheckFailed) and hasattr(result, "to_dict"):
        made = {**result.to_dict(), **made}
    return made


def failure_code(exc: BaseException, *, verbose: bool) -> int:
    """Report a command's failure in one line (two with a hint); its exit code (see ``_report_failure``)."""
    return _report_failure(exc, verbose=verbose)[0]


def _report_failure(exc: BaseException, *, verbose: bool) -> tuple[int, str | None, str | None]:
    """Report a command's failure in one line (two with a hint); its exit code.

    An ``AuraError`` says what went wrong and carries its code; anything
    unexpected is one line and exit 1, with the traceback only under
    --verbose.  Ctrl-C is "interrupted" (exit 130); end of input where a
    person should have answered is "aborted" (exit 6, refused); a reader of
    stdout that went away ends the command quietly (exit 141).
    """
    import traceback

    _last_error[:] = [None, None]
    if isinstance(exc, (KeyboardInterrupt, Interrupted)):
        return interrupted(exc), *_last_error
    if is_broken_pipe(exc):
        return broken_pipe(), None, None
    if isinstance(exc, EOFError):
        sys.stderr.write("\n")
        error_line("aborted, nothing changed")
        return 6, *_last_error
    if verbose:
        traceback.print_exception(exc)
    if isinstance(exc, AuraError):
        error_line(exc.message, exc.hint)
        return exc.exit_code, *_last_error
    text = str(exc).strip().splitlines()
    error_line(
        f"{type(exc).__name__}: {text[0] if text else 'unexpected failure'}",
        None if verbose else "run with --verbose for the traceback",
    )
    return 1, *_last_error


def state(ctx: "typer.Context") -> AppState:
    obj = ctx.find_object(AppState)
    if obj is None:  # a command invoked without the root callback (tests)
        obj = AppState(flags={})
        ctx.obj = obj
    if ctx.params.get("json_out"):  # from here on, a failure is a JSON document too (finish)
        obj.json = True
    return obj
