"""The manifest format: the ``Manifest`` beside every backup, backup file names, bounded reading.

A leaf above ``files`` only.  A manifest is a claim about a backup (engine,
source, size, sha256, row counts, kind); the content is the proof, checked by
the engine backups and by ``verify``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aura_db import __version__
from aura_db.backup.files import COMPRESSIONS, PREFIX
from aura_db.errors import CheckFailed, NoManifest, UsageError

FORMAT = "aura-db-backup"
# The newest manifest format this aura-db reads.  2: the file may be
# encrypted (``encrypted``); an unencrypted backup is still written as 1, so
# an older aura-db reads it, and refuses an encrypted one as "newer".
FORMAT_VERSION = 2
# "regular" (aura-db backup) or "safety" (taken before a change).
KINDS = ("regular", "safety")
# Safety backups written before this field existed are known by their label.
SAFETY_LABELS = frozenset({"safety", "pre-migrate", "pre-rollback", "pre-restore"})
# A manifest is a few KB; anything larger (or not a regular file) is not read.
MANIFEST_LIMIT = 1 << 20

NAME_RE = re.compile(
    r"^aura_backup_(?P<date>\d{8})_(?P<time>\d{6})(?:-(?P<seq>\d+))?(?:_(?P<label>[A-Za-z0-9._-]+?))?"
    r"(?P<ext>\.(?:db|dump|sql))(?P<comp>\.zst|\.gz)?(?P<age>\.age)?$"
)
_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")



@dataclass
class Manifest:
    engine: str
    source: str
    created_at: str
    schema_head: str | None
    row_counts: dict[str, int]
    size: int
    sha256: str
    compression: str
    label: str | None
    file: str
    raw_size: int | None = None
    server_version: str | None = None
    row_counts_exact: bool = True
    # "quick_check": these very bytes (sha256 above) passed PRAGMA quick_check
    # when the backup was taken; None where nothing vouches for the content.
    content_check: str | None = None
    # Compression inside the dump's own format ("gzip:9": pg_dump's), which
    # its tool reads as it is; ``compression`` is that of the file as stored.
    archive_compression: str | None = None
    # "regular" (aura-db backup) or "safety" (taken by migrate, rollback or
    # restore before a change): they are kept apart, and only a regular one
    # is ever "latest".
    kind: str = "regular"
    # What the database IS (``Engine.identity``): the server's own identifier
    # (PostgreSQL system identifier, Galera cluster UUID, MySQL server_uuid)
    # and the database name.  A standby's or another node's backup carries
    # the same identity as the primary's.  None: the engine gives none (a
    # SQLite file, MariaDB outside Galera) or the manifest is older; then the
    # source's address says which database it is.
    identity: str | None = None
    # Encrypted (compressed first, then encrypted): ``encryption`` names the
    # format ("age") and ``recipients`` the public keys it is encrypted to -
    # {"type": "x25519", "recipient": "age1..."} or {"type": "ssh-ed25519",
    # "fingerprint": "SHA256:..."}; never a secret.  size and sha256 are
    # those of the encrypted file.
    encrypted: bool = False
    encryption: str | None = None
    recipients: list[dict[str, str]] | None = None
    format: str = FORMAT
    format_version: int = 1
    aura_db_version: str = __version__

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Manifest":
        known = {f for f in cls.__dataclass_fields__}
        missing = [k for k in ("engine", "created_at", "size", "sha256", "compression", "file") if k not in data]
        if missing:
            raise ValueError(f"manifest lacks {', '.join(missing)}")
        values = {k: v for k, v in data.items() if k in known}
        if "kind" not in data:
            values["kind"] = "safety" if data.get("label") in SAFETY_LABELS else "regular"
        if values["kind"] not in KINDS:
            raise ValueError(f"unknown kind {values['kind']!r}")
        if values.get("encrypted") and values.get("encryption") != "age":
            raise ValueError(f"unknown encryption {values.get('encryption')!r}")
        return cls(**values)



def label_from_name(name: str) -> str | None:
    m = NAME_RE.match(name)
    return m.group("label") if m else None


def check_label(label: str | None) -> str | None:
    if label is None or label == "":
        return None
    if not _LABEL_RE.match(label):
        raise UsageError(
            f"bad label {label!r}",
            hint="use up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return label



def new_name(folder: Path, when: dt.datetime, label: str | None, ext: str, comp: str, *,
             encrypted: bool = False) -> str:
    stamp = when.strftime("%Y%m%d_%H%M%S")
    tail = f"_{label}" if label else ""
    age = ".age" if encrypted else ""
    seq = 0
    while True:
        name = f"{PREFIX}{stamp}{f'-{seq}' if seq else ''}{tail}{ext}{COMPRESSIONS[comp]}{age}"
        if not (folder / name).exists() and not (folder / f"{name}.json").exists():
            return name
        seq += 1



def created_from_name(name: str) -> str | None:
    m = NAME_RE.match(name)
    if not m:
        return None
    try:
        when = dt.datetime.strptime(m.group("date") + m.group("time"), "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return when.replace(tzinfo=dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")




def read_bounded(mpath: Path) -> bytes:
    """The bytes of ``mpath`` if it is a regular file of at most MANIFEST_LIMIT bytes.

    Opened without blocking (a FIFO would otherwise wait for a writer for
    ever) and checked on the open descriptor (a symlink to a FIFO or a device
    is what it points at), so nothing is read from anything but a small file.
    """
    import stat

    fd = os.open(mpath, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            what = ("a FIFO" if stat.S_ISFIFO(st.st_mode) else "a folder" if stat.S_ISDIR(st.st_mode)
                    else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                    else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
            raise CheckFailed(f"manifest {mpath.name} is {what}, not a regular file: ignored",
                              hint=f"an aura-db manifest is a small JSON file; look at {mpath}")
        if st.st_size > MANIFEST_LIMIT:
            raise CheckFailed(f"manifest {mpath.name} is {st.st_size} bytes, over the {MANIFEST_LIMIT >> 20} MiB "
                              "a manifest can be: ignored", hint=f"an aura-db manifest is a few KB; look at {mpath}")
        chunks, total = [], 0
        while total <= MANIFEST_LIMIT:
            block = os.read(fd, MANIFEST_LIMIT + 1 - total)
            if not block:
                break
            chunks.append(block)
            total += len(block)
        if total > MANIFEST_LIMIT:  # grew since fstat
            raise CheckFailed(f"manifest {mpath.name} is over the {MANIFEST_LIMIT >> 20} MiB a manifest can be: ignored")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_manifest(path: Path) -> Manifest:
    """The manifest beside ``path``; CheckFailed when missing, not ours, or not a small regular file."""
    mpath = path.with_name(path.name + ".json")
    try:
        data = json.loads(read_bounded(mpath).decode("utf-8"))
    except FileNotFoundError:
        raise NoManifest(
            f"{path.name} has no manifest ({mpath.name}): not an aura-db backup, or an unfinished one"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise CheckFailed(f"manifest {mpath.name} is unreadable: {reason}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckFailed(f"{mpath.name} is not an aura-db backup manifest")
    if int(data.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckFailed(
            f"{path.name} was written by a newer aura-db (manifest format {data.get('format_version')})",
            hint="upgrade aura-db to restore it",
        )
    try:
        return Manifest.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise CheckFailed(f"manifest {mpath.name} is damaged: {exc}") from None
