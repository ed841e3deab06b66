"""``backup``: a consistent snapshot of the live database into the backup folder, with its manifest.

Staging, checksum, atomic publication, manifest, retention - in one readable
function (``create_with``).  What only an engine knows (how to take a
consistent snapshot) comes from its engine backup object.  Never prints,
prompts or exits.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from aura_db.backup.catalogue import (
    BackupEntry, DatabaseKeys, DatabaseRef, list_backups, sort_time, this_database,
)
from aura_db.backup.files import (
    HashingWriter, Progress, check_compression, clean_leftovers, ensure_folder, fsync_dir, publish, sha256_file,
    tmp_name, utcnow, write_json_file,
)
from aura_db.backup.manifest import Manifest, check_label, new_name
from aura_db.backup.retention import DEFAULT_KEEP, DEFAULT_KEEP_SAFETY, PruneResult, check_rules, prune
from aura_db.errors import AuraError, UsageError

if TYPE_CHECKING:
    from aura_db.backup.crypto import Recipient
    from aura_db.engines.base import Engine

@dataclass
class CreateResult:
    path: Path
    manifest: Manifest
    duration_s: float
    pruned: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # True when no file was written: the content was identical to the newest
    # backup of this database, which ``path`` names.
    reused: bool = False
    prune: "PruneResult | None" = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.path.name,
            "path": str(self.path),
            "kind": self.manifest.kind,
            "reused": self.reused,
            "manifest": self.manifest.to_dict(),
            "duration_s": round(self.duration_s, 3),
            "pruned": [p.name for p in self.pruned],
            "retention": self.prune.to_dict()["decisions"] if self.prune else [],
            "warnings": self.warnings,
        }



def create_backup(
    engine: "Engine",
    backup_dir: Path,
    *,
    label: str | None = None,
    compression: str = "none",
    keep: int | None = DEFAULT_KEEP,
    keep_safety: int = DEFAULT_KEEP_SAFETY,
    encrypt_to: Sequence[str] = (),
    on_progress: Progress | None = None,
    keep_hourly: int = 0,
    keep_daily: int = 0,
    keep_weekly: int = 0,
) -> CreateResult:
    """A consistent snapshot of the live database into the backup folder, with its manifest.

    With ``encrypt_to`` (age recipients: keys or files of them, see
    ``crypto.parse_recipients``) the file is compressed, then encrypted in
    the age format as it streams; a bad recipient is a UsageError before
    anything is written.  Afterwards applies retention to this database's
    backups (``prune``): the newest ``keep`` good regular ones, the newest
    good one of each of the last ``keep_hourly``/``keep_daily``/``keep_weekly``
    hours/days/weeks (UTC; 0: off) and the newest ``keep_safety`` safety
    ones, never the one just made; ``keep=None`` prunes nothing.
    """
    label = check_label(label)
    compression = check_compression(compression)
    check_rules(keep, keep_safety, keep_hourly, keep_daily, keep_weekly)
    recipients = check_recipients(encrypt_to)
    eb = engine.backup()
    eb.check_source()
    return create_with(eb, engine, Path(backup_dir), label=label, compression=compression, keep=keep,
                       keep_safety=keep_safety, recipients=recipients, on_progress=on_progress,
                       keep_hourly=keep_hourly, keep_daily=keep_daily, keep_weekly=keep_weekly)


def check_recipients(encrypt_to: Sequence[str]) -> "list[Recipient] | None":
    if not encrypt_to:
        return None
    from aura_db.backup.crypto import parse_recipients

    found = parse_recipients(list(encrypt_to))
    if not found:
        raise UsageError("--encrypt-to names no recipient", hint="give an age1... or SSH public key, or a file of them")
    return found


def create_with(eb: Any, engine: "Engine", backup_dir: Path, *, label: str | None,
                compression: str = "none", keep: int | None = None, keep_safety: int | None = None,
                kind: str = "regular", recipients: "list[Recipient] | None" = None,
                on_progress: Progress | None = None,
                keep_hourly: int = 0, keep_daily: int = 0, keep_weekly: int = 0,
                here: DatabaseRef | None = None) -> CreateResult:
    """``create_backup`` with the engine's backup object given (a restore's safety backup reuses its lock).

    A ``kind="safety"`` backup whose bytes are identical to the newest
    backup of this database (and that file is still whole) is not written
    again: the result names that file, with ``reused`` set (never when
    encrypting: the same content encrypts to different bytes every time).
    ``recipients``: encrypt to these (``crypto.Recipient``), after compressing.
    ``here`` is the database's identity when the caller knows it
    (``this_database``); else it is asked for, before the snapshot, on a
    connection of its own.
    """
    seal = None
    if recipients:
        from aura_db.backup.crypto import Sealer

        def seal(put: Any) -> Any:
            return Sealer(recipients, put)
    started = time.monotonic()
    here = here or this_database(engine)
    folder = ensure_folder(Path(backup_dir))
    clean_leftovers(folder)
    when = utcnow()
    # Where the dump format compresses itself (PostgreSQL gzip), the file is
    # stored as the tool wrote it: compressing it again only adds bytes.
    inside = eb.archive_compression(compression)
    if inside is not None:
        compression = "none"
    encrypted = bool(recipients)
    name = new_name(folder, when, label, eb.suffix, compression, encrypted=encrypted)
    final = folder / name
    tmp = tmp_name(folder, name)
    mtmp = tmp_name(folder, name + ".json")
    try:
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        writer = None
        try:
            writer = HashingWriter(fd, compression, path=tmp, seal=seal)
            writer.archive_compression = inside
            snap = eb.snapshot(writer, folder, on_progress)
            writer.finish()
        finally:
            if writer is not None:
                writer.abort()  # the encrypting thread, if any, stops writing before fd closes
            os.close(fd)
        if kind == "safety" and not encrypted:
            same = _identical_newest(eb, folder, here, tmp, snap, writer.size, writer.sha.hexdigest(),
                                     compression)
            if same is not None:
                tmp.unlink()
                result = CreateResult(same.path, same.manifest, time.monotonic() - started, reused=True,
                                      warnings=list(snap.warnings))
                if keep_safety is not None:
                    result.prune = prune(folder, None, keep_safety=keep_safety, protect=[same.path],
                                         database=here)
                    result.pruned = result.prune.deleted
                    result.warnings.extend(result.prune.warnings)
                return result
        while True:
            manifest = Manifest(
                engine=engine.name,
                # Where it came from: the file for SQLite, the URL without its
                # password for a server.
                source=engine.describe(),
                created_at=when.isoformat(timespec="microseconds").replace("+00:00", "Z"),
                schema_head=snap.schema_head,
                row_counts=snap.row_counts,
                size=writer.size,
                sha256=writer.sha.hexdigest(),
                compression=compression,
                label=label,
                file=name,
                raw_size=writer.raw_size,
                server_version=snap.server_version,
                row_counts_exact=snap.row_counts_exact,
                content_check=snap.content_check,
                archive_compression=inside,
                kind=kind,
                identity=here.identity,
                encrypted=encrypted,
                encryption="age" if encrypted else None,
                recipients=[r.describe() for r in recipients] if recipients else None,
                format_version=2 if encrypted else 1,
            )
            write_json_file(mtmp, manifest.to_dict())
            # Manifest first, backup last: the backup only becomes visible
            # once everything that vouches for it is durable.  Neither ever
            # replaces a file: another run that picked the same name in the
            # same second keeps its backup, and this one takes the next name.
            if publish(mtmp, folder / f"{name}.json"):
                if publish(tmp, final):
                    break
                (folder / f"{name}.json").unlink()  # a backup file nobody vouched for holds the name
            name = new_name(folder, when, label, eb.suffix, compression, encrypted=encrypted)
            final = folder / name
        fsync_dir(folder)
    except BaseException as exc:
        for p in (tmp, mtmp):
            with contextlib.suppress(OSError):
                p.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, AuraError):
            # Disk full, folder not writable: the operator's problem to fix,
            # said in one line; nothing half-written is left behind.
            raise AuraError(f"cannot write the backup in {folder}: {exc.strerror or exc}",
                            hint="check free space and permissions of the backup folder") from None
        raise
    result = CreateResult(final, manifest, time.monotonic() - started, warnings=list(snap.warnings))
    with contextlib.suppress(OSError):
        mode = folder.stat().st_mode & 0o777
        if mode & 0o077:
            # aura-db made it 0700; someone opened it since (or made it so).
            result.warnings.append(f"backup folder {folder} is open to other users ({mode:04o}): the backups are "
                                   f"0600, but their names, sizes and times show; chmod 700 {folder}")
    if keep is not None or keep_safety is not None:
        # Only this database's: others sharing the folder keep what their own runs keep.
        # The file just written is known whole: it is not read again.
        result.prune = prune(folder, keep, keep_safety=keep_safety, protect=[final], known_good=[final],
                             keep_hourly=keep_hourly, keep_daily=keep_daily, keep_weekly=keep_weekly,
                             database=here)
        result.pruned = result.prune.deleted
        result.warnings.extend(result.prune.warnings)
    return result


def _identical_newest(eb: Any, folder: Path, here: DatabaseRef, tmp: Path, snap: Any, size: int, sha: str,
                      compression: str) -> BackupEntry | None:
    """The newest (regular or safety) backup of this database when the snapshot in ``tmp`` holds the same content.

    The same bytes (``size``/``sha``, and the old file read again to be sure
    it still is what its manifest says), or - where the engine can tell -
    the same content apart from aura-db's own run log, which a failed
    migrate writes to between its retries.
    """
    listed = list_backups(folder)
    keys = DatabaseKeys(listed, here=here)
    mine = keys.here(here)
    newest: dict[str, BackupEntry] = {}  # the newest of each kind: a restore just made live the regular one
    for e in listed:
        if e.manifest is not None and keys.of(e.manifest) == mine:
            newest.setdefault(e.manifest.kind, e)
    for e in sorted(newest.values(), key=lambda e: (sort_time(e.created_at), e.name), reverse=True):
        m = e.manifest
        if m.compression != compression or m.encrypted or e.size != m.size:
            continue
        if (m.size, m.sha256) == (size, sha):
            with contextlib.suppress(OSError):
                if sha256_file(e.path) == sha:
                    return e
            continue
        if m.schema_head == snap.schema_head and compression == "none":
            with contextlib.suppress(OSError):
                if eb.same_apart_from_run_log(tmp, e.path, m):
                    return e
    return None


def take_safety_backup(engine: "Engine", backup_dir: Path, *, label: str = "safety",
                       keep_safety: int = DEFAULT_KEEP_SAFETY, encrypt_to: Sequence[str] = (),
                       on_progress: Progress | None = None) -> CreateResult | None:
    """A backup taken before a change that cannot be undone; None when there is no database yet.

    It is a safety backup: kept apart from the regular ones (the newest
    ``keep_safety`` of them), never "latest", and not written again when the
    newest backup of this database already holds exactly these bytes.
    """
    label = check_label(label)
    recipients = check_recipients(encrypt_to)
    eb = engine.backup()
    if not eb.source_exists():
        return None
    eb.check_source()
    return create_with(eb, engine, Path(backup_dir), label=label, kind="safety", keep_safety=keep_safety,
                       recipients=recipients, on_progress=on_progress)


def safety_backup(engine: "Engine", backup_dir: Path, *, label: str = "safety",
                  keep_safety: int = DEFAULT_KEEP_SAFETY, encrypt_to: Sequence[str] = (),
                  on_progress: Progress | None = None) -> Path | None:
    """``take_safety_backup``, the path only."""
    made = take_safety_backup(engine, backup_dir, label=label, keep_safety=keep_safety, encrypt_to=encrypt_to,
                              on_progress=on_progress)
    return made.path if made is not None else None
