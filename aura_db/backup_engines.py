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

from aura_db.errors import AuraError, CheckFailed, DatabaseUnavailable, UsageError

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

    def __init__(self, engine: "Engine | None"):
        self.engine = engine

    def check_source(self) -> None:
        raise NotImplementedError

    def source_exists(self) -> bool:
        raise NotImplementedError

    def snapshot(self, writer: "HashingWriter", folder: Path, on_progress: "Progress | None") -> Snapshot:
        raise NotImplementedError

    def check_content(self, path: Path, manifest: "Manifest", *, full: bool, scratch_dir: Path,
                      on_progress: "Progress | None") -> tuple[list[str], list[str]]:
        raise NotImplementedError

    def stage(self, path: Path, manifest: "Manifest", on_progress: "Progress | None") -> Any:
        raise NotImplementedError

    def live_summary(self) -> tuple[bool, str | None, dict[str, int] | None]:
        raise NotImplementedError

    def replace(self, staged: Any, take_safety: Callable[[], None], *, lock_timeout: float,
                on_progress: "Progress | None") -> list[str]:
        raise NotImplementedError

    def discard(self, staged: Any) -> None:
        raise NotImplementedError

    def safety_snapshot(self, folder: Path, on_progress: "Progress | None") -> Path:
        from aura_db.backup import create_with

        return create_with(self, self.engine, folder, label="pre-restore", on_progress=on_progress).path


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


