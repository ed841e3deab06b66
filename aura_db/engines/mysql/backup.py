"""MySQL/MariaDB's backup: a --single-transaction dump, restored through the client."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from aura_db.backup.engine import DatabaseInUse, Snapshot, compare_counts
from aura_db.backup.server import ServerBackup, which
from aura_db.engines.mysql.dialect import MysqlDialect
from aura_db.errors import AuraError, BackupRejected
from aura_db.tables import LOCK_TABLE

if TYPE_CHECKING:
    from aura_db.backup.files import HashingWriter, Progress
    from aura_db.backup.manifest import Manifest
    from aura_db.engines.base import Engine


class MysqlBackup(ServerBackup):
    """mariadb-dump / mysqldump --single-transaction, restored through the mariadb client."""

    suffix = ".sql"
    password_env = "MYSQL_PWD"

    dialect = MysqlDialect()

    def _conn_args(self) -> list[str]:
        p = self.params
        args = ["--protocol=TCP", "-h", str(p.get("host") or "127.0.0.1"), "-P", str(p.get("port") or self.dialect.default_port)]
        if p.get("user"):
            args += ["-u", str(p["user"])]
        return args

    def snapshot(self, writer: "HashingWriter", folder: Path, on_progress: "Progress | None") -> Snapshot:
        dump = which("mariadb-dump", "mysqldump")
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
        # The migration lock's lease (Galera) is never part of a backup:
        # restored, it would name a run that is long over as the holder.
        self._stream_tool([dump, *self._conn_args(), "--single-transaction", "--routines", "--triggers",
                           "--hex-blob", "--default-character-set=utf8mb4",
                           f"--ignore-table={self.dbname}.{LOCK_TABLE}", "--", self.dbname],
                          writer, on_progress)
        # The dump's snapshot starts a moment after the counts: with writers
        # at work they may differ, so verification treats them as a guide.
        return Snapshot(counts, head, server, row_counts_exact=False,
                        warnings=[])

    def _check_dump(self, path: Path, manifest: "Manifest") -> list[str]:
        head = b""
        tail = b""
        for block in self.content(path, manifest):
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
        if self.engine is None and self.scratch_database is None:
            return [], ["--full needs a MySQL server: pass --db mysql://... or --scratch URL"]
        with self.scratch() as target:
            into = type(self)(target)
            rc, _, err = into._run_tool([which("mariadb", "mysql"), *into._conn_args(),
                                         "--default-character-set=utf8mb4", into.dbname],
                                        input_chunks=self._retarget(path, manifest, into.dbname))
            if rc != 0:
                return [f"loading into a scratch database failed: {err.strip()[-300:]}"], []
            scratch = target.open()
            try:
                counts = self._counts(scratch)
            finally:
                scratch.close()
            diff = compare_counts(manifest.row_counts, counts)
            if diff and not manifest.row_counts_exact:
                return [], [f"row counts differ from those taken just before the dump: {d}" for d in diff]
            return diff, []

    _CONTENTS = (
        "SELECT CONCAT(CASE TABLE_TYPE WHEN 'VIEW' THEN 'view' WHEN 'SEQUENCE' THEN 'sequence' "
        "ELSE 'table' END, ' ', TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
        "UNION ALL SELECT CONCAT(LOWER(ROUTINE_TYPE), ' ', ROUTINE_NAME) FROM information_schema.ROUTINES "
        "WHERE ROUTINE_SCHEMA = DATABASE() "
        "UNION ALL SELECT CONCAT('event ', EVENT_NAME) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() "
        "ORDER BY 1")

    def _empty_scratch(self, scratch: "Engine") -> None:
        # It was empty before the check: everything in it now came from the backup.
        db = scratch.open()
        try:
            db.execute_sql("SET FOREIGN_KEY_CHECKS = 0")
            for (what,) in db.execute_sql(self._CONTENTS).fetchall():
                kind, _, name = what.partition(" ")
                db.execute_sql(f"DROP {kind.upper()} IF EXISTS {self._q(name)}")
        finally:
            db.close()

    def _retarget(self, path: Path, manifest: "Manifest", name: str, prelude: str = "") -> Iterator[bytes]:
        """The dump with any CREATE DATABASE / USE lines pointed at ``name``.

        Dumps aura-db writes have none (they load into the database the
        client names); backups taken by older versions (``--databases``) do.
        """
        yield prelude.encode()
        pending = b""
        for block in self.content(path, manifest):
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
        from aura_db.backup.files import sha256_file

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
                extra = sorted(set(db.get_tables()) - set(self._manifest.row_counts) - {LOCK_TABLE})
                prelude = "SET FOREIGN_KEY_CHECKS=0;\n" + "".join(
                    f"DROP TABLE IF EXISTS {self._q(t)};\n" for t in extra)
                rc, _, err = self._run_tool([which("mariadb", "mysql"), *self._conn_args(),
                                             "--default-character-set=utf8mb4", self.dbname],
                                            input_chunks=self._retarget(path, self._manifest, self.dbname, prelude))
                if rc != 0:
                    raise AuraError(
                        f"restore failed part-way (MySQL cannot undo schema changes): {err.strip()[-400:]}",
                        hint="restore the safety backup taken just before, or fix the cause and restore again",
                    )
        finally:
            db.close()
        return []  # the plan said it before the question
