"""SQLite's backup: a consistent copy of a live file, and its check."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from aura_db.backup.engine import Snapshot, compare_counts
from aura_db.backup.files import CHUNK
from aura_db.engines.sqlite import files as sqlite_files
from aura_db.engines.sqlite.files import (
    Pump, check_summary, freelist_pages, is_locked, pread_chunks, sqlite_row_counts, sqlite_uri,
    sqlite_schema_head,
)
from aura_db.engines.sqlite.restore import SqliteRestore
from aura_db.errors import AuraError

if TYPE_CHECKING:
    from aura_db.backup.files import HashingWriter, Progress
    from aura_db.backup.manifest import Manifest


# A stepwise backup restarts whenever another process writes.  After this many
# restarts it is finished in one step, which holds the read lock to the end
# and therefore terminates, however busy the writers are.
MAX_RESTARTS = 3
BACKUP_STEP_PAGES = 1024


class SqliteBackup(SqliteRestore):
    """SQLite: a consistent copy of a live file (the atomic swap back is SqliteRestore's).

    In rollback-journal mode (how aura-db opens databases) a connection that
    holds a read transaction holds SQLite's SHARED lock: no writer can commit
    until it ends, so the file's bytes *are* a snapshot and are streamed
    straight from disk, hashed on the way - close to copy speed.  In WAL mode
    the file alone is not the database, so the online backup API is used.
    """


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
                    if is_locked(exc):
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
                c = sqlite3.connect(sqlite_uri(str(writer.path), mode="ro", immutable="1"), uri=True)
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
                for block in Pump(pread_chunks(fd, total)):
                    writer.write(block)
                    done += len(block)
                    if on_progress:
                        on_progress("backup", done, total)
            finally:
                t.join()
        if done != total:
            raise AuraError(f"{self.path} shrank while it was copied")
        error = found.get("error")
        if isinstance(error, sqlite3.DatabaseError) and not is_locked(error):
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
            for block in pread_chunks(fd, total):
                writer.write(block)
                if on_progress:
                    on_progress("backup", writer.raw_size, total)
        return Snapshot({}, None, sqlite3.sqlite_version,
                        warnings=[f"{self.path} is damaged ({self._damage}): its bytes were kept as they were"])

    def _backup_api(self, con: sqlite3.Connection, writer: "HashingWriter", folder: Path,
                    on_progress: "Progress | None") -> Snapshot:
        from aura_db.backup.files import tmp_name

        from aura_db.backup.files import private_scratch

        # The online backup API needs a database file to copy into.  For an
        # encrypted backup that snapshot is plaintext: it goes in a private
        # (0700) folder of its own and is deleted as soon as it is stored.
        box = private_scratch(folder, "snapshot.db") if writer.sealed else None
        tmp = box.__enter__() if box is not None else tmp_name(folder, "aura_stage_snapshot.db")
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
                    if is_locked(exc):
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
            from aura_db.backup.files import iter_file

            for block in iter_file(tmp, on_progress, "store"):
                writer.write(block)
        finally:
            for p in (tmp, Path(f"{tmp}-journal")):
                with contextlib.suppress(OSError):
                    p.unlink()
            if box is not None:
                box.__exit__(None, None, None)
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
        from aura_db.tables import LOG_TABLE

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
            con = sqlite3.connect(sqlite_uri(str(path), mode="ro", immutable="1"), uri=True)
            try:
                names = [r[0] for r in con.execute(
                    "SELECT name FROM sqlite_master WHERE tbl_name = ? AND type IN ('table', 'index')", (LOG_TABLE,))]
                for name in names:
                    allowed.update(r[0] for r in con.execute("SELECT pageno FROM dbstat WHERE name = ?", (name,)))
                allowed.update(freelist_pages(path, page))
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
        from aura_db.backup.files import private_scratch, tmp_name

        if self.stored_plain(manifest):
            problems, counts, _ = sqlite_files.check_sqlite_file(path, full=True)
        else:
            # SQLite checks a file: the content is written to a hidden one,
            # owner-only - for an encrypted backup in a private folder of its
            # own - and deleted whatever happens.
            scratch = (private_scratch(scratch_dir, "content.db") if manifest.encrypted
                       else contextlib.nullcontext(tmp_name(scratch_dir, f"aura_verify_{path.name}")))
            with scratch as tmp:
                try:
                    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    try:
                        done = 0
                        for block in self.content(path, manifest):
                            view = memoryview(block)
                            while view:
                                view = view[os.write(fd, view):]
                            done += len(block)
                            if on_progress:
                                on_progress("decompress", done, manifest.raw_size)
                    finally:
                        os.close(fd)
                    problems, counts, _ = sqlite_files.check_sqlite_file(tmp, full=True)
                finally:
                    with contextlib.suppress(OSError):
                        tmp.unlink()
        if not problems:
            problems = compare_counts(manifest.row_counts, counts)
        return problems, []
