"""The entry point of ``aura-db``.

This module stays small and imports nothing heavy: every command line goes
to the Typer app in ``aura_db.cli.root``, which builds only the command it
runs (see ``LazyCommands``) and whose command modules import their database,
rich and driver modules inside the command functions.  Start-up is measured
by benchmarks/startup.py; tests/test_startup.py keeps the imports lean.

One line is answered before Typer is imported: a bare ``aura-db --version``,
which scripts run to see what is installed and which prints exactly what the
root's eager ``--version`` option prints.  Every attribute (``app``,
``AuraGroup``, ...) comes from ``aura_db.cli.root``.
"""

from __future__ import annotations

import os  # already loaded by the interpreter: free
import sys


def main() -> None:
    try:
        if sys.argv[1:] == ["--version"] and "_AURA_DB_COMPLETE" not in os.environ:
            from aura_db import __version__

            sys.stdout.write(f"aura-db {__version__}\n")
            sys.stdout.flush()
            code = 0
        else:
            from aura_db.cli import common
            from aura_db.cli.root import app

            common.ONE_COMMAND_PROCESS = True
            app()  # exits with the command's code
            code = 0
    except KeyboardInterrupt as exc:
        # Ctrl-C anywhere the command's own handling does not see it (while
        # importing, parsing, writing help): "error: interrupted", exit 130.
        from aura_db.cli.common import failure_code

        code = failure_code(exc, verbose=False)
    except OSError as exc:
        from aura_db.cli.common import failure_code, is_broken_pipe

        if not is_broken_pipe(exc):
            raise
        code = failure_code(exc, verbose=False)  # stdout's reader went away: quietly, exit 141
    sys.exit(code)


def __getattr__(name: str) -> object:
    if name.startswith("__"):  # the import system probes __path__ and friends
        raise AttributeError(name)
    from aura_db.cli import root

    try:
        return getattr(root, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
