"""SQLite files read as they are: tables, row counts, the applied head, checks, freelist, lock bytes.

What the SQLite backup and restore share; no connection to a live database
is opened here except read-only ones to files nobody else uses.
"""

from __future__ import annotations

import hashlib
import os
import queue
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

from aura_db.backup.files import CHUNK
from aura_db.engines.sqlite.dialect import SqliteDialect

def sqlite_uri(path: str, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"file:{quote(path)}" + (f"?{query}" if query else "")


quote_ident = SqliteDialect().quote


def sqlite_tables(con: sqlite3.Connection) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]


def sqlite_row_counts(con: sqlite3.Connection) -> dict[str, int]:
    return {n: con.execute(f"SELECT count(*) FROM {quote_ident(n)}").fetchone()[0] for n in sqlite_tables(con)}


def sqlite_schema_head(con: sqlite3.Connection) -> str | None:
    from aura_db.tables import head_query

    try:
        row = con.execute(head_query(quote_ident)).fetchone()
    except sqlite3.OperationalError:
        return None  # no history table: nothing applied
    return row[0] if row else None


def check_summary(rows: list[str], limit: int = 3) -> str:
    """PRAGMA quick_check / integrity_check rows as one line: the first findings and how many more.

    A row may hold several findings on lines of its own ("*** in database
    main ***" then one per page): an error is one line on stderr.
    """
    lines = [line.strip() for row in rows for line in str(row).splitlines()]
    lines = [line for line in lines if line and not (line.startswith("***") and line.endswith("***"))]
    shown = "; ".join(lines[:limit])
    return shown + (f" (and {len(lines) - limit} more)" if len(lines) > limit else "")


def check_sqlite_file(path: Path, *, full: bool, pragma: bool = True
                       ) -> tuple[list[str], dict[str, int], str | None]:
    """(problems, row counts, schema head) of a SQLite file nobody else uses.

    ``pragma=False`` leaves out the integrity check (the file's bytes are known
    to have passed one) and only opens it, reads its schema and counts rows.
    """
    # immutable=1: no locks, no journal or WAL lookup - the file is read as it is.
    try:
        con = sqlite3.connect(sqlite_uri(str(path), mode="ro", immutable="1"), uri=True)
    except sqlite3.Error as exc:
        return [f"cannot open the backup as SQLite: {exc}"], {}, None
    try:
        try:
            if pragma:
                check = "integrity_check" if full else "quick_check"
                rows = [r[0] for r in con.execute(f"PRAGMA {check}").fetchall()]
                if rows != ["ok"]:
                    return [f"{check}: " + check_summary(rows)], {}, None
            return [], sqlite_row_counts(con), sqlite_schema_head(con)
        except sqlite3.DatabaseError as exc:
            return [f"not a valid SQLite database: {exc}"], {}, None
    finally:
        con.close()


class Pump:
    """Reads chunks on one thread while the caller hashes, compresses and writes on another.

    hashlib, zstandard and os.write all release the GIL on large buffers, so
    on two cores the read overlaps the rest; memory stays at a few chunks.
    """

    def __init__(self, chunks: Iterator[bytes], depth: int = 4):
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._chunks = chunks
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        try:
            for c in self._chunks:
                while not self._stop.is_set():
                    try:
                        self._q.put(c, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            self._q.put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._q.put(exc)

    def __iter__(self) -> Iterator[bytes]:
        try:
            while True:
                item = self._q.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._stop.set()
            self._t.join()


def pread_chunks(fd: int, total: int) -> Iterator[bytes]:
    off = 0
    while off < total:
        block = os.pread(fd, min(CHUNK, total - off), off)
        if not block:
            break
        off += len(block)
        yield block



def freelist_pages(path: Path, page: int) -> set[int]:
    """The pages on a SQLite file's freelist (trunk and leaf), read from the file (fileformat2 1.5)."""
    pages: set[int] = set()
    with open(path, "rb") as f:
        f.seek(32)
        trunk = int.from_bytes(f.read(4), "big")
        while trunk and trunk not in pages:
            pages.add(trunk)
            f.seek((trunk - 1) * page)
            head = f.read(8)
            if len(head) < 8:
                break
            nxt, count = int.from_bytes(head[:4], "big"), int.from_bytes(head[4:], "big")
            leaves = f.read(4 * min(count, page // 4 - 2))
            pages.update(int.from_bytes(leaves[i:i + 4], "big") for i in range(0, len(leaves), 4))
            trunk = nxt
    return pages


# SQLite's lock bytes (os_unix.c): PENDING, RESERVED, then the 510-byte SHARED range.
SQLITE_PENDING_BYTE = 0x40000000
SQLITE_LOCK_SPAN = 2 + 510


def one_line(rows: list[Any]) -> str:
    """SQLite's check report (rows that carry line breaks of their own) as one line."""
    return "; ".join(" ".join(str(r).split()) for r in rows)


def file_identity(path: Path) -> tuple[int, ...]:
    """What changes when a file is replaced or written to."""
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def is_locked(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def processes_holding(path: str) -> list[int]:
    """Processes (other than this one) with the SQLite file ``path`` or its -wal/-journal open (Linux /proc).

    What restore and optimize refuse on: both need the database alone.
    """
    import contextlib

    targets = set()
    for suffix in ("", "-wal", "-journal"):
        with contextlib.suppress(OSError):
            st = os.stat(path + suffix)
            targets.add((st.st_dev, st.st_ino))
    pids: list[int] = []
    if not targets or not os.path.isdir("/proc"):
        return pids
    me = os.getpid()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            for fd in os.scandir(f"/proc/{entry.name}/fd"):
                try:
                    st = os.stat(fd.path)
                except OSError:
                    continue
                if (st.st_dev, st.st_ino) in targets:
                    pids.append(int(entry.name))
                    break
        except OSError:
            continue
    return pids
