"""What the PostgreSQL and MySQL/MariaDB backups share: a client tool streams the dump, passwords by environment."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from aura_db.backup.engine import EngineBackup
from aura_db.backup.files import CHUNK
from aura_db.errors import AuraError, DatabaseUnavailable

if TYPE_CHECKING:
    from aura_db.backup.files import HashingWriter, Progress
    from aura_db.backup.manifest import Manifest
    from aura_db.engines.base import Engine

def which(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise AuraError(f"{names[0]} is not installed (looked for {', '.join(names)} on PATH)",
                    hint="install the database client tools of this engine")


def major(version: str) -> int | None:
    m = re.search(r"(\d+)(?:\.(\d+))?", version or "")
    return int(m.group(1)) if m else None


class ServerBackup(EngineBackup):
    """What PostgreSQL and MySQL share: a client tool streams the dump, passwords go by environment."""

    password_env = ""
    # Why the dump tools may not reach the server through this URL (a
    # connection pooler without direct_url): raised by every step that needs
    # them, while a backup file's own checks still work.
    refusal: "AuraError | None" = None

    def needs_server(self) -> None:
        if self.refusal is not None:
            raise self.refusal

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
        self.needs_server()

    def check_target(self) -> None:
        # aura-db never creates a server database: restoring needs one to exist.
        try:
            self.engine.open().close()
        except DatabaseUnavailable as exc:
            raise DatabaseUnavailable(f"cannot restore: {exc.message}; nothing changed",
                                      hint=exc.hint or "create the database first, then restore into it") from None
        self.needs_server()

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
        """The dump as a plain file: the backup itself, or a hidden decompressed copy (True: delete it).

        The copy of an encrypted backup is plaintext: it is made in a private
        (0700) folder of its own, which ``discard`` removes with it.
        """
        from aura_db.backup.files import tmp_name

        if self.stored_plain(manifest):
            return path, False
        if manifest.encrypted:
            box = tmp_name(scratch_dir, "aura_verify_private")
            box.mkdir(mode=0o700)
            tmp = box / "content.dump"
        else:
            tmp = tmp_name(scratch_dir, f"aura_verify_{path.name}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                for block in self.content(path, manifest):
                    view = memoryview(block)
                    while view:
                        view = view[os.write(fd, view):]
            finally:
                os.close(fd)
        except BaseException:
            self.discard((tmp, True))
            raise
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
        from aura_db.tables import HISTORY_TABLE, head_query

        if HISTORY_TABLE not in db.get_tables():
            return None
        row = db.execute_sql(head_query(self._q)).fetchone()
        return row[0] if row else None

    def _counts(self, db: Any) -> dict[str, int]:
        from aura_db.tables import LOCK_TABLE

        # The migration lock's lease is not part of a backup (its dump leaves it out).
        return {t: db.execute_sql(f"SELECT count(*) FROM {self._q(t)}").fetchone()[0]
                for t in sorted(db.get_tables()) if t != LOCK_TABLE}

    # The engine's dialect (its class attribute: a checker may have no engine).
    dialect: Any = None

    def _q(self, name: str) -> str:
        return self.dialect.quote(name)

    def discard(self, staged: Any) -> None:
        path, owned = staged
        if owned:
            with contextlib.suppress(OSError):
                Path(path).unlink()
            box = Path(path).parent
            if box.name.startswith(".aura_verify_private"):
                import shutil

                shutil.rmtree(box, ignore_errors=True)

    # -- the scratch database of a full check ---------------------------
    @contextlib.contextmanager
    def scratch(self) -> Iterator["Engine"]:
        """The database a full check restores into, for the length of the check.

        ``scratch_database`` when one was named (checked empty now, emptied
        again afterwards); otherwise a new database on the server, dropped
        afterwards.
        """
        given = self.scratch_database
        if given is not None:
            target = _without_schema(given)
            self.check_scratch(target, self.engine)
            try:
                yield target
            finally:
                try:
                    self._empty_scratch(target)
                except AuraError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the driver's own errors: say which database
                    raise AuraError(
                        f"could not empty the scratch database {target.url.redacted} after the check: "
                        f"{type(self)(target)._redact(str(exc)).strip().splitlines()[0] if str(exc).strip() else exc!r}",
                        hint="drop what is left in it before the next --full") from None
            return
        admin, name = self._scratch()
        try:
            yield _without_schema(self._scratch_engine(name))
        finally:
            self._drop_scratch(admin, name)

    def check_scratch(self, scratch: "Engine", live: "Engine | None") -> None:
        from aura_db.errors import UsageError

        if type(scratch.backup()) is not type(self):
            raise UsageError(f"--scratch names a {scratch.name} database; this backup needs one of its own engine",
                             hint="name an empty database on a server of the backup's engine")
        if live is not None and live.name == scratch.name and _same_database(live, scratch):
            raise UsageError(f"--scratch names the database itself ({scratch.url.redacted}); a full check "
                             "restores into the scratch database and empties it afterwards",
                             hint="name an empty database of its own, e.g. CREATE DATABASE aura_scratch")
        db = scratch.open()
        try:
            found = self._scratch_contents(db)
        finally:
            db.close()
        if found:
            shown = ", ".join(found[:5]) + (f" (+{len(found) - 5} more)" if len(found) > 5 else "")
            raise UsageError(f"the scratch database {scratch.url.redacted} is not empty: it holds {shown}",
                             hint="name an empty database; a full check restores into it and empties it afterwards")

    # The engine's query for what a database holds that a restore could collide
    # with, one "kind name" per row (``_scratch_contents``, ``_empty_scratch``).
    _CONTENTS = ""

    def _scratch_contents(self, db: Any) -> list[str]:
        """What a database holds that a restore could collide with (empty: nothing)."""
        return [r[0] for r in db.execute_sql(self._CONTENTS).fetchall()]

    def _empty_scratch(self, scratch: "Engine") -> None:
        """Drop everything a full check restored into ``scratch``; it was empty before."""
        raise NotImplementedError

    def _drop_scratch(self, admin: Any, name: str) -> None:
        try:
            admin.execute_sql(f"DROP DATABASE IF EXISTS {name}")
        finally:
            admin.close()

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
                hint="name an existing empty database with --scratch URL (or scratch_url in the settings), "
                     "or run --full as a user allowed to create databases") from None
        return db, name

    def _scratch_engine(self, name: str) -> "Engine":
        import dataclasses

        params = dict(self.engine.url.params)
        params["database"] = name
        # The same engine, on another database of the same server.
        return type(self.engine)(dataclasses.replace(self.engine.url, params=params))


def _without_schema(engine: "Engine") -> "Engine":
    """``engine`` on the same database without a ``schema`` setting: a full check names each table's schema itself."""
    import dataclasses

    if "schema" not in engine.url.params:
        return engine
    params = {k: v for k, v in engine.url.params.items() if k != "schema"}
    return type(engine)(dataclasses.replace(engine.url, params=params))


def _same_database(a: "Engine", b: "Engine") -> bool:
    """Whether two server URLs name the same database (host names compared as written, 'localhost' as 127.0.0.1)."""
    def key(e: "Engine") -> tuple:
        p = e.url.params
        host = str(p.get("host") or "127.0.0.1").lower()
        host = "127.0.0.1" if host in ("localhost", "::1") else host
        return host, int(p.get("port") or e.dialect.default_port or 0), str(p.get("database") or "")

    return key(a) == key(b)
