"""What the backup folder holds: list, ``latest``, a FILE argument resolved, which database a backup is of.

Read-only: nothing here creates, writes or deletes a file.  Above the leaves
(``files``, ``manifest``); below verify, retention, create and restore.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aura_db.backup.files import sha256_file
from aura_db.backup.manifest import NAME_RE, Manifest, created_from_name, label_from_name, read_manifest
from aura_db.errors import CheckFailed, NoManifest, UsageError

@dataclass
class BackupEntry:
    """One backup in the folder, as ``list`` shows it."""

    path: Path
    manifest: Manifest | None
    state: str  # ok | unchecked | no manifest | bad manifest | size differs | checksum differs
    size: int
    created_at: str | None
    problem: str | None = None  # why the manifest could not be read

    @property
    def kind(self) -> str | None:
        return self.manifest.kind if self.manifest else None

    @property
    def name(self) -> str:
        return self.path.name

    def to_dict(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "file": self.name,
            "path": str(self.path),
            "created_at": self.created_at,
            "size": self.size,
            "engine": m.engine if m else None,
            "schema_head": m.schema_head if m else None,
            "label": m.label if m else label_from_name(self.name),
            "compression": m.compression if m else None,
            "encrypted": bool(m and m.encrypted),
            "sha256": m.sha256 if m else None,
            "row_counts": m.row_counts if m else None,
            "state": self.state,
            "kind": self.kind,
            "identity": m.identity if m else None,
            "problem": self.problem,
        }


def _entry(path: Path, *, checksums: bool) -> BackupEntry:
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    try:
        manifest: Manifest | None = read_manifest(path)
    except CheckFailed as exc:
        state = "no manifest" if isinstance(exc, NoManifest) else "bad manifest"
        created = created_from_name(path.name)
        return BackupEntry(path, None, state, size, created, problem=exc.message)
    if size != manifest.size:
        state = "size differs"
    elif checksums:
        state = "ok" if sha256_file(path) == manifest.sha256 else "checksum differs"
    else:
        state = "unchecked"
    return BackupEntry(path, manifest, state, size, manifest.created_at)



def sort_time(created_at: str | None) -> float:
    try:
        return dt.datetime.fromisoformat((created_at or "").replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def listing_warnings(entries: list[BackupEntry]) -> list[str]:
    """One line for each backup whose manifest could not be read (a FIFO, a huge file, bad JSON)."""
    return [e.problem for e in entries if e.state == "bad manifest" and e.problem]


def list_backups(backup_dir: Path, *, checksums: bool = False) -> list[BackupEntry]:
    """The backups in the folder, newest first.  Read-only: never creates the folder.

    Manifests are read only when they are small regular files (``read_manifest``):
    anything else is an entry in state "bad manifest" whose ``problem`` says why.
    """
    folder = Path(backup_dir)
    if not folder.is_dir():
        return []
    entries = [
        _entry(p, checksums=checksums)
        for p in folder.iterdir()
        if NAME_RE.match(p.name) and p.is_file()
    ]
    entries.sort(key=lambda e: (sort_time(e.created_at), e.name), reverse=True)
    return entries


def latest_candidates(backup_dir: Path, *, engine: str | None = None, source: str | None = None,
                      identity: str | None = None) -> tuple[list[Path], list[str]]:
    """What ``latest`` may mean, best first, and warnings about what the folder holds.

    Regular backups (never a safety backup) of ``engine`` and, when given,
    of the database ``source`` (as manifests name it; by ``identity`` where
    known: ``DatabaseKeys``), newest first, whose manifest reads and whose
    size matches it; the checksum and content are
    the caller's to check (restore checks them as it stages, and goes on to
    the next when one fails).  UsageError when there is none.
    """
    folder = Path(backup_dir)
    entries = list_backups(folder)
    warnings = listing_warnings(entries)
    usable = [e for e in entries
              if e.manifest is not None and (engine is None or e.manifest.engine == engine)]
    if source is None:
        mine = usable
    else:
        here = DatabaseRef(engine or "", source, identity)
        keys = DatabaseKeys(entries, here=here)
        mine = [e for e in usable if keys.of(e.manifest) == keys.here(here)]
    regular = [e for e in mine if e.manifest.kind == "regular"]
    whole = [e for e in regular if e.state != "size differs"]
    for e in regular:
        if e.state == "size differs":
            warnings.append(f"{e.name} is {e.size} bytes, its manifest says {e.manifest.size}: damaged, passed over")
    if whole:
        return [e.path for e in whole], warnings
    of = f" of {source}" if source else (f" of a {engine} database" if engine else "")
    if regular:
        raise CheckFailed(f"no usable regular backup{of} in {folder}: every one is damaged "
                          f"(newest: {regular[0].name})", hint="name an older file, or a safety backup, to restore it")
    safety = [e for e in mine if e.manifest.kind == "safety"]
    if safety:
        raise UsageError(f"no regular backups{of} in {folder}; {len(safety)} safety backup(s) "
                         f"(newest: {safety[0].name}, taken before a {safety[0].manifest.label or 'change'})",
                         hint="`latest` never means a safety backup: name the file to restore it")
    if usable:
        raise UsageError(
            f"no backups{of} in {folder}; {len(usable)} of other databases "
            f"(newest: {usable[0].name}, of {usable[0].manifest.source})",
            hint="name the one to restore here: aura-db restore FILE")
    raise UsageError(f"no backups{of} in {folder}", hint="take one with `aura-db backup`")


def resolve_backup(backup_dir: Path, spec: str, *, engine: str | None = None, source: str | None = None,
                   identity: str | None = None) -> Path:
    """FILE as the user gave it: ``latest``, a name in the backup folder, or a path.

    ``latest`` is the newest regular backup (never a safety backup) of
    ``engine`` and, when given, of the database ``source`` (as manifests
    name it) whose size matches its manifest: one folder may hold the
    backups of several databases, and another database's newest is never
    "latest" here.
    """
    folder = Path(backup_dir)
    if spec == "latest":
        return latest_candidates(folder, engine=engine, source=source, identity=identity)[0][0]
    candidates = [Path(spec)]
    if not Path(spec).is_absolute():
        candidates.append(folder / spec)
    for c in candidates:
        if c.is_file():
            return c.resolve()
    for c in candidates:
        if c.exists():
            raise UsageError(f"{spec} is not a file")
    raise UsageError(f"backup {spec} not found", hint=f"see `aura-db backup list` (folder {folder})")


def database_key(engine: str, source: str) -> tuple[str, str]:
    """Which database a manifest's ``source`` names: the file, or server, port and database.

    The user in a server URL is left out: the same database reached with
    other credentials is still the same database.
    """
    from aura_db.engines.registry import ENGINES

    cls = ENGINES.get(engine)
    if (cls is not None and cls.features.database_is_a_file) or "://" not in source:
        return engine, source
    from urllib.parse import urlsplit

    parts = urlsplit(source)
    try:
        port = parts.port or (cls.dialect.default_port if cls is not None else None)
    except ValueError:
        return engine, source
    return engine, f"{(parts.hostname or '').lower()}:{port}{parts.path}"


def database_of(m: Manifest) -> tuple[str, str]:
    return database_key(m.engine, m.source)


@dataclass(frozen=True)
class DatabaseRef:
    """The database a command works on: its engine, address (``Engine.describe``) and identity."""

    engine: str
    source: str
    identity: str | None = None


def this_database(engine: Any, reader: Any = None, *, asking: Any = None) -> DatabaseRef:
    """``engine``'s database as backups name it: its identity asked of the server (None when it cannot tell).

    ``reader`` (an ``Engine.Reader``) asks on a connection the caller holds
    open: behind a pooler, a second connection might wait for the one held.
    ``asking``: the engine to ask instead, the same database reached
    another way (a restore behind a pooler asks ``direct_url``, never the
    pooler it may have been told to pause).
    """
    from aura_db.errors import AuraError

    try:
        identity = (asking or engine).identity(reader)
    except AuraError:  # out of reach: its address is all there is
        identity = None
    return DatabaseRef(engine.name, engine.describe(), identity)


class DatabaseKeys:
    """Which database each backup of a folder is of: the one place that decides "same database".

    Backups are of the same database when their manifests carry the same
    identity (``Engine.identity``: PostgreSQL system identifier, Galera
    cluster UUID or MySQL server_uuid, and the database name), wherever
    they were taken: on a standby, another Galera node, through another
    host name.  A manifest without one (older aura-db, SQLite, MariaDB
    outside Galera) is known by its address (``database_key``); an address
    that newer manifests (or ``here``, the database at hand) pair with an
    identity stands for that identity, so old and new backups of one
    database stay one database.  Keys are plain tuples: equal keys, same
    database.
    """

    def __init__(self, entries: list[BackupEntry], *, here: DatabaseRef | None = None):
        self._at: dict[tuple[str, str], str] = {}
        if here is not None and here.identity:
            self._at[database_key(here.engine, here.source)] = here.identity
        for e in entries:  # newest first: an address reused by another server goes to the newest
            m = e.manifest
            if m is not None and m.identity:
                self._at.setdefault(database_key(m.engine, m.source), m.identity)

    def key(self, engine: str, source: str, identity: str | None = None) -> tuple[str, str]:
        at = database_key(engine, source)
        identity = identity or self._at.get(at)
        return (engine, f"identity {identity}") if identity else (engine, f"at {at[1]}")

    def of(self, m: Manifest) -> tuple[str, str]:
        return self.key(m.engine, m.source, m.identity)

    def here(self, ref: DatabaseRef) -> tuple[str, str]:
        return self.key(ref.engine, ref.source, ref.identity)