def sqlite_row_counts(con: sqlite3.Connection) -> dict[str, int]:
    names = [r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {n: con.execute(f"SELECT count(*) FROM {_quote_ident(n)}").fetchone()[0] for n in names}


def sqlite_schema_head(con: sqlite3.Connection) -> str | None:
    from aura_db.migrations import HISTORY_TABLE

    try:
        row = con.execute(f"SELECT name FROM {_quote_ident(HISTORY_TABLE)} ORDER BY id DESC LIMIT 1").fetchone()
    except sqlite3.OperationalError:
        return None  # no history table: nothing applied
    return row[0] if row else None


def _check_sqlite_file(path: Path, *, full: bool) -> tuple[list[str], dict[str, int], str | None]:
    """(problems, row counts, schema head) of a SQLite file nobody else uses."""
    # immutable=1: no locks, no journal or WAL lookup - the file is read as it is.
    try:
        con = sqlite3.connect(_sqlite_uri(str(path), mode="ro", immutable="1"), uri=True)
    except sqlite3.Error as exc:
        return [f"cannot open the backup as SQLite: {exc}"], {}, None
    try:
        try:
            pragma = "integrity_check" if full else "quick_check"
            rows = [r[0] for r in con.execute(f"PRAGMA {pragma}").fetchall()]
            if rows != ["ok"]:
                return [f"{pragma}: " + "; ".join(rows[:5])], {}, None
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

    def __init__(self, engine: "Engine | None"):
        super().__init__(engine)
        self.path = engine.url.path if engine is not None else None
        self._held: tuple[sqlite3.Connection, int] | None = None  # while a restore holds the database

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

    def _connect(self, timeout: float = 30.0) -> sqlite3.Connection:
        # Read-write (never create): a read-only connection cannot roll back a
        # hot journal that a crashed writer left, and would then fail.
        try:
            con = sqlite3.connect(_sqlite_uri(self.path, mode="rw"), uri=True, isolation_level=None,
                                  timeout=timeout, check_same_thread=False)
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise DatabaseUnavailable(f"{self.path} is not a usable SQLite database: {exc}") from None
        return con

    def snapshot(self, writer: "HashingWriter", folder: Path, on_progress: "Progress | None") -> Snapshot:
        self.check_source()
        if self._held is not None:  # restore's safety backup: we already hold the exclusive lock
            con, fd = self._held
            return self._raw_copy(con, fd, writer, on_progress)
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
                con.execute("SELECT count(*) FROM sqlite_master").fetchone()  # takes the SHARED lock
                if os.pread(fd, 20, 0)[18:19] == b"\x02":  # switched to WAL before our lock
                    con.execute("COMMIT")
                    return self._backup_api(con, writer, folder, on_progress)
                try:
                    return self._raw_copy(con, fd, writer, on_progress)
                finally:
                    con.execute("COMMIT")
            finally:
                con.close()
        finally:
            os.close(fd)

    def _raw_copy(self, con: sqlite3.Connection, fd: int, writer: "HashingWriter",
                  on_progress: "Progress | None") -> Snapshot:
        total = os.fstat(fd).st_size
        # Counting rows and the quick check read the same frozen file on a
        # second core while this thread streams it.
        found: dict[str, Any] = {}

        def inspect() -> None:
            try:
                found["check"] = [r[0] for r in con.execute("PRAGMA quick_check").fetchall()]
                found["counts"] = sqlite_row_counts(con)
                found["head"] = sqlite_schema_head(con)
                found["version"] = sqlite3.sqlite_version
            except BaseException as exc:  # noqa: BLE001
                found["error"] = exc

        t = threading.Thread(target=inspect, daemon=True)
        t.start()
        done = 0
        try:
            for block in _Pump(_pread_chunks(fd, total)):
                writer.write(block)
                done += len(block)
                if on_progress:
                    on_progress("backup", done, total)
        finally:
            t.join()
        if "error" in found:
            raise AuraError(f"cannot read {self.path}: {found['error']}")
        if done != total:
            raise AuraError(f"{self.path} shrank while it was copied")
        warnings = []
        if found["check"] != ["ok"]:
            warnings.append("the live database fails quick_check: " + "; ".join(found["check"][:3]))
        return Snapshot(found["counts"], found["head"], found["version"], warnings=warnings)

    def _backup_api(self, con: sqlite3.Connection, writer: "HashingWriter", folder: Path,
                    on_progress: "Progress | None") -> Snapshot:
        from aura_db.backup import tmp_name

        tmp = tmp_name(folder, "aura_stage_snapshot.db")
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
                    con.backup(dst, pages=BACKUP_STEP_PAGES, progress=progress)
                except _Restarted:
                    # One step holds the read lock from start to end: it
                    # cannot be restarted, so it finishes.
                    con.backup(dst, pages=-1)
                # Backups are rollback-journal files: nothing of them lives in a -wal.
                dst.execute("PRAGMA journal_mode=DELETE")
                check = [r[0] for r in dst.execute("PRAGMA quick_check").fetchall()]
                counts = sqlite_row_counts(dst)
                head = sqlite_schema_head(dst)
            finally:
                dst.close()
            total = tmp.stat().st_size
            done = 0
            with open(tmp, "rb", buffering=0) as f:
                while True:
                    block = f.read(CHUNK)
                    if not block:
                        break
                    writer.write(block)
                    done += len(block)
                    if on_progress:
                        on_progress("backup", done, total)
        finally:
            for p in (tmp, Path(f"{tmp}-journal")):
                with contextlib.suppress(OSError):
                    p.unlink()
        warnings = [] if check == ["ok"] else ["the live database fails quick_check: " + "; ".join(check[:3])]
        return Snapshot(counts, head, sqlite3.sqlite_version, warnings=warnings)

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
        from aura_db.backup import clean_leftovers, read_decompressed, tmp_name

        self.check_path_only()
        live = Path(self.path)
        if not live.parent.is_dir():
            raise DatabaseUnavailable(f"cannot restore to {live}: folder {live.parent} does not exist")
        clean_leftovers(live.parent)
        staged = tmp_name(live.parent, f"aura_stage_{live.name}")
        sha = hashlib.sha256()
        try:
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
            if sha.hexdigest() != manifest.sha256:
                raise CheckFailed(f"refusing to restore {path.name}: sha256 differs from its manifest (damaged)")
            # The checksum proves these are the bytes checked when the backup
            # was taken; quick_check guards against a backup of a sick database.
            problems, counts, _ = _check_sqlite_file(staged, full=False)
            problems = problems or _compare_counts(manifest.row_counts, counts)
            if problems:
                raise CheckFailed(f"refusing to restore {path.name}: " + "; ".join(problems[:3]))
        except BaseException:
            with contextlib.suppress(OSError):
                staged.unlink()
            raise
        return staged

    def check_path_only(self) -> None:
        if self.path is None:
            raise UsageError("an in-memory SQLite database cannot be restored", hint="pass --db with a file path")
        if os.path.isdir(self.path):
            raise DatabaseUnavailable(f"{self.path} is a folder, not a SQLite database")

    def live_summary(self) -> tuple[bool, str | None, dict[str, int] | None]:
        if not self.source_exists():
            return False, None, None
        try:
            con = sqlite3.connect(_sqlite_uri(self.path, mode="ro"), uri=True, timeout=10)
            try:
                return True, sqlite_schema_head(con), sqlite_row_counts(con)
            finally:
                con.close()
        except sqlite3.DatabaseError:
            return True, None, None  # a damaged live database is a reason to restore, not to stop

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
            os.chmod(staged, 0o644 & ~_umask())
            os.rename(staged, live)
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
                con = self._connect(timeout=IN_USE_TIMEOUT_S)
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
                    self._held = (con, fd)
                    try:
                        take_safety()
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
                    os.rename(staged, live)
                    _fsync_dir(folder)
                    with contextlib.suppress(sqlite3.Error):
                        con.execute("ROLLBACK")
                finally:
                    con.close()
            finally:
                os.close(fd)
        warnings: list[str] = []
        if was_wal:
            try:
                con = sqlite3.connect(_sqlite_uri(live, mode="rw"), uri=True)
                try:
                    con.execute("PRAGMA journal_mode=WAL")
                finally:
                    con.close()
            except sqlite3.Error as exc:
                warnings.append(f"restored, but could not switch back to WAL mode: {exc}")
        return warnings

    def discard(self, staged: Path | None) -> None:
        if staged is not None:
            with contextlib.suppress(OSError):
                Path(staged).unlink()


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


from aura_db.backup import DatabaseInUse  # noqa: E402  (one exception class, shared)

ENGINE_BACKUPS: dict[str, type[EngineBackup]] = {
    "sqlite": SqliteBackup,
}
