"""PostgreSQL's backup: pg_dump -Fc in an exported snapshot, pg_restore into the database."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from aura_db.backup.engine import DatabaseInUse, Snapshot, compare_counts
from aura_db.backup.files import CHUNK
from aura_db.backup.server import ServerBackup, major, which
from aura_db.engines.base import first_line
from aura_db.engines.postgresql.dialect import PostgresDialect, quote_ident
from aura_db.errors import AuraError, BackupRejected

if TYPE_CHECKING:
    from aura_db.backup.files import HashingWriter, Progress
    from aura_db.backup.manifest import Manifest
    from aura_db.engines.base import Engine


class PostgresBackup(ServerBackup):
    """pg_dump -Fc inside an exported snapshot, so the manifest's row counts are the dump's."""

    suffix = ".dump"
    password_env = "PGPASSWORD"

    def preflight(self) -> None:
        self.needs_server()  # a standby or read-only database is refused earlier (aura_db/guards.py)

    dialect = PostgresDialect()

    def _conn_args(self, dbname: str | None = None) -> list[str]:
        p = self.params
        args = ["--no-password", "-h", str(p.get("host") or "127.0.0.1"), "-p", str(p.get("port") or self.dialect.default_port)]
        if p.get("user"):
            args += ["-U", str(p["user"])]
        return args + ["-d", dbname or self.dbname]

    def _client_major(self, tool: str) -> int | None:
        rc, out, _ = self._run_tool([tool, "--version"])
        return major(out.split(")")[-1] if ")" in out else out)

    def _check_versions(self, db: Any, tool: str) -> tuple[str, list[str]]:
        server = db.execute_sql("SHOW server_version").fetchone()[0]
        smajor, cmajor = major(server), self._client_major(tool)
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
        self.needs_server()
        try:
            return self._snapshot(writer, folder, on_progress)
        except AuraError as exc:
            hint = recovery_conflict_hint(exc.message)
            if hint:
                exc.hint = hint
            raise
        except Exception as exc:  # noqa: BLE001 - the driver's own error, during the counts
            hint = recovery_conflict_hint(str(exc))
            if not hint:
                raise
            raise AuraError(f"backup failed: {self._redact(first_line(exc))}", hint=hint) from None

    def _snapshot(self, writer: "HashingWriter", folder: Path, on_progress: "Progress | None") -> Snapshot:
        pg_dump = which("pg_dump")
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
                # With a schema setting, that schema is the database aura-db keeps.
                only = [f"--schema={quote_ident(self.engine.schema)}"] if self.engine.schema else []
                self._stream_tool([pg_dump, "-Fc", *level, f"--snapshot={snap}", *only, *self._conn_args()],
                                  writer, on_progress)
            finally:
                with contextlib.suppress(Exception):
                    cur.execute("COMMIT")
        finally:
            db.close()
        return Snapshot(counts, head, server, warnings=warnings)

    def _list(self, plain: Path) -> tuple[list[str], set[str]]:
        problems, where = self._list_tables(plain)
        return problems, set(where)

    def _list_tables(self, plain: Path) -> tuple[list[str], dict[str, str]]:
        """(problems, table -> its schema) of the tables whose data the archive holds."""
        rc, out, err = self._run_tool([which("pg_restore"), "--list", str(plain)])
        if rc != 0:
            return [f"pg_restore cannot read the archive: {err.strip().splitlines()[-1] if err.strip() else rc}"], {}
        tables: dict[str, str] = {}
        for line in out.splitlines():
            m = re.search(r"TABLE DATA (\S+) (\S+) ", line)
            if m:
                tables[m.group(2).strip('"')] = m.group(1).strip('"')
        return [], tables

    def check_content(self, path: Path, manifest: "Manifest", *, full: bool, scratch_dir: Path,
                      on_progress: "Progress | None") -> tuple[list[str], list[str]]:
        plain, owned = self._decompressed_file(path, manifest, scratch_dir)
        try:
            problems, where = self._list_tables(plain)
            if problems:
                return problems, []
            missing = sorted(set(manifest.row_counts) - set(where))
            if missing:
                return [f"tables missing from the archive: {', '.join(missing)}"], []
            if not full:
                return [], []
            if self.engine is None and self.scratch_database is None:
                return [], ["--full needs a PostgreSQL server: pass --db postgresql://... or --scratch URL"]
            if self.scratch_database is None:
                self.needs_server()
            with self.scratch() as target:
                into = type(self)(target)
                # Ownership and privileges name roles of the source server;
                # the check is about the data, restored as this role.
                rc, _, err = into._run_tool([which("pg_restore"), "--no-owner", "--no-acl", "--no-comments",
                                             "--exit-on-error", *into._conn_args(), str(plain)])
                if rc != 0:
                    return [f"pg_restore into a scratch database failed: {err.strip()[-300:]}"], []
                target.guard_schema = False  # the archive's schemas are named below
                scratch = target.open()
                try:
                    # Each table where the archive put it: the check needs no search_path.
                    counts = {t: scratch.execute_sql(
                        f"SELECT count(*) FROM {self._q(where[t])}.{self._q(t)}").fetchone()[0] for t in where}
                finally:
                    scratch.close()
                return compare_counts(manifest.row_counts, counts), []
        finally:
            self.discard((plain, owned))

    # What a database holds (outside PostgreSQL's own schemas) that a restore would collide with.
    _CONTENTS = (
        "SELECT 'table ' || n.nspname || '.' || c.relname FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND left(n.nspname, 3) <> 'pg_' "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e') "
        "UNION ALL SELECT 'function ' || n.nspname || '.' || p.proname FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND left(n.nspname, 3) <> 'pg_' "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') "
        "UNION ALL SELECT 'type ' || n.nspname || '.' || t.typname FROM pg_type t "
        "JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype IN ('e', 'd', 'r') "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND left(n.nspname, 3) <> 'pg_' "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e') "
        "UNION ALL SELECT 'schema ' || nspname FROM pg_namespace n WHERE nspname NOT IN "
        "('public', 'information_schema') AND left(nspname, 3) <> 'pg_' "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = n.oid AND d.deptype = 'e') "
        "ORDER BY 1")

    def _empty_scratch(self, scratch: "Engine") -> None:
        # It was empty before the check: everything in it now came from the backup.
        scratch.guard_schema = False
        db = scratch.open()
        try:
            for (what,) in db.execute_sql(self._CONTENTS).fetchall():
                kind, _, name = what.partition(" ")
                if kind == "schema":
                    db.execute_sql(f"DROP SCHEMA IF EXISTS {self._q(name)} CASCADE")
            for (what,) in db.execute_sql(self._CONTENTS).fetchall():
                kind, _, name = what.partition(" ")
                schema, _, obj = name.partition(".")
                target = f"{self._q(schema)}.{self._q(obj)}"
                kind_sql = {"table": "TABLE", "function": "FUNCTION", "type": "TYPE"}[kind]
                if kind == "table":
                    relkind = db.execute_sql(
                        "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = %s AND c.relname = %s", (schema, obj)).fetchone()
                    if relkind is None:
                        continue  # gone with another object (CASCADE)
                    kind_sql = {"v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE",
                                "f": "FOREIGN TABLE"}.get(str(relkind[0]), "TABLE")
                db.execute_sql(f"DROP {kind_sql} IF EXISTS {target} CASCADE")
        finally:
            db.close()

    def _drop_scratch(self, admin: Any, name: str) -> None:
        try:
            admin.execute_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            admin.execute_sql(f"DROP DATABASE IF EXISTS {name}")
        finally:
            admin.close()

    def stage(self, path: Path, manifest: "Manifest", on_progress: "Progress | None") -> tuple[Path, bool]:
        from aura_db.backup.files import sha256_file

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
        self.needs_server()
        db = self.engine.open()
        try:
            _, warnings = self._check_versions(db, which("pg_restore"))
            others = db.execute_sql(
                "SELECT pid, coalesce(application_name, '') FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
            if others:
                who = ", ".join(f"pid {p}" + (f" ({a})" if a else "") for p, a in others[:5])
                hint = "stop the application using it, then restore again"
                if getattr(self.engine, "pooled_by", None) is not None:
                    # Server connections the pooler keeps open count too.
                    hint = ("stop the application using it and close the pooler's server connections "
                            f"(PgBouncer console: KILL {self.dbname}), restore again, then RESUME {self.dbname}")
                raise DatabaseInUse(f"{self.engine.url.redacted} is in use by {who}; nothing changed", hint=hint)
            # A transaction on this connection holds the migration lock while
            # the safety backup and psql run on their own connections.
            with self.engine.migration_lock(db, lock_timeout), self.engine.locked(db):
                take_safety()
                # Tables the backup does not know (made by later migrations)
                # would survive --clean and make the next migrate fail.
                extra = sorted(set(db.get_tables()) - getattr(self, "_tables", set()))
                # Named with their schema: psql's session may have another search_path.
                schema = self._q(db.execute_sql("SELECT current_schema()").fetchone()[0] or "public")
                prelude = "".join(f"DROP TABLE IF EXISTS {schema}.{self._q(t)} CASCADE;\n" for t in extra)
                import tempfile

                # stderr to a file: a pipe nobody reads would fill and stall pg_restore.
                restore_err = tempfile.TemporaryFile()
                restore_sql = subprocess.Popen(
                    [which("pg_restore"), "--clean", "--if-exists", "--no-owner", "-f", "-", str(plain)],
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
                    [which("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", *self._conn_args(), "-f", "-"],
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


def recovery_conflict_hint(text: str) -> str | None:
    """The way out of a backup a hot standby cancelled ("conflict with recovery"); None for any other failure.

    A standby cancels a long read (pg_dump's snapshot) when replaying the
    primary's changes would remove row versions it still needs, after
    ``max_standby_streaming_delay``.
    """
    if "conflict with recovery" not in text:
        return None
    return ("the standby cancelled the backup to replay the primary's changes: on the standby set "
            "hot_standby_feedback = on (the primary then keeps the rows the backup reads) or raise "
            "max_standby_streaming_delay (replay waits for the backup), then back up again; "
            "or back up on the primary")
