"""Reading a SQLite file before anything writes to it: the header, the schema, the side files beside it.

A leaf of the SQLite engine: its connection (base.py) and its backup and
restore all probe through here, so a file SQLite cannot read is never opened
read-write (closing such a connection deletes the ``-wal`` beside it).
"""

from __future__ import annotations

import contextlib
import os

from aura_db.errors import DatabaseUnavailable

SQLITE_MAGIC = b"SQLite format 3\x00"
SIDE_FILES = ("-wal", "-journal", "-shm")


def damaged_message(msg: str) -> bool:
    return "not a database" in msg or "malformed" in msg or "encrypted" in msg


def side_files(path: str) -> list[tuple[str, int]]:
    """The ``-wal``/``-journal``/``-shm`` beside ``path`` that exist, with their sizes."""
    found = []
    for suffix in SIDE_FILES:
        with contextlib.suppress(OSError):
            found.append((path + suffix, os.stat(path + suffix).st_size))
    return found


def unreadable_sqlite(path: str, reason: str) -> DatabaseUnavailable:
    """The error for a file SQLite cannot read: what it is, which files hold what, that nothing changed."""
    parts = []
    for side, size in side_files(path):
        if side.endswith("-wal") and size:
            parts.append(f"{os.path.basename(side)} ({size} bytes) holds commits not yet in the database file")
        elif side.endswith("-journal") and size:
            parts.append(f"{os.path.basename(side)} ({size} bytes) holds what an unfinished write needs to undo")
        else:
            parts.append(f"{os.path.basename(side)} ({size} bytes)")
    beside = ("; beside it " + ", ".join(parts) + " - left as they are") if parts else ""
    hint = "nothing was changed; copy the database and its side files together before any repair"
    if parts:
        hint += f" (cp {path}* DIR), or restore a backup with `aura-db restore`"
    else:
        hint += ", or restore a backup with `aura-db restore`"
    error = DatabaseUnavailable(f"{path} is not a SQLite database that SQLite can read ({reason}){beside}",
                                hint=hint)
    error.reason = reason  # type: ignore[attr-defined]
    return error


def probe_sqlite_file(path: str) -> None:
    """Check that SQLite can read ``path`` without writing or removing anything beside it.

    The 100-byte header is read by hand (no SQLite connection at all over a
    file whose header is damaged: not even a ``-shm`` is made), then the
    schema through a read-only connection.  A read-only connection cannot
    roll back a hot journal or open a WAL database in a read-only folder:
    those errors are no verdict, and the caller goes on to read-write.
    """
    import sqlite3

    try:
        with open(path, "rb") as f:
            head = f.read(100)
    except OSError as exc:
        raise DatabaseUnavailable(f"cannot open {path}: {exc.strerror or exc}") from None
    if not head:
        return  # an empty file is an empty database
    if len(head) < 100 or not head.startswith(SQLITE_MAGIC):
        what = "it is shorter than a SQLite header" if len(head) < 100 and head.startswith(SQLITE_MAGIC[:len(head)]) \
            else "its first 16 bytes are not the SQLite header"
        raise unreadable_sqlite(path, what)
    from urllib.parse import quote

    try:
        con = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, timeout=0.1)
    except sqlite3.Error:
        return
    try:
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        if damaged_message(str(exc)):
            raise unreadable_sqlite(path, str(exc)) from None
    finally:
        con.close()
