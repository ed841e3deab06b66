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
    from aura_db.cli import fast

    code = fast.run(sys.argv[0], sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from aura_db.cli import common
    from aura_db.cli.root import app

    common.ONE_COMMAND_PROCESS = True
    app()


def __getattr__(name: str) -> object:
    if name.startswith("__"):  # the import system probes __path__ and friends
        raise AttributeError(name)
    from aura_db.cli import root

    try:
        return getattr(root, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
