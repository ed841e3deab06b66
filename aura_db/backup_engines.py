"""How each engine takes, checks and puts back a backup: one class per engine.

``aura_db.backup`` owns files, manifests and the order of the steps; the
classes here own what only an engine knows.  ``for_engine(engine)`` picks the
class by ``engine.name``; nothing else branches on it.

Every class offers:

* ``check_source()`` / ``source_exists()``
* ``snapshot(writer, folder, on_progress) -> Snapshot``: stream a consistent
  snapshot into ``writer`` (hashing, compressing) and say what it holds
* ``check_content(path, manifest, full=, scratch_dir=, on_progress=)``:
  the engine's own check of a backup whose checksum already matched
* ``stage(path, manifest)``, ``live_summary()``, ``replace(staged, take_safety)``,
  ``discard(staged)``, ``safety_snapshot(folder)``: the steps of a restore
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import re
import shutil
import sqlite3
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator
from urllib.parse import quote

from aura_db.backup import DatabaseInUse
from aura_db.errors import AuraError, BackupRejected, CheckFailed, DatabaseUnavailable, UsageError

if TYPE_CHECKING:
    from aura_db.backup import HashingWriter, Manifest, Progress
    from aura_db.db import Engine

CHUNK = 1 << 20
# A stepwise backup restarts whenever another process writes.  After this many
# restarts it is finished in one step, which holds the read lock to the end
# and therefore terminates, however busy the writers are.
MAX_RESTARTS = 3
BACKUP_STEP_PAGES = 1024
IN_USE_TIMEOUT_S = 2.0


@dataclass
class Snapshot:
    row_counts: dict[str, int]
    schema_head: str | None
    server_version: str | None = None
    row_counts_exact: bool = True
    warnings: list[str] = field(default_factory=list)
    # The check the backup's own bytes passed as it was taken ("quick_check"),
    # or None: not checked, or failed (then ``warnings`` says so).
    content_check: str | None = None


def for_engine(engine: "Engine") -> "EngineBackup":
    return ENGINE_BACKUPS[engine.name](engine)


def checker_for(engine_name: str, server: "Engine | None") -> "EngineBackup":
    """The class that checks a backup of ``engine_name``; ``server`` is where a full check may restore."""
    cls = ENGINE_BACKUPS.get(engine_name)
    if cls is None:
        raise CheckFailed(f"unknown engine {engine_name!r} in the manifest")
    if server is not None and server.name == engine_name:
        return cls(server)
    return cls(None)


class EngineBackup:
    suffix = ".bak"
    # live_summary() may run while stage() copies and checks (it only reads
    # the live database): on a cold page cache its reads then overlap the
    # staging instead of following it.
    summary_while_staging = False

    def __init__(self, engine: "Engine | None"):
        self.engine = engine

    def check_source(self) -> None:
        raise NotImplementedError

    def source_exists(self) -> bool:
        raise NotImplementedError

    def snapshot(self, writer: "HashingWriter", folder: Path, on_progress: "Progress | None") -> Snapshot:
        raise NotImplementedError

    def archive_compression(self, compression: str) -> str | None:
        """The compression the engine's own dump format applies for ``compression``, or None.

        When not None the dump compresses itself and the file is stored as
        the dump tool wrote it (no outer ``.gz``/``.zst``): its readers
        (pg_restore) read it directly, and wrapping compressed data again
        only makes it larger.
        """
        return None

    def check_content(self, path: Path, manifest: "Manifest", *, full: bool, scratch_dir: Path,
                      on_progress: "Progress | None") -> tuple[list[str], list[str]]:
        raise NotImplementedError

    def stage(self, path: Path, manifest: "Manifest", on_progress: "Progress | None") -> Any:
        raise NotImplementedError

    def live_summary(self) -> tuple[bool, str | None, dict[str, int] | None]:
        raise NotImplementedError

    # Set by replace() the instant the live database has been replaced: a
    # KeyboardInterrupt after it must not be reported as "nothing changed".
    swapped = False

    def check_target(self) -> None:
        """Raise when the database cannot be restored into at all (before any work is done)."""

    def preflight(self) -> None:
        """Raise every refusal that does not need the backup: in use, read-only, not writable.

        Called before anything is staged or backed up, so that a restore that
        cannot happen leaves no safety backup behind; replace() checks again
        at the swap.
        """

    def restore_caveats(self) -> list[str]:
        """What the operator should know before saying yes to a restore on this engine."""
        return []

    def replace(self, staged: Any, take_safety: Callable[[], None], *, lock_timeout: float,
                on_progress: "Progress | None") -> list[str]:
        raise NotImplementedError

    def discard(self, staged: Any) -> None:
        raise NotImplementedError

    def same_apart_from_run_log(self, new: Path, old: Path, manifest: "Manifest") -> bool:
        """Whether two uncompressed backups hold the same content but for aura-db's run log (False: cannot tell)."""
        return False

    def safety_snapshot(self, folder: Path, on_progress: "Progress | None", *, keep_safety: int | None = None) -> Any:
        """The pre-restore safety backup (a CreateResult; ``reused`` when identical to the newest backup)."""
        from aura_db.backup import create_with

        return create_with(self, self.engine, folder, label="pre-restore", kind="safety", keep_safety=keep_safety,
                           on_progress=on_progress)


def _compare_counts(expected: dict[str, int], actual: dict[str, int]) -> list[str]:
    problems = []
    for table in sorted(set(expected) | set(actual)):
        e, a = expected.get(table), actual.get(table)
        if e is None:
            problems.append(f"table {table} is in the backup but not in its manifest")
        elif a is None:
            problems.append(f"table {table} is missing from the backup")
        elif e != a:
            problems.append(f"table {table} holds {a} rows; the manifest says {e}")
    return problems


# --------------------------------------------------------------------------
# SQLite


def _sqlite_uri(path: str, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"file:{quote(path)}" + (f"?{query}" if query else "")


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sqlite_tables(con: sqlite3.Connection) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]


def sqlite_row_counts(con: sqlite3.Connection) -> dict[str, int]:
    return {n: con.execute(f"SELECT count(*) FROM {_quote_ident(n)}").fetchone()[0] for n in sqlite_tables(con)}


def sqlite_schema_head(con: sqlite3.Connection) -> str | None:
    from aura_db.migrations import HISTORY_TABLE

    try:
        row = con.execute(f"SELECT name FROM {_quote_ident(HISTORY_TABLE)} ORDER BY id DESC LIMIT 1").fetchone()
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


def _check_sqlite_file(path: Path, *, full: bool, pragma: bool = True
                       ) -> tuple[list[str], dict[str, int], str | None]:
    """(problems, row counts, schema head) of a SQLite file nobody else uses.

    ``pragma=False`` leaves out the integrity check (the file's bytes are known
    to have passed one) and only opens it, reads its schema and counts rows.
    """
    # immutable=1: no locks, no journal or WAL lookup - the file is read as it is.
    try:
        con = sqlite3.connect(_sqlite_uri(str(path), mode="ro", immutable="1"), uri=True)
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


class _Pump:
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


