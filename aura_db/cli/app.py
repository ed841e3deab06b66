"""The entry point of ``aura-db``: the fast front first, then Typer.

This module stays small and imports nothing heavy.  ``aura_db.cli.fast``
answers ``--version``, ``--help``, TAB completion and ``status`` without
loading the CLI framework (Typer's import is most of aura-db's start-up
time); everything else, and every attribute (``app``, ``AuraGroup``, ...),
comes from ``aura_db.cli.root``.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from aura_db.cli import fast

        code = fast.run(sys.argv[0], sys.argv[1:])
        if code is None:
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
