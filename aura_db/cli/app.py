"""The entry point of ``aura-db``: everything lives in ``aura_db.cli.root``.

This module stays small and imports nothing heavy, so that ``aura-db
--version`` alone (CI logs it, scripts check it) answers without loading the
CLI framework: Typer's import is most of aura-db's start-up time.  Every
other invocation, and every attribute (``app``, ``AuraGroup``, ...), comes
from ``aura_db.cli.root``.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from aura_db import __version__

        # The same line as the --version option of aura_db.cli.root.
        sys.stdout.write(f"aura-db {__version__}\n")
        sys.stdout.flush()
        return
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