def _pread_chunks(fd: int, total: int) -> Iterator[bytes]:
    off = 0
    while off < total:
        block = os.pread(fd, min(CHUNK, total - off), off)
        if not block:
            break
        off += len(block)
        yield block


class SqliteBackup(EngineBackup):
    """SQLite: a consistent copy of a live file, and an atomic swap back.

    In rollback-journal mode (how aura-db opens databases) a connection that
    holds a read transaction holds SQLite's SHARED lock: no writer can commit
    until it ends, so the file's bytes *are* a snapshot and are streamed
    straight from disk, hashed on the way - close to copy speed.  In WAL mode
    the file alone is not the database, so the online backup API is used.
    """

    suffix = ".db"
    summary_while_staging = True

    def __init__(self, engine: "Engine | None"):
        super().__init__(engine)
        self.path = engine.url.path if engine is not None else None
        self._held: tuple[sqlite3.Connection, int] | None = None  # while a restore holds the database
        self._held_damaged: int | None = None  # the same, for a live file SQLite cannot open
        self._damage: str | None = None  # why the live database could not be read, for the plan
        self.interrupted = False  # a Ctrl-C after the swap, caught where it came

    # -- source --------------------------------------------------------
    def check_source(self) -> None:
        if self.path is None:
            raise UsageError("an in-memory SQLite database cannot be backed up or restored",
                             hint="pass --db with a file path")
        if not os.path.exists(self.path):
            raise DatabaseUnavailable(f"database {self.path} does not exist", hint="pass --db")
        if not os.path.isfile(self.path):
            raise DatabaseUnavailable(f"{self.path} is not a file")

    def source_exists(self) -> bool:
        return self.path is not None and os.path.isfile(self.path)

    def _timeout(self) -> float:
        # How long to wait for a writer to finish: the URL's ?timeout=, else 30 s.
        try:
            return float(self.engine.url.params.get("timeout", 30))
        except (TypeError, ValueError):
            return 30.0

    def _connect(self, timeout: float | None = None) -> sqlite3.Connection:
        # Read-write (never create): a read-only connection cannot roll back a
        # hot journal that a crashed writer left, and would then fail.
        from aura_db.db import probe_sqlite_file

        timeout = self._timeout() if timeout is None else timeout
        # Never a read-write connection to a file SQLite cannot read: closing
        # one deletes the -wal beside it, and the commits in it with it.
        probe_sqlite_file(self.path)
        try:
            con = sqlite3.connect(_sqlite_uri(self.path, mode="rw"), uri=True, isolation_level=None,
                                  timeout=timeout, check_same_thread=False)
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            if _is_locked(exc):
                raise self._locked_error(timeout) from None
            if "not a database" in str(exc) or "malformed" in str(exc) or "encrypted" in str(exc):
                from aura_db.db import unreadable_sqlite

                raise unreadable_sqlite(self.path, str(exc)) from None
            raise DatabaseUnavailable(f"{self.path} is not a usable SQLite database: {exc}") from None
        return con

    def _locked_error(self, timeout: float) -> AuraError:
        return AuraError(
            f"{self.path} stayed locked by another process for {timeout:g}s; nothing was done",
            hint="a long write or an exclusive locking_mode holds it; retry, or raise ?timeout= in --db",
        )

    def snapshot(self, writer: "HashingWriter", folder: Path, on_progress: "Progress | None") -> Snapshot:
        self.check_source()
        if self._held is not None:  # restore's safety backup: we already hold the exclusive lock
            con, fd = self._held
            return self._raw_copy(con, fd, writer, on_progress)
        if self._held_damaged is not None:  # the same over a damaged database: its bytes as they are
            return self._damaged_copy(self._held_damaged, writer, on_progress)
        # The descriptor outlives the connection: closing any descriptor of a
        # file drops every POSIX lock this process holds on it, SQLite's too.
        fd = os.open(self.path, os.O_RDONLY)
        try:
            con = self._connect()
            try:
                mode = con.execute("PRAGMA journal_mode").fetchone()[0].lower()
                if mode == "wal":
                    return self._backup_api(con, writer, folder, on_progress)
                con.execute("BEGIN")
                try:
                    con.execute("SELECT count(*) FROM sqlite_master").fetchone()  # takes the SHARED lock
                except sqlite3.OperationalError as exc:
                    if _is_locked(exc):
                        raise self._locked_error(self._timeout()) from None
                    raise
                if os.pread(fd, 20, 0)[18:19] == b"\x02":  # switched to WAL before our lock
                    con.execute("COMMIT")
                    return self._backup_api(con, writer, folder, on_progress)
                try:
                    return self._raw_copy(con, fd, writer, on_progress,
                                          release=lambda: con.execute("COMMIT"))
                finally:
                    if con.in_transaction:
                        con.execute("COMMIT")
            finally:
                con.close()
        finally:
            os.close(fd)

    def _raw_copy(self, con: sqlite3.Connection, fd: int, writer: "HashingWriter",
                  on_progress: "Progress | None", release: Callable[[], None] | None = None) -> Snapshot:
        total = os.fstat(fd).st_size
        found: dict[str, Any] = {}

        def inspect(c: sqlite3.Connection) -> None:
            try:
                found["check"] = [r[0] for r in c.execute("PRAGMA quick_check").fetchall()]
                found["counts"] = sqlite_row_counts(c)
                found["head"] = sqlite_schema_head(c)
                found["version"] = sqlite3.sqlite_version
            except BaseException as exc:  # noqa: BLE001
                found["error"] = exc

        done = 0
        copied = False
        if release is not None and writer.path is not None:
            checker: list[threading.Thread] = []

            def inspect_copy() -> None:
                c = sqlite3.connect(_sqlite_uri(str(writer.path), mode="ro", immutable="1"), uri=True)
                try:
                    inspect(c)
                finally:
                    c.close()

            def after_copy() -> None:
                # The copy is whole: writers may go on.  The checks then read
                # the copy itself - exactly what the backup holds - while the
                # hash and the fsync finish.
                release()
                t = threading.Thread(target=inspect_copy, daemon=True)
                t.start()
                checker.append(t)

            try:
                copied = writer.copy_from(fd, total, on_progress, after_copy=after_copy)
            finally:
                for t in checker:
                    t.join()
            done = writer.size if copied else 0
        if not copied:
            # Counting rows and the quick check read the same frozen file on
            # a second core while this thread streams it.
            t = threading.Thread(target=inspect, args=(con,), daemon=True)
            t.start()
            try:
                for block in _Pump(_pread_chunks(fd, total)):
                    writer.write(block)
                    done += len(block)
                    if on_progress:
                        on_progress("backup", done, total)
            finally:
                t.join()
        if done != total:
            raise AuraError(f"{self.path} shrank while it was copied")
        error = found.get("error")
        if isinstance(error, sqlite3.DatabaseError) and not _is_locked(error):
            # Copied whole under the lock, but too damaged to count: a copy of
            # a sick database is still worth having (a restore's safety backup
            # above all), said as such and vouched for by nothing.
            return Snapshot({}, None, sqlite3.sqlite_version,
                            warnings=[f"the database is damaged ({error}): copied as it is, rows not counted"])
        if error is not None:
            raise AuraError(f"cannot read {self.path}: {error}")
        warnings = []
        if found["check"] != ["ok"]:
            warnings.append("the database fails quick_check: " + check_summary(found["check"]))
        # Both ways the check read exactly what was copied: the copy itself,
        # or the source under the read lock that froze it for the copy.
        return Snapshot(found["counts"], found["head"], found["version"], warnings=warnings,
                        content_check="quick_check" if found["check"] == ["ok"] else None)

    def _damaged_copy(self, fd: int, writer: "HashingWriter", on_progress: "Progress | None") -> Snapshot:
        """Byte for byte, unchecked: what a restore keeps of a live database SQLite cannot read."""
        total = os.fstat(fd).st_size
        if not writer.copy_from(fd, total, on_progress):
            for block in _pread_chunks(fd, total):
                writer.write(block)
                if on_progress:
                    on_progress("backup", writer.raw_size, total)
        return Snapshot({}, None, sqlite3.sqlite_version,
                        warnings=[f"{self.path} is damaged ({self._damage}): its bytes were kept as they were"])

    def _backup_api(self, con: sqlite3.Connection, writer: "HashingWriter", folder: Path,
                    on_progress: "Progress | None") -> Snapshot:
        from aura_db.backup import tmp_name

        tmp = tmp_name(folder, "aura_stage_snapshot.db")
        # Owner-only from the start, like the backup it becomes; SQLite gives
        # its journal the same mode.
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        restarts = {"n": 0, "last": None}

        class _Restarted(Exception):
            pass

        def progress(status: int, remaining: int, total: int) -> None:
            last = restarts["last"]
            if last is not None and remaining > last:
                restarts["n"] += 1
                if restarts["n"] >= MAX_RESTARTS:
                    raise _Restarted()
            restarts["last"] = remaining
            if on_progress:
                on_progress("backup", total - remaining, total)

        try:
            dst = sqlite3.connect(str(tmp), isolation_level=None)
            try:
                try:
                    try:
                        con.backup(dst, pages=BACKUP_STEP_PAGES, progress=progress)
                    except _Restarted:
                        # One step holds the read lock from start to end: it
                        # cannot be restarted, so it finishes.
                        con.backup(dst, pages=-1)
                except sqlite3.OperationalError as exc:
                    if _is_locked(exc):
                        raise
                    # The snapshot is written in the backup folder: a full disk
                    # or a file size limit there, said in one line.
                    raise AuraError(f"cannot write the backup in {folder}: {exc}",
                                    hint="check free space and permissions of the backup folder") from None
                # Backups are rollback-journal files: nothing of them lives in a -wal.
                dst.execute("PRAGMA journal_mode=DELETE")
                check = [r[0] for r in dst.execute("PRAGMA quick_check").fetchall()]
                counts = sqlite_row_counts(dst)
                head = sqlite_schema_head(dst)
            finally:
                dst.close()
            from aura_db.backup import iter_file

            for block in iter_file(tmp, on_progress, "store"):
                writer.write(block)
        finally:
            for p in (tmp, Path(f"{tmp}-journal")):
                with contextlib.suppress(OSError):
                    p.unlink()
        warnings = [] if check == ["ok"] else ["the live database fails quick_check: " + check_summary(check)]
        # The check read the snapshot file, whose bytes are what was stored.
        return Snapshot(counts, head, sqlite3.sqlite_version, warnings=warnings,
                        content_check="quick_check" if check == ["ok"] else None)

    def same_apart_from_run_log(self, new: Path, old: Path, manifest: "Manifest") -> bool:
        """Compare two SQLite files page by page: only the run log's pages (and free ones) may differ.

        A failed ``migrate`` writes a row to aura_migration_log after its
        safety backup, so each retry's database differs from the last
        backup by that row alone.  Every differing page must belong to the
        run log's b-trees (in either file), be on the freelist (in either
        file), or be page 1 differing only in its header's counters.  The
        old file is hashed as it is read: it must still be what its
        manifest says.
        """
        from aura_db.migrations import LOG_TABLE

        with open(new, "rb") as a, open(old, "rb") as b:
            ha, hb = a.read(100), b.read(100)
        if len(ha) < 100 or ha[:16] != b"SQLite format 3\x00" or ha[16:18] != hb[16:18]:
            return False
        if ha[40:44] != hb[40:44]:  # schema cookie: the schema changed
            return False
        page = int.from_bytes(ha[16:18], "big")
        page = 65536 if page == 1 else page
        # What may differ, known before reading: the first page that may not ends the comparison.
        allowed: set[int] = set()
        for path in (new, old):
            con = sqlite3.connect(_sqlite_uri(str(path), mode="ro", immutable="1"), uri=True)
            try:
                names = [r[0] for r in con.execute(
                    "SELECT name FROM sqlite_master WHERE tbl_name = ? AND type IN ('table', 'index')", (LOG_TABLE,))]
                for name in names:
                    allowed.update(r[0] for r in con.execute("SELECT pageno FROM dbstat WHERE name = ?", (name,)))
                allowed.update(_freelist_pages(path, page))
            except sqlite3.Error:
                return False
            finally:
                con.close()
        sha = hashlib.sha256()
        with open(new, "rb", buffering=0) as a, open(old, "rb", buffering=0) as b:
            n = 0  # pages before this block
            step = max(1, CHUNK // page)
            while True:
                ba, bb = a.read(step * page), b.read(step * page)
                if not ba and not bb:
                    break
                sha.update(bb)
                if ba != bb:
                    for k in range(0, max(len(ba), len(bb)), page):
                        pa, pb = ba[k:k + page], bb[k:k + page]
                        if pa == pb:
                            continue
                        number = n + k // page + 1
                        if number == 1:
                            # Header counters (change counter, size, freelist, version) may move; nothing else.
                            if any(pa[lo:hi] != pb[lo:hi] for lo, hi in ((0, 24), (40, 92), (96, page))):
                                return False
                        elif number not in allowed:
                            return False
                n += step
        return sha.hexdigest() == manifest.sha256

    # -- checking ------------------------------------------------------
    def check_content(self, path: Path, manifest: "Manifest", *, full: bool, scratch_dir: Path,
                      on_progress: "Progress | None") -> tuple[list[str], list[str]]:
        from aura_db.backup import read_decompressed, tmp_name

        if manifest.compression == "none":
            problems, counts, _ = _check_sqlite_file(path, full=True)
        else:
            tmp = tmp_name(scratch_dir, f"aura_verify_{path.name}")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                try:
                    done = 0
                    for block in read_decompressed(path, manifest.compression):
                        os.write(fd, block)
                        done += len(block)
                        if on_progress:
                            on_progress("decompress", done, manifest.raw_size)
                finally:
                    os.close(fd)
                problems, counts, _ = _check_sqlite_file(tmp, full=True)
            finally:
                with contextlib.suppress(OSError):
                    tmp.unlink()
        if not problems:
            problems = _compare_counts(manifest.row_counts, counts)
        return problems, []

    # -- restore -------------------------------------------------------
    def stage(self, path: Path, manifest: "Manifest", on_progress: "Progress | None") -> Path:
        """Copy (and decompress) the backup beside the live database, checking it on the way."""
        from aura_db.backup import clean_leftovers, copy_verified, open_new_for_copy, read_decompressed, tmp_name

        self.check_path_only()
        live = Path(self.path)
        if not live.parent.is_dir():
            raise DatabaseUnavailable(f"cannot restore to {live}: folder {live.parent} does not exist")
        clean_leftovers(live.parent)
        staged = tmp_name(live.parent, f"aura_stage_{live.name}")
        checked: dict[str, Any] = {}
        # The content is checked every time, whatever the manifest says: a
        # manifest is a claim anyone who can write to the backup folder can
        # make (sha256 and content_check included), not proof.  An
        # uncompressed backup is quick-checked on the other core while the
        # copy runs, so the check costs little wall time.
        try:
            if manifest.compression == "none":
                # One read of the backup: each block is hashed and written
                # (O_DIRECT where possible) from the same private buffer.  A
                # backup that changes meanwhile is refused: what was checked
                # and counted must be what was copied.
                def check() -> None:
                    checked["result"] = _check_sqlite_file(path, full=False)

                before = _file_identity(path)
                src = os.open(path, os.O_RDONLY)
                try:
                    checker = threading.Thread(target=check, daemon=True)
                    checker.start()
                    try:
                        fd = open_new_for_copy(staged)
                        try:
                            digest = copy_verified(src, fd, os.fstat(src).st_size, on_progress, "restore")
                            os.fsync(fd)
                        finally:
                            os.close(fd)
                    finally:
                        checker.join()
                finally:
                    os.close(src)
                if _file_identity(path) != before:
                    raise BackupRejected(path, "it changed while it was read")
            else:
                sha = hashlib.sha256()
                fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                try:
                    done = 0
                    chunks = read_decompressed(path, manifest.compression, on_chunk=sha.update)
                    for block in _Pump(chunks):
                        view = memoryview(block)
                        while view:
                            n = os.write(fd, view)
                            view = view[n:]
                        done += len(block)
                        if on_progress:
                            on_progress("restore", done, manifest.raw_size)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                digest = sha.hexdigest()
            if digest != manifest.sha256:
                raise BackupRejected(path, "sha256 differs from its manifest (damaged)")
            # The checksum proves these are the bytes the manifest describes;
            # quick_check proves they are a sound database.
            problems, counts, _ = checked.get("result") or _check_sqlite_file(staged, full=False)
            problems = problems or _compare_counts(manifest.row_counts, counts)
            if problems:
                raise BackupRejected(path, "; ".join(problems[:3]))
        except BaseException:
            with contextlib.suppress(OSError):
                staged.unlink()
            raise
        return staged

    def check_target(self) -> None:
        self.check_path_only()

    def preflight(self) -> None:
        live = self.path
        folder = os.path.dirname(live)
        if not os.path.isdir(folder):
            raise DatabaseUnavailable(f"cannot restore to {live}: folder {folder} does not exist")
        with contextlib.suppress(OSError, AttributeError):
            if os.statvfs(folder).f_flag & os.ST_RDONLY:
                raise AuraError(f"cannot restore {live}: its file system is mounted read-only; nothing changed",
                                hint="restore on a writable copy, or remount it read-write")
        # The swap is a rename in this folder, over this file.
        if not os.access(folder, os.W_OK | os.X_OK):
            raise AuraError(f"cannot restore {live}: no permission to write in {folder}; nothing changed",
                            hint="run as the database's owner, or fix the folder's permissions")
        if os.path.exists(live):
            if not os.access(live, os.W_OK):
                raise AuraError(f"cannot restore {live}: the file is read-only (or immutable); nothing changed",
                                hint=f"make it writable (chmod u+w {live}; lsattr/chattr -i), then restore again")
            in_use = self.other_processes()
            if in_use:
                raise DatabaseInUse(
                    f"{live} is in use by process {', '.join(map(str, in_use[:5]))}; nothing changed",
                    hint="stop the application (and any aura-db) using it, then restore again",
                )

    def _swap(self, staged: Path, live: str) -> None:
        """The rename that replaces the database, with ``swapped`` set in the same breath.

        SIGINT is held back across the two (its handler runs right after), so
        a Ctrl-C can never fall between the rename and the flag saying it
        happened.
        """
        import signal

        mask = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
        if mask:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            os.rename(staged, live)
            self.swapped = True
        finally:
            if mask:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    def check_path_only(self) -> None:
        if self.path is None:
            raise UsageError("an in-memory SQLite database cannot be restored", hint="pass --db with a file path")
        if os.path.isdir(self.path):
            raise DatabaseUnavailable(f"{self.path} is a folder, not a SQLite database")

    def live_summary(self) -> tuple[bool, str | None, dict[str, int] | None]:
        if not self.source_exists():
            return False, None, None
        from aura_db.db import probe_sqlite_file

        try:
            probe_sqlite_file(self.path)
        except DatabaseUnavailable as exc:
            self._damage = getattr(exc, "reason", exc.message)
            return True, None, None
        try:
            con = sqlite3.connect(_sqlite_uri(self.path, mode="ro"), uri=True, timeout=10)
            try:
                # Counting a database that is not in the page cache reads one
                # page per disk round trip; read them ahead all at once.
                from aura_db.sqlite_prefetch import count_roots, prefetch_btrees

                prefetch_btrees(self.path, count_roots(con, sqlite_tables(con)))
                return True, sqlite_schema_head(con), sqlite_row_counts(con)
            finally:
                con.close()
        except sqlite3.DatabaseError as exc:
            self._damage = str(exc)
            return True, None, None  # a damaged live database is a reason to restore, not to stop

    def restore_caveats(self) -> list[str]:
        if self._damage is None:
            return []
        return [f"the live database cannot be read ({self._damage}); it is replaced as it is"
                " (its safety backup keeps its bytes)"]

    def other_processes(self) -> list[int]:
        """Processes (other than this one) with the database or its -wal open (Linux /proc)."""
        targets = set()
        for suffix in ("", "-wal", "-journal"):
            with contextlib.suppress(OSError):
                st = os.stat(self.path + suffix)
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

    def replace(self, staged: Path, take_safety: Callable[[], None], *, lock_timeout: float,
                on_progress: "Progress | None") -> list[str]:
        live = self.path
        folder = os.path.dirname(live)
        if not os.path.exists(live):
            take_safety()
            for suffix in ("-wal", "-shm", "-journal"):
                # Beside a missing database these belong to nothing, but the
                # new file would read them as its own.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(live + suffix)
            os.chmod(staged, 0o644 & ~_umask())
            self._swap(staged, live)
            _fsync_dir(folder)
            return []
        in_use = self.other_processes()
        if in_use:
            raise DatabaseInUse(
                f"{live} is in use by process {', '.join(map(str, in_use[:5]))}; nothing changed",
                hint="stop the application (and any aura-db) using it, then restore again",
            )
        from aura_db.db import SqliteEngine

        with SqliteEngine(self.engine.url).migration_lock(None, lock_timeout):
            fd = os.open(live, os.O_RDONLY)
            try:
                try:
                    con = self._connect(timeout=IN_USE_TIMEOUT_S)
                except DatabaseUnavailable as exc:  # not a database SQLite can open: replace it as it is
                    self._damage = self._damage or getattr(exc, "reason", exc.message)
                    return self._replace_damaged(staged, fd, take_safety)
                try:
                    was_wal = con.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
                    try:
                        if was_wal:
                            # Leaving WAL mode checkpoints everything and needs
                            # the database to itself: a -wal with content must
                            # never survive beside the new file.
                            mode = con.execute("PRAGMA journal_mode=DELETE").fetchone()[0].lower()
                            if mode != "delete":
                                raise sqlite3.OperationalError("database is locked")
                        con.execute("BEGIN EXCLUSIVE")
                    except sqlite3.OperationalError as exc:
                        raise DatabaseInUse(
                            f"{live} is in use by another connection ({exc}); nothing changed",
                            hint="stop the application using it, then restore again",
                        ) from None
                    wal = live + "-wal"
                    if os.path.exists(wal) and os.path.getsize(wal) > 0:
                        # Leaving WAL mode above checkpointed it: data left means another holder.
                        raise DatabaseInUse(f"{wal} still holds data; nothing changed")
                    self._held = (con, fd)
                    try:
                        take_safety()
                    except BaseException:
                        if was_wal:  # leave the database as we found it
                            with contextlib.suppress(sqlite3.Error):
                                con.execute("ROLLBACK")
                                con.execute("PRAGMA journal_mode=WAL")
                        raise
                    finally:
                        self._held = None
                    for suffix in ("-wal", "-shm", "-journal"):
                        side = live + suffix
                        if os.path.exists(side):
                            if suffix == "-wal" and os.path.getsize(side) > 0:
                                raise DatabaseInUse(f"{side} still holds data; nothing changed")
                            # We hold the exclusive lock and wrote nothing: these
                            # hold no transaction, but beside the new file a
                            # stale one would be read as its own.
                            os.unlink(side)
                    st = os.fstat(fd)
                    os.chmod(staged, st.st_mode & 0o777)
                    with contextlib.suppress(PermissionError):
                        os.chown(staged, st.st_uid, st.st_gid)
                    self._swap(staged, live)
                    _fsync_dir(folder)
                    with contextlib.suppress(sqlite3.Error):
                        con.execute("ROLLBACK")
                finally:
                    con.close()
            finally:
                os.close(fd)
        warnings: list[str] = []
        if was_wal:
            warnings.extend(self._back_to_wal(live))
        return warnings

    def _back_to_wal(self, live: str) -> list[str]:
        """The restored file back in WAL mode, as the live one was; a Ctrl-C here is said, not raised."""
        warnings: list[str] = []
        try:
            try:
                con = sqlite3.connect(_sqlite_uri(live, mode="rw"), uri=True)
                try:
                    con.execute("PRAGMA journal_mode=WAL")
                finally:
                    con.close()
            except sqlite3.Error as exc:
                warnings.append(f"restored, but could not switch back to WAL mode: {exc}")
        except KeyboardInterrupt:
            self.interrupted = True
            warnings.append(f"restored, but interrupted before switching back to WAL mode: "
                            f"run `sqlite3 {live} 'PRAGMA journal_mode=WAL'`")
        return warnings

    def _replace_damaged(self, staged: Path, fd: int, take_safety: Callable[[], None]) -> list[str]:
        """Swap in the staged copy over a live file SQLite cannot open (``fd`` holds the old one).

        SQLite cannot lock what it cannot read, so the lock is taken as SQLite
        itself takes an exclusive one (a POSIX write lock over its lock bytes,
        https://www.sqlite.org/lockingv3.html): any connection opening the
        file meanwhile finds it busy.
        """
        import fcntl

        live = self.path
        for suffix in ("-wal", "-journal"):
            side = live + suffix
            if os.path.exists(side) and os.path.getsize(side) > 0:
                raise DatabaseInUse(
                    f"{live} is damaged and {side} holds data that may belong to it; nothing changed",
                    hint=f"move both aside by hand (mv {live} {side} DIR), then restore again")
        lock_fd = os.open(live, os.O_RDWR)  # a write lock needs a descriptor open for writing
        try:
            try:
                fcntl.lockf(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB, SQLITE_LOCK_SPAN, SQLITE_PENDING_BYTE)
            except OSError:
                raise DatabaseInUse(f"{live} is in use by another connection; nothing changed",
                                    hint="stop the application using it, then restore again") from None
            self._held_damaged = fd
            try:
                take_safety()
            finally:
                self._held_damaged = None
            for suffix in ("-wal", "-shm", "-journal"):  # empty (checked above) or shared memory only
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(live + suffix)
            st = os.fstat(fd)
            os.chmod(staged, st.st_mode & 0o777)
            with contextlib.suppress(PermissionError):
                os.chown(staged, st.st_uid, st.st_gid)
            self._swap(staged, live)
            _fsync_dir(os.path.dirname(live))
        finally:
            os.close(lock_fd)
        return []

    def discard(self, staged: Path | None) -> None:
        if staged is not None:
            with contextlib.suppress(OSError):
                Path(staged).unlink()


def _freelist_pages(path: Path, page: int) -> set[int]:
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


def _one_line(rows: list[Any]) -> str:
    """SQLite's check report (rows that carry line breaks of their own) as one line."""
    return "; ".join(" ".join(str(r).split()) for r in rows)


def _file_identity(path: Path) -> tuple[int, ...]:
    """What changes when a file is replaced or written to."""
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _is_locked(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: str | Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)




# --------------------------------------------------------------------------
# PostgreSQL and MySQL/MariaDB: the servers' own dump tools


def _which(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise AuraError(f"{names[0]} is not installed (looked for {', '.join(names)} on PATH)",
                    hint="install the database client tools of this engine")


def _major(version: str) -> int | None:
    m = re.search(r"(\d+)(?:\.(\d+))?", version or "")
    return int(m.group(1)) if m else None


class _ServerBackup(EngineBackup):
    """What PostgreSQL and MySQL share: a client tool streams the dump, passwords go by environment."""

    password_env = ""

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.engine.url.params) if self.engine is not None else {}

    @property
    def dbname(self) -> str:
        return self.params.get("database", "")

    def tool_env(self) -> dict[str, str]:
        # Never on a command line: `ps` shows every process's arguments.
        env = dict(os.environ)
        pw = self.params.get("password")
        if pw:
            env[self.password_env] = str(pw)
        return env

    def _redact(self, text: str) -> str:
        pw = self.params.get("password")
        return text.replace(str(pw), "***") if pw else text

    def check_source(self) -> None:
        self.engine.open().close()

    def check_target(self) -> None:
        # aura-db never creates a server database: restoring needs one to exist.
        try:
            self.engine.open().close()
        except DatabaseUnavailable as exc:
            raise DatabaseUnavailable(f"cannot restore: {exc.message}; nothing changed",
                                      hint=exc.hint or "create the database first, then restore into it") from None

    def source_exists(self) -> bool:
        return self.engine.exists()

    def _stream_tool(self, argv: list[str], writer: "HashingWriter", on_progress: "Progress | None",
                     phase: str = "backup") -> None:
        """Run a dump tool, streaming its stdout into ``writer``."""
        import tempfile

        with tempfile.TemporaryFile() as errf:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errf, stdin=subprocess.DEVNULL,
                                    env=self.tool_env())
            done = 0
            try:
                assert proc.stdout is not None
                while True:
                    block = proc.stdout.read(CHUNK)
                    if not block:
                        break
                    writer.write(block)
                    done += len(block)
                    if on_progress:
                        on_progress(phase, done, None)
                rc = proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            if rc != 0:
                errf.seek(0)
                raise AuraError(f"{os.path.basename(argv[0])} failed: " + self._tail(errf.read()))

    def _run_tool(self, argv: list[str], *, stdin: Any = None, input_chunks: Iterator[bytes] | None = None
                  ) -> tuple[int, str, str]:
        import tempfile

        with tempfile.TemporaryFile() as outf, tempfile.TemporaryFile() as errf:
            proc = subprocess.Popen(argv, stdout=outf, stderr=errf, env=self.tool_env(),
                                    stdin=subprocess.PIPE if input_chunks is not None else (stdin or subprocess.DEVNULL))
            try:
                if input_chunks is not None:
                    assert proc.stdin is not None
                    try:
                        for block in input_chunks:
                            proc.stdin.write(block)
                    except BrokenPipeError:
                        pass
                    finally:
                        with contextlib.suppress(BrokenPipeError):
                            proc.stdin.close()
                rc = proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            outf.seek(0)
            errf.seek(0)
            return rc, outf.read().decode(errors="replace"), self._redact(errf.read().decode(errors="replace"))

    def _tail(self, data: bytes) -> str:
        lines = [ln for ln in self._redact(data.decode(errors="replace")).strip().splitlines() if ln.strip()]
        return "; ".join(lines[-3:]) if lines else "no message"

    def _decompressed_file(self, path: Path, manifest: "Manifest", scratch_dir: Path) -> tuple[Path, bool]:
        """The dump as a plain file: the backup itself, or a hidden decompressed copy (True: delete it)."""
        from aura_db.backup import read_decompressed, tmp_name

        if manifest.compression == "none":
            return path, False
        tmp = tmp_name(scratch_dir, f"aura_verify_{path.name}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for block in read_decompressed(path, manifest.compression):
                os.write(fd, block)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        os.close(fd)
        return tmp, True

    # -- the steps of a restore shared by both --------------------------
    def live_summary(self) -> tuple[bool, str | None, dict[str, int] | None]:
        try:
            db = self.engine.open()
        except DatabaseUnavailable:
            return False, None, None
        try:
            return True, self._head(db), self._counts(db)
        finally:
            db.close()

    def _head(self, db: Any) -> str | None:
        from aura_db.migrations import HISTORY_TABLE

        if HISTORY_TABLE not in db.get_tables():
            return None
        q = self._q(HISTORY_TABLE)
        row = db.execute_sql(f"SELECT name FROM {q} ORDER BY id DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def _counts(self, db: Any) -> dict[str, int]:
        return {t: db.execute_sql(f"SELECT count(*) FROM {self._q(t)}").fetchone()[0]
                for t in sorted(db.get_tables())}

    def _q(self, name: str) -> str:
        raise NotImplementedError

    def discard(self, staged: Any) -> None:
        path, owned = staged
        if owned:
            with contextlib.suppress(OSError):
                Path(path).unlink()

    def _scratch(self) -> tuple[Any, str]:
        """A connection to the server and the name of a new scratch database for a full check."""
        name = f"aura_verify_{uuid.uuid4().hex[:12]}"
        db = self.engine.open()
        try:
            db.execute_sql(f"CREATE DATABASE {name}")
        except Exception as exc:  # noqa: BLE001 - the driver's own error classes, e.g. no CREATEDB right
            db.close()
            raise AuraError(
                f"a full check restores the backup into a scratch database, and "
                f"{self.engine.url.redacted} may not create one: {self._redact(str(exc)).strip().splitlines()[0]}",
                hint="run --full as a user allowed to create databases, or leave --full out") from None
        return db, name

    def _scratch_engine(self, name: str) -> "Engine":
        from aura_db.db import DatabaseURL, engine_for

        params = dict(self.engine.url.params)
        params["database"] = name
        url = DatabaseURL(raw=self.engine.url.raw, engine=self.engine.name, params=params)
        return engine_for(url)


class PostgresBackup(_ServerBackup):
    """pg_dump -Fc inside an exported snapshot, so the manifest's row counts are the dump's."""

    suffix = ".dump"
    password_env = "PGPASSWORD"

    def preflight(self) -> None:
        # A hot standby, or a database whose sessions are read-only by default:
        # the restore would fail at its first statement, after the safety backup.
        db = self.engine.open()
        try:
            standby, ro = db.execute_sql(
                "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')").fetchone()
        finally:
            db.close()
        if standby or str(ro).lower() == "on":
            what = "a read-only standby" if standby else "read-only (default_transaction_read_only)"
            raise AuraError(f"cannot restore {self.engine.url.redacted}: it is {what}; nothing changed",
                            hint="restore on the primary, or make the database writable first")

    def _q(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def _conn_args(self, dbname: str | None = None) -> list[str]:
        p = self.params
        args = ["--no-password", "-h", str(p.get("host") or "127.0.0.1"), "-p", str(p.get("port") or 5432)]
        if p.get("user"):
            args += ["-U", str(p["user"])]
        return args + ["-d", dbname or self.dbname]

    def _client_major(self, tool: str) -> int | None:
        rc, out, _ = self._run_tool([tool, "--version"])
        return _major(out.split(")")[-1] if ")" in out else out)

    def _check_versions(self, db: Any, tool: str) -> tuple[str, list[str]]:
        server = db.execute_sql("SHOW server_version").fetchone()[0]
        smajor, cmajor = _major(server), self._client_major(tool)
        name = os.path.basename(tool)
        if smajor and cmajor and cmajor < smajor:
            raise AuraError(
                f"{name} {cmajor} is older than the PostgreSQL server ({server}) and cannot handle its data",
                hint=f"install the PostgreSQL {smajor} client tools (postgresql-client-{smajor})",
            )
        warnings = []
        if smajor and cmajor and cmajor != smajor:
            warnings.append(f"{name} {cmajor} and server {server} differ; a dump is read best by the same version")
        return server, warnings

    # gzip on PostgreSQL is pg_dump's own: the custom format compresses each
    # table's data with zlib (its default level is what "none" gets).  A
    # stream of an uncompressed archive (-Z 0) gzipped afterwards came out
    # larger than that default; pg_dump at the best level never is, and
    # pg_restore reads the archive as it is.
    GZIP_ARCHIVE_LEVEL = 9

    def archive_compression(self, compression: str) -> str | None:
        return f"gzip:{self.GZIP_ARCHIVE_LEVEL}" if compression == "gzip" else None

    def snapshot(self, writer: "HashingWriter", folder: Path, on_progress: "Progress | None") -> Snapshot:
        pg_dump = _which("pg_dump")
        db = self.engine.open()
        try:
            server, warnings = self._check_versions(db, pg_dump)
            conn = db.connection()
            conn.autocommit = True
            cur = conn.cursor()
            # The counts and pg_dump read the same snapshot: the manifest
            # describes exactly what the dump holds.
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                cur.execute("SELECT pg_export_snapshot()")
                snap = cur.fetchone()[0]
                counts = self._counts(db)
                head = self._head(db)
                # zstd: the archive uncompressed (-Z 0), zstd over all of it
                # (smaller than pg_dump's zlib; pg_dump 15 has no zstd).
                # none: pg_dump's default compression.  gzip: pg_dump's own,
                # at its best level (archive_compression; no outer gzip).
                if writer._comp is not None:
                    level = ["-Z", "0"]
                elif getattr(writer, "archive_compression", None):
                    level = ["-Z", str(self.GZIP_ARCHIVE_LEVEL)]
                else:
                    level = []
                self._stream_tool([pg_dump, "-Fc", *level, f"--snapshot={snap}", *self._conn_args()],
                                  writer, on_progress)
            finally:
                with contextlib.suppress(Exception):
                    cur.execute("COMMIT")
        finally:
            db.close()
        return Snapshot(counts, head, server, warnings=warnings)

    def _list(self, plain: Path) -> tuple[list[str], set[str]]:
        rc, out, err = self._run_tool([_which("pg_restore"), "--list", str(plain)])
        if rc != 0:
            return [f"pg_restore cannot read the archive: {err.strip().splitlines()[-1] if err.strip() else rc}"], set()
        tables = set()
        for line in out.splitlines():
            m = re.search(r"TABLE DATA \S+ (\S+) ", line)
            if m:
                tables.add(m.group(1).strip('"'))
        return [], tables

    def check_content(self, path: Path, manifest: "Manifest", *, full: bool, scratch_dir: Path,
                      on_progress: "Progress | None") -> tuple[list[str], list[str]]:
        plain, owned = self._decompressed_file(path, manifest, scratch_dir)
        try:
            problems, tables = self._list(plain)
            if problems:
                return problems, []
            missing = sorted(set(manifest.row_counts) - tables)
            if missing:
                return [f"tables missing from the archive: {', '.join(missing)}"], []
            if not full:
                return [], []
            if self.engine is None:
                return [], ["--full needs a PostgreSQL server: pass --db postgresql://..."]
            admin, name = self._scratch()
            try:
                rc, _, err = self._run_tool([_which("pg_restore"), "--no-owner", "--exit-on-error",
                                             *self._conn_args(name), str(plain)])
                if rc != 0:
                    return [f"pg_restore into a scratch database failed: {err.strip()[-300:]}"], []
                scratch = self._scratch_engine(name).open()
                try:
                    counts = self._counts(scratch)
                finally:
                    scratch.close()
                return _compare_counts(manifest.row_counts, counts), []
            finally:
                admin.execute_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
                admin.execute_sql(f"DROP DATABASE IF EXISTS {name}")
                admin.close()
        finally:
            if owned:
                with contextlib.suppress(OSError):
                    plain.unlink()

    def stage(self, path: Path, manifest: "Manifest", on_progress: "Progress | None") -> tuple[Path, bool]:
        from aura_db.backup import sha256_file

        if sha256_file(path, on_progress) != manifest.sha256:
            raise BackupRejected(path, "sha256 differs from its manifest (damaged)")
        plain, owned = self._decompressed_file(path, manifest, path.parent)
        problems, tables = self._list(plain)
        missing = sorted(set(manifest.row_counts) - tables)
        if problems or missing:
            self.discard((plain, owned))
            raise BackupRejected(path, "; ".join(problems or [f"tables missing: {', '.join(missing)}"]))
        self._tables = tables
        return plain, owned

    def replace(self, staged: tuple[Path, bool], take_safety: Callable[[], None], *, lock_timeout: float,
                on_progress: "Progress | None") -> list[str]:
        plain, _ = staged
        db = self.engine.open()
        try:
            _, warnings = self._check_versions(db, _which("pg_restore"))
            others = db.execute_sql(
                "SELECT pid, coalesce(application_name, '') FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
            if others:
                who = ", ".join(f"pid {p}" + (f" ({a})" if a else "") for p, a in others[:5])
                raise DatabaseInUse(f"{self.engine.url.redacted} is in use by {who}; nothing changed",
                                    hint="stop the application using it, then restore again")
            with self.engine.migration_lock(db, lock_timeout):
                take_safety()
                # Tables the backup does not know (made by later migrations)
                # would survive --clean and make the next migrate fail.
                extra = sorted(set(db.get_tables()) - getattr(self, "_tables", set()))
                prelude = "".join(f"DROP TABLE IF EXISTS {self._q(t)} CASCADE;\n" for t in extra)
                import tempfile

                # stderr to a file: a pipe nobody reads would fill and stall pg_restore.
                restore_err = tempfile.TemporaryFile()
                restore_sql = subprocess.Popen(
                    [_which("pg_restore"), "--clean", "--if-exists", "--no-owner", "-f", "-", str(plain)],
                    stdout=subprocess.PIPE, stderr=restore_err, env=self.tool_env())

                def chunks() -> Iterator[bytes]:
                    yield ("BEGIN;\n" + prelude).encode()
                    assert restore_sql.stdout is not None
                    while True:
                        block = restore_sql.stdout.read(CHUNK)
                        if not block:
                            break
                        yield block
                    # COMMIT only once pg_restore has produced everything.
                    # psql --single-transaction would commit at end of input
                    # even when that end came from this process dying
                    # part-way; without our COMMIT, psql ends the session and
                    # the server rolls the whole restore back.
                    if restore_sql.wait() == 0:
                        yield b"\nCOMMIT;\n"

                rc, _, err = self._run_tool(
                    [_which("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", *self._conn_args(), "-f", "-"],
                    input_chunks=chunks())
                # If psql stopped early, pg_restore may be blocked writing
                # into a pipe nobody reads: close it so that it ends.
                if restore_sql.stdout is not None:
                    restore_sql.stdout.close()
                try:
                    rrc = restore_sql.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    restore_sql.kill()
                    rrc = restore_sql.wait()
                restore_err.seek(0)
                restore_msg = restore_err.read()
                restore_err.close()
                if rrc != 0 or rc != 0:
                    detail = err.strip() or self._tail(restore_msg)
                    raise AuraError(f"restore failed and was rolled back; the database is as it was: {detail[-400:]}")
        finally:
            db.close()
        return warnings


class MysqlBackup(_ServerBackup):
    """mariadb-dump / mysqldump --single-transaction, restored through the mariadb client."""

    suffix = ".sql"
    password_env = "MYSQL_PWD"

    def _q(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def _conn_args(self) -> list[str]:
        p = self.params
        args = ["--protocol=TCP", "-h", str(p.get("host") or "127.0.0.1"), "-P", str(p.get("port") or 3306)]
        if p.get("user"):
            args += ["-u", str(p["user"])]
        return args

    def snapshot(self, writer: "HashingWriter", folder: Path, on_progress: "Progress | None") -> Snapshot:
        dump = _which("mariadb-dump", "mysqldump")
        db = self.engine.open()
        try:
            server = db.execute_sql("SELECT VERSION()").fetchone()[0]
            counts = self._counts(db)
            head = self._head(db)
        finally:
            db.close()
        # The database name as a plain argument, not --databases: the dump
        # then holds no CREATE DATABASE / USE and loads into whichever
        # database the client names (`mariadb aura_restore < backup.sql`).
        self._stream_tool([dump, *self._conn_args(), "--single-transaction", "--routines", "--triggers",
                           "--hex-blob", "--default-character-set=utf8mb4", "--", self.dbname],
                          writer, on_progress)
        # The dump's snapshot starts a moment after the counts: with writers
        # at work they may differ, so verification treats them as a guide.
        return Snapshot(counts, head, server, row_counts_exact=False,
                        warnings=[])

    def _check_dump(self, path: Path, manifest: "Manifest") -> list[str]:
        from aura_db.backup import read_decompressed

        head = b""
        tail = b""
        for block in read_decompressed(path, manifest.compression):
            if len(head) < 200:
                head += block[:200]
            tail = (tail + block)[-400:]
        # Newer clients put a sandbox-mode comment on the first line.
        if b"-- MariaDB dump" not in head[:200] and b"-- MySQL dump" not in head[:200]:
            return ["not a MySQL/MariaDB dump"]
        if b"-- Dump completed" not in tail:
            return ["the dump is truncated (no 'Dump completed' line)"]
        return []

    def check_content(self, path: Path, manifest: "Manifest", *, full: bool, scratch_dir: Path,
                      on_progress: "Progress | None") -> tuple[list[str], list[str]]:
        problems = self._check_dump(path, manifest)
        if problems or not full:
            return problems, []
        if self.engine is None:
            return [], ["--full needs a MySQL server: pass --db mysql://..."]
        admin, name = self._scratch()
        try:
            rc, _, err = self._run_tool([_which("mariadb", "mysql"), *self._conn_args(), name],
                                        input_chunks=self._retarget(path, manifest, name))
            if rc != 0:
                return [f"loading into a scratch database failed: {err.strip()[-300:]}"], []
            scratch = self._scratch_engine(name).open()
            try:
                counts = self._counts(scratch)
            finally:
                scratch.close()
            diff = _compare_counts(manifest.row_counts, counts)
            if diff and not manifest.row_counts_exact:
                return [], [f"row counts differ from those taken just before the dump: {d}" for d in diff]
            return diff, []
        finally:
            admin.execute_sql(f"DROP DATABASE IF EXISTS {name}")
            admin.close()

    def _retarget(self, path: Path, manifest: "Manifest", name: str, prelude: str = "") -> Iterator[bytes]:
        """The dump with any CREATE DATABASE / USE lines pointed at ``name``.

        Dumps aura-db writes have none (they load into the database the
        client names); backups taken by older versions (``--databases``) do.
        """
        from aura_db.backup import read_decompressed

        yield prelude.encode()
        pending = b""
        for block in read_decompressed(path, manifest.compression):
            data = pending + block
            cut = data.rfind(b"\n") + 1
            pending = data[cut:]
            yield self._rewrite(data[:cut], name)
        yield self._rewrite(pending, name)

    def _rewrite(self, data: bytes, name: str) -> bytes:
        if b"CREATE DATABASE" not in data and b"USE `" not in data:
            return data
        out = []
        for line in data.split(b"\n"):
            if line.startswith(b"CREATE DATABASE") or line.startswith(b"/*!40000 DROP DATABASE"):
                continue
            if line.startswith(b"USE `"):
                line = b"USE `" + name.encode() + b"`;"
            out.append(line)
        return b"\n".join(out)

    def stage(self, path: Path, manifest: "Manifest", on_progress: "Progress | None") -> tuple[Path, bool]:
        from aura_db.backup import sha256_file

        if sha256_file(path, on_progress) != manifest.sha256:
            raise BackupRejected(path, "sha256 differs from its manifest (damaged)")
        problems = self._check_dump(path, manifest)
        if problems:
            raise BackupRejected(path, "; ".join(problems))
        self._manifest = manifest
        return path, False

    def restore_caveats(self) -> list[str]:
        caveats = ["MySQL cannot replace tables in one transaction: a restore that fails or is interrupted "
                   "part-way leaves some tables restored and others not; the safety backup is the way back"]
        if not self._sees_every_connection():
            caveats.append("this MySQL user lacks the PROCESS privilege, so only its own connections can be "
                           "checked: make sure the application is stopped before saying yes")
        return caveats

    def _sees_every_connection(self) -> bool:
        """Whether PROCESSLIST shows other users' connections to this user (PROCESS, or all privileges)."""
        import re

        db = self.engine.open()
        try:
            grants = [r[0] for r in db.execute_sql("SHOW GRANTS FOR CURRENT_USER()").fetchall()]
        finally:
            db.close()
        for grant in grants:
            m = re.match(r"GRANT (.+?) ON \*\.\* TO", grant, re.IGNORECASE)
            if m and re.search(r"\b(ALL PRIVILEGES|PROCESS)\b", m.group(1), re.IGNORECASE):
                return True
        return False

    def replace(self, staged: tuple[Path, bool], take_safety: Callable[[], None], *, lock_timeout: float,
                on_progress: "Progress | None") -> list[str]:
        path, _ = staged
        db = self.engine.open()
        try:
            others = db.execute_sql(
                "SELECT ID, USER FROM information_schema.PROCESSLIST WHERE DB = DATABASE() "
                "AND ID <> CONNECTION_ID()").fetchall()
            if others:
                who = ", ".join(f"connection {i} ({u})" for i, u in others[:5])
                raise DatabaseInUse(f"{self.engine.url.redacted} is in use by {who}; nothing changed",
                                    hint="stop the application using it, then restore again")
            with self.engine.migration_lock(db, lock_timeout):
                take_safety()
                extra = sorted(set(db.get_tables()) - set(self._manifest.row_counts))
                prelude = "SET FOREIGN_KEY_CHECKS=0;\n" + "".join(
                    f"DROP TABLE IF EXISTS {self._q(t)};\n" for t in extra)
                rc, _, err = self._run_tool([_which("mariadb", "mysql"), *self._conn_args(), self.dbname],
                                            input_chunks=self._retarget(path, self._manifest, self.dbname, prelude))
                if rc != 0:
                    raise AuraError(
                        f"restore failed part-way (MySQL cannot undo schema changes): {err.strip()[-400:]}",
                        hint="restore the safety backup taken just before, or fix the cause and restore again",
                    )
        finally:
            db.close()
        return []  # the plan said it before the question


# The one place that maps an engine's name to its class.
ENGINE_BACKUPS: dict[str, type[EngineBackup]] = {
    "sqlite": SqliteBackup,
    "postgresql": PostgresBackup,
    "mysql": MysqlBackup,
}
