"""Completion of values on TAB: migration targets, backup files, table names.

Completion runs in a fresh process on every TAB press, before any command
callback: settings come from the root's parsed parameters, and every failure
completes to nothing rather than printing an error into the shell.
"""

from __future__ import annotations

# Typer evaluates the completers' annotations when it builds a command, so
# they name builtins only.


def _settings(ctx: object):
    from aura_db.config import load_settings

    root = ctx.find_root()
    params = root.params or {}
    flags = {"url": params.get("db"), "migrations": params.get("migrations"),
             "backup_dir": params.get("backup_dir")}
    return load_settings(flags, config=params.get("config"))


# The file-name rule of aura_db.migrations.FILE_RE.  Completion lists names
# only; importing the runner (and hashing every file, as discover() does)
# would cost a third of each TAB press.  tests/test_completion.py checks that
# both list the same names.
_MIGRATION_FILE = r"^(\d{3,})_([A-Za-z0-9_]+)\.py$"


def migration_names(folder: object) -> list[str]:
    """The numbered migration modules of ``folder``, in order, by name."""
    import re

    pattern = re.compile(_MIGRATION_FILE)
    found = []
    for path in folder.iterdir():
        m = pattern.match(path.name)
        if m and path.is_file():
            found.append((int(m.group(1)), path.stem))
    return [name for _, name in sorted(found)]


def complete_migration_target(ctx: object, incomplete: str) -> list[str]:
    try:
        names = migration_names(_settings(ctx).migrations_dir)
    except Exception:  # noqa: BLE001 - never break the shell
        return []
    out = [n for n in names if n.startswith(incomplete)]
    out += [n.split("_", 1)[0] for n in names if n.split("_", 1)[0].startswith(incomplete) and incomplete]
    return sorted(set(out))


def _given(ctx: object, names: tuple[str, ...]) -> bool:
    """Whether the command line being completed gives one of the command's parameters ``names``.

    Typer hands the completer the command's context, whose params hold what
    was parsed so far.
    """
    try:
        params = ctx.params if ctx.find_root() is not ctx else {}
        return any(params.get(name) not in (None, False) for name in names)
    except Exception:  # noqa: BLE001 - never break the shell
        return False


def complete_rollback_target(ctx: object, incomplete: str) -> list[str]:
    # TARGET, --steps and --all are three ways to say how far: with one of
    # the options given, a TARGET is an error, so none is offered.
    if _given(ctx, ("all_", "steps")):
        return []
    return complete_migration_target(ctx, incomplete)


def complete_backup_file(ctx: object, incomplete: str) -> list[str]:
    try:
        folder = _settings(ctx).backup_path
        names = sorted(
            (p.name for p in folder.iterdir()
             if p.name.startswith("aura_backup_") and not p.name.endswith(".json")),
            reverse=True,
        )
    except Exception:  # noqa: BLE001
        return []
    return [n for n in ["latest", *names] if n.startswith(incomplete)]


# A TAB press waits this long for the database before it completes from the
# models instead: an unreachable server must not hang the shell for the
# driver's connect timeout.
TABLE_LOOKUP_SECONDS = 2.0


def _live_tables(ctx: object) -> list[str]:
    from aura_db.engines.registry import engine_for, parse_url

    s = _settings(ctx)
    # The reader `status` uses: on SQLite the sqlite3 module reads
    # sqlite_master, where opening the database through peewee would import
    # peewee (and the server drivers it finds) on every TAB press.
    reader = engine_for(parse_url(s.url, cwd=s.cwd)).reader()
    try:
        return reader.tables()
    finally:
        reader.close()


def _as_typed(name: str, incomplete: str) -> str | None:
    """``name`` spelled to start with exactly ``incomplete``; None if it does not complete it.

    Click and Typer keep only the values that start with exactly the word
    typed, while a table name matches in any case (`inspect table
    projectstates` finds ProjectStates): `s` completes SceneStates as
    `scenestates`, `SC` as `SCENESTATES`.
    """
    if name.startswith(incomplete):
        return name
    if not name.lower().startswith(incomplete.lower()):
        return None
    if incomplete == incomplete.lower():
        return name.lower()
    if incomplete == incomplete.upper():
        return name.upper()
    return incomplete + name[len(incomplete):]


def complete_table_name(ctx: object, incomplete: str) -> list[str]:
    import threading

    found: list[list[str]] = []

    def look() -> None:
        try:
            found.append(_live_tables(ctx))
        except Exception:  # noqa: BLE001 - fall back to the models below
            pass

    # A daemon thread: if the server does not answer in time, the completion
    # process answers from the models and exits without waiting for it.
    worker = threading.Thread(target=look, daemon=True)
    worker.start()
    worker.join(TABLE_LOOKUP_SECONDS)
    if found:
        tables = found[0]
    else:
        try:
            from aura_db.models.schema import TABLES

            tables = list(TABLES)
        except Exception:  # noqa: BLE001
            return []
    return sorted({shown for shown in (_as_typed(t, incomplete) for t in tables) if shown is not None})
