"""SQLite's restore steps: stage a checked copy beside the live file, then swap it in atomically.

``SqliteRestore`` also holds what backup and restore share about the live
file (opening it, waiting for a writer); ``SqliteBackup`` (backup.py) adds
the snapshot and the content check on top.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from aura_db.backup.engine import DatabaseInUse, EngineBackup, compare_counts
from aura_db.backup.files import fsync_dir
from aura_db.engines.sqlite import files as sqlite_files
from aura_db.engines.sqlite.files import (
    SQLITE_LOCK_SPAN, SQLITE_PENDING_BYTE, Pump, file_identity, is_locked, sqlite_uri, umask,
    sqlite_row_counts, sqlite_schema_head, sqlite_tables,
)
from aura_db.errors import AuraError, BackupRejected, DatabaseUnavailable, UsageError

if TYPE_CHECKING:
    from aura_db.backup.files import Progress
    from aura_db.backup.manifest import Manifest
    from aura_db.engines.base import Engine

IN_USE_TIMEOUT_S = 2.0


class SqliteRestore(EngineBackup):
    """SQLite's live file: opened read-write only when SQLite can read it, and replaced by an atomic swap."""

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
        from aura_db.engines.sqlite.probe import probe_sqlite_file

        timeout = self._timeout() if timeout is None else timeout
        # Never a read-write connection to a file SQLite cannot read: closing
        # one deletes the -wal beside it, and the commits in it with it.
        probe_sqlite_file(self.path)
        try:
            con = sqlite3.connect(sqlite_uri(self.path, mode="rw"), uri=True, isolation_level=None,
                                  timeout=timeout, check_same_thread=False)
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            if is_locked(exc):
                raise self._locked_error(timeout) from None
            if "not a database" in str(exc) or "malformed" in str(exc) or "encrypted" in str(exc):
                from aura_db.engines.sqlite.probe import unreadable_sqlite

                raise unreadable_sqlite(self.path, str(exc)) from None
            raise DatabaseUnavailable(f"{self.path} is not a usable SQLite database: {exc}") from None
        return con

    def _locked_error(self, timeout: float) -> AuraError:
        return AuraError(
            f"{self.path} stayed locked by another process for {timeout:g}s; nothing was done",
            hint="a long write or an exclusive locking_mode holds it; retry, or raise ?timeout= in --db",
        )


    # -- restore -------------------------------------------------------
    def stage(self, path: Path, manifest: "Manifest", on_progress: "Progress | None") -> Path:
        """Copy (and decompress) the backup beside the live database, checking it on the way."""
        from aura_db.backup.files import clean_leftovers, copy_verified, open_new_for_copy, tmp_name

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
            if self.stored_plain(manifest):
                # One read of the backup: each block is hashed and written
                # (O_DIRECT where possible) from the same private buffer.  A
                # backup that changes meanwhile is refused: what was checked
                # and counted must be what was copied.
                def check() -> None:
                    checked["result"] = sqlite_files.check_sqlite_file(path, full=False)

                before = file_identity(path)
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
                if file_identity(path) != before:
                    raise BackupRejected(path, "it changed while it was read")
            else:
                sha = hashlib.sha256()
                fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                try:
                    done = 0
                    # Decrypted (when encrypted) and decompressed as it streams:
                    # the only plaintext on disk is the staged database itself.
                    chunks = self.content(path, manifest, on_chunk=sha.update)
                    for block in Pump(chunks):
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
            problems, counts, _ = checked.get("result") or sqlite_files.check_sqlite_file(staged, full=False)
            problems = problems or compare_counts(manifest.row_counts, counts)
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
        from aura_db.engines.sqlite.probe import probe_sqlite_file

        try:
            probe_sqlite_file(self.path)
        except DatabaseUnavailable as exc:
            self._damage = getattr(exc, "reason", exc.message)
            return True, None, None
        try:
            con = sqlite3.connect(sqlite_uri(self.path, mode="ro"), uri=True, timeout=10)
            try:
                # Counting a database that is not in the page cache reads one
                # page per disk round trip; read them ahead all at once.
                from aura_db.engines.sqlite.prefetch import count_roots, prefetch_btrees

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
        return sqlite_files.processes_holding(self.path)

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
            os.chmod(staged, 0o644 & ~umask())
            self._swap(staged, live)
            fsync_dir(folder)
            return []
        in_use = self.other_processes()
        if in_use:
            raise DatabaseInUse(
                f"{live} is in use by process {', '.join(map(str, in_use[:5]))}; nothing changed",
                hint="stop the application (and any aura-db) using it, then restore again",
            )
        with self.engine.migration_lock(None, lock_timeout):
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
                    fsync_dir(folder)
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
                con = sqlite3.connect(sqlite_uri(live, mode="rw"), uri=True)
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
            fsync_dir(os.path.dirname(live))
        finally:
            os.close(lock_fd)
        return []

    def discard(self, staged: Path | None) -> None:
        if staged is not None:
            with contextlib.suppress(OSError):
                Path(staged).unlink()
