"""Backups: create / list / verify / prune / restore -> dataclasses.

A backup is one file in the backup folder plus its manifest (``<file>.json``)
beside it.  Both are written under a hidden temporary name, fsynced, then
renamed into place - the manifest first, the backup file last - so a run
killed at any moment leaves nothing that ``list_backups`` shows or ``restore``
accepts; the hidden leftovers are removed by the next run.

What differs between engines (how to take a consistent snapshot, how to check
one, how to put one back) lives in ``aura_db.backup_engines``, one class per
engine.  This module never prints, prompts or exits: it returns dataclasses,
raises ``aura_db.errors`` subclasses and reports progress through callbacks.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from aura_db import __version__
from aura_db.errors import AuraError, BackupRejected, CheckFailed, NoManifest, UsageError
from aura_db.errors import DatabaseInUse as DatabaseInUse  # its old home: backup_engines imports it from here

if TYPE_CHECKING:
    from aura_db.db import Engine

FORMAT = "aura-db-backup"
FORMAT_VERSION = 1
PREFIX = "aura_backup_"
COMPRESSIONS = {"none": "", "zstd": ".zst", "gzip": ".gz"}
DEFAULT_KEEP = 10
# Safety backups (taken before migrate, rollback, restore) are kept apart from
# the regular ones: their own newest N of each database.  Five covers a day of
# retries and rollbacks without letting a loop of failed runs fill the disk.
DEFAULT_KEEP_SAFETY = 5
# Safety backups written before this field existed are known by their label.
SAFETY_LABELS = frozenset({"safety", "pre-migrate", "pre-rollback", "pre-restore"})
# A manifest is a few KB; anything larger (or not a regular file) is not read.
MANIFEST_LIMIT = 1 << 20
CHUNK = 1 << 20  # 1 MiB: large enough for syscalls and hashing to run at disk speed
# zstd level 1 on one thread compresses typical Aura data at several hundred
# MB/s (benchmarks/backup_bench.py); its multi-threaded mode was slower fed
# 1 MiB at a time, and level 3 a third as fast for a few percent of size.
ZSTD_LEVEL = 1
GZIP_LEVEL = 1

# on_progress(phase, done_bytes, total_bytes or None)
Progress = Callable[[str, int, "int | None"], None]

_NAME_RE = re.compile(
    r"^aura_backup_(?P<date>\d{8})_(?P<time>\d{6})(?:-(?P<seq>\d+))?(?:_(?P<label>[A-Za-z0-9._-]+?))?"
    r"(?P<ext>\.(?:db|dump|sql))(?P<comp>\.zst|\.gz)?$"
)
_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


# --------------------------------------------------------------------------
# Results


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
    format: str = FORMAT
    format_version: int = FORMAT_VERSION
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
        if values["kind"] not in ("regular", "safety"):
            raise ValueError(f"unknown kind {values['kind']!r}")
        return cls(**values)


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
            "label": m.label if m else _label_from_name(self.name),
            "compression": m.compression if m else None,
            "sha256": m.sha256 if m else None,
            "row_counts": m.row_counts if m else None,
            "state": self.state,
            "kind": self.kind,
            "problem": self.problem,
        }


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


@dataclass
class VerifyResult:
    path: Path
    ok: bool
    checks: dict[str, str] = field(default_factory=dict)  # check -> "ok" | what is wrong
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    manifest: Manifest | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.path.name,
            "path": str(self.path),
            "ok": self.ok,
            "checks": self.checks,
            "problems": self.problems,
            "warnings": self.warnings,
        }


@dataclass
class PruneDecision:
    path: Path
    action: str  # keep | delete | leave
    reason: str
    kind: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.path.name, "action": self.action, "kind": self.kind, "reason": self.reason}


@dataclass
class PruneResult:
    """What retention keeps, deletes and leaves alone, each with its reason.

    ``deleted`` lists what is to be deleted by a plan (``plan_prune``) and
    what was deleted by ``prune``; ``left`` are files retention does not
    judge (damaged, or without a readable manifest): never counted as kept,
    never deleted.
    """

    kept: list[Path]
    deleted: list[Path]
    left: list[Path] = field(default_factory=list)
    decisions: list[PruneDecision] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"kept": [p.name for p in self.kept], "deleted": [p.name for p in self.deleted],
                "left": [p.name for p in self.left], "decisions": [d.to_dict() for d in self.decisions],
                "warnings": self.warnings}


@dataclass
class RestorePlan:
    """What a restore is about to do, for the confirmation prompt."""

    backup: Path
    manifest: Manifest
    target: str
    live_exists: bool
    live_head: str | None
    live_counts: dict[str, int] | None
    safety_backup: bool
    # Said before the question: what the operator should know first (a backup
    # of another database, a restore the engine cannot make atomic).
    caveats: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "backup": str(self.backup),
            "backup_source": self.manifest.source,
            "created_at": self.manifest.created_at,
            "schema_head": self.manifest.schema_head,
            "target": self.target,
            "caveats": list(self.caveats),
            "live_exists": self.live_exists,
            "live_head": self.live_head,
            "row_counts": {
                t: {"backup": self.manifest.row_counts.get(t),
                    "live": (self.live_counts or {}).get(t)}
                for t in sorted(set(self.manifest.row_counts) | set(self.live_counts or {}))
            },
        }


@dataclass
class RestoreResult:
    plan: RestorePlan
    safety_backup: Path | None
    pending: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    warnings: list[str] = field(default_factory=list)
    # Applied in the restored database but not among the migrations on disk:
    # the database is ahead of (or apart from) this checkout's code.
    unknown: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    # The safety backup was not written: the live content was identical to
    # the newest backup of this database, which ``safety_backup`` names.
    safety_reused: bool = False
    # Ctrl-C came after the swap: the database *is* restored; what follows
    # the swap (the migrations check) was skipped.
    interrupted: bool = False
    # Newer backups ``latest`` passed over because they failed their checks.
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = self.plan.to_dict()
        d.update({
            "restored": True,
            "interrupted": self.interrupted,
            "safety_backup": str(self.safety_backup) if self.safety_backup else None,
            "safety_backup_reused": self.safety_reused,
            "skipped": self.skipped,
            "pending": self.pending,
            "not_on_disk": self.unknown,
            "changed": self.changed,
            "duration_s": round(self.duration_s, 3),
            "warnings": self.warnings,
        })
        return d


# --------------------------------------------------------------------------
# Files: names, permissions, atomic publication


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _label_from_name(name: str) -> str | None:
    m = _NAME_RE.match(name)
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


def check_compression(compression: str) -> str:
    if compression not in COMPRESSIONS:
        raise UsageError(f"unknown compression {compression!r}", hint="use zstd, gzip or none")
    return compression


def ensure_folder(folder: Path) -> Path:
    """The backup folder, created owner-only (0700) when missing."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise AuraError(f"cannot create backup folder {folder}: {exc.strerror}") from None
    if not folder.is_dir():
        raise AuraError(f"backup folder {folder} is not a folder")
    return folder


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_TMP_RE = re.compile(r"^\.(?:aura_backup_|aura_verify_|aura_stage_).*\.tmp-(?P<pid>\d+)(?:[.-].*)?$")


def tmp_name(folder: Path, base: str) -> Path:
    """A hidden temporary name owned by this process (the pid lets the next run tidy up)."""
    return folder / f".{base}.tmp-{os.getpid()}"


def clean_leftovers(folder: Path) -> list[Path]:
    """Remove temporary files of runs that died, and manifests whose backup never appeared."""
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    now = time.time()
    for p in folder.iterdir():
        m = _TMP_RE.match(p.name)
        if m and not _pid_alive(int(m.group("pid"))):
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
        elif p.name.startswith(PREFIX) and p.name.endswith(".json"):
            # A run killed between its two renames leaves the manifest alone;
            # a minute's grace keeps a live run's manifest from being taken.
            backup = p.with_name(p.name[: -len(".json")])
            with contextlib.suppress(OSError):
                if not backup.exists() and now - p.stat().st_mtime > 60:
                    p.unlink()
                    removed.append(p)
    return removed


def _new_name(folder: Path, when: dt.datetime, label: str | None, ext: str, comp: str) -> str:
    stamp = when.strftime("%Y%m%d_%H%M%S")
    tail = f"_{label}" if label else ""
    seq = 0
    while True:
        name = f"{PREFIX}{stamp}{f'-{seq}' if seq else ''}{tail}{ext}{COMPRESSIONS[comp]}"
        if not (folder / name).exists() and not (folder / f"{name}.json").exists():
            return name
        seq += 1


class HashingWriter:
    """Writes to a file descriptor, counting and hashing what it writes.

    With a compressor, data is compressed first; the hash and size are those of
    the bytes on disk, which is what the manifest promises.
    """

    def __init__(self, fd: int, compression: str = "none", path: Path | None = None):
        self.fd = fd
        self.path = path  # the file behind fd, for checks that open it by name
        self.sha = hashlib.sha256()
        self.size = 0
        self.raw_size = 0
        self._comp = _compressor(compression)
        self.archive_compression: str | None = None  # the dump compresses itself (see create_with)

    def write(self, data: bytes | memoryview) -> None:
        self.raw_size += len(data)
        if self._comp is not None:
            data = self._comp.compress(data)
            if not data:
                return
        self._put(data)

    def _put(self, data: bytes | memoryview) -> None:
        self.sha.update(data)
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.size += len(data)

    def copy_from(self, src_fd: int, total: int, on_progress: "Progress | None" = None,
                  phase: str = "backup", after_copy: Callable[[], None] | None = None) -> bool:
        """Copy ``total`` bytes of ``src_fd`` in the kernel, hashing what landed on our side.

        Only without compression; False when the kernel cannot (other file
        systems, old kernels) and the caller streams through ``write``.
        The hash trails the copy on a second thread, reading back the bytes
        just written (from the page cache), so it costs no extra wall time.
        """
        import queue
        import threading

        if self._comp is not None or not hasattr(os, "copy_file_range") or self.size:
            return False
        step = 16 * CHUNK
        marks: "queue.Queue[int | None]" = queue.Queue()
        failed: list[BaseException] = []

        def hasher() -> None:
            pos = 0
            try:
                while True:
                    end = marks.get()
                    if end is None:
                        return
                    while pos < end:
                        block = os.pread(self.fd, min(CHUNK, end - pos), pos)
                        if not block:
                            raise OSError(f"short read at {pos}")
                        self.sha.update(block)
                        pos += len(block)
            except BaseException as exc:  # noqa: BLE001 - handed to the copier
                failed.append(exc)

        # The descriptor was opened write-only; hashing reads it back.
        t = threading.Thread(target=hasher, daemon=True)
        off = 0
        try:
            n = os.copy_file_range(src_fd, self.fd, min(step, total), 0, 0) if total else 0
        except OSError:
            return False
        t.start()
        try:
            off += n
            marks.put(off)
            while off < total and not failed:
                n = os.copy_file_range(src_fd, self.fd, min(step, total - off), off, off)
                if n == 0:
                    break
                off += n
                marks.put(off)
                if on_progress:
                    on_progress(phase, off, total)
            marks.put(None)
            if not failed and after_copy is not None:
                after_copy()
            if not failed:
                # Flush to disk while the hash is still reading back: the two
                # overlap instead of adding up.
                os.fsync(self.fd)
        finally:
            marks.put(None)
            t.join()
        if failed:
            raise failed[0]
        self.size = self.raw_size = off
        return True

    def finish(self) -> None:
        if self._comp is not None:
            tail = self._comp.flush()
            if tail:
                self._put(tail)
        os.fsync(self.fd)


COPY_BUFFER = 2 << 20  # bytes per buffer of copy_verified
COPY_BUFFERS = 8  # buffers in flight: 16 MiB of memory whatever the size of the file
_DIRECT_ALIGN = 4096  # O_DIRECT wants offsets and lengths in whole blocks; 4 KiB suits every disk


def open_new_for_copy(path: Path) -> int:
    """``path`` created (0600, truncated) for ``copy_verified``, with O_DIRECT where the file system has it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    direct = getattr(os, "O_DIRECT", 0)
    if direct:
        try:
            return os.open(path, flags | direct, 0o600)
        except OSError as exc:
            if exc.errno != errno.EINVAL:  # EINVAL: this file system has no O_DIRECT
                raise
    return os.open(path, flags, 0o600)


def copy_verified(src_fd: int, dst_fd: int, total: int, on_progress: Progress | None = None,
                  phase: str = "restore") -> str:
    """Copy the first ``total`` bytes of ``src_fd`` to ``dst_fd``; the sha256 of exactly what was written.

    Each block is read once into a private buffer; one thread hashes it while
    another writes it, and a buffer is refilled only when both are done with
    it - so the hash is of the very bytes handed to the disk, whatever happens
    to the source meanwhile.  When ``dst_fd`` was opened with O_DIRECT
    (``open_new_for_copy``) the writes go from those buffers straight to the
    disk: no copy into the page cache and no writeback left for fsync, which
    leaves the CPU to the hash and to the caller's integrity check
    (benchmarks/backup_bench.py).  A write the file system refuses as
    O_DIRECT is repeated through the page cache.  Memory stays at
    COPY_BUFFERS x COPY_BUFFER.  The caller still fsyncs ``dst_fd``.
    """
    import mmap
    import queue
    import threading

    direct_flag = getattr(os, "O_DIRECT", 0)
    if direct_flag:
        import fcntl
    direct = [bool(direct_flag and fcntl.fcntl(dst_fd, fcntl.F_GETFL) & direct_flag)]

    def buffered() -> None:
        fcntl.fcntl(dst_fd, fcntl.F_SETFL, fcntl.fcntl(dst_fd, fcntl.F_GETFL) & ~direct_flag)
        direct[0] = False

    def put(view: memoryview, off: int) -> None:
        while view:
            if direct[0] and (len(view) % _DIRECT_ALIGN or off % _DIRECT_ALIGN):
                whole = len(view) - len(view) % _DIRECT_ALIGN
                if whole and off % _DIRECT_ALIGN == 0:
                    put(view[:whole], off)
                    view, off = view[whole:], off + whole
                    continue
                buffered()  # the tail of a file that is not in whole blocks
            try:
                n = os.pwrite(dst_fd, view, off)
            except OSError as exc:
                if direct[0] and exc.errno == errno.EINVAL:
                    buffered()
                    continue
                raise
            view, off = view[n:], off + n

    buffers = [mmap.mmap(-1, COPY_BUFFER) for _ in range(COPY_BUFFERS)]  # page-aligned, as O_DIRECT needs
    free: "queue.Queue[mmap.mmap | None]" = queue.Queue()
    for b in buffers:
        free.put(b)
    to_hash: queue.Queue = queue.Queue()
    to_write: queue.Queue = queue.Queue()
    sha = hashlib.sha256()
    lock = threading.Lock()
    users: dict[int, int] = {}
    done = [0]
    failed: list[BaseException] = []

    def release(buf: mmap.mmap, n: int) -> None:
        with lock:
            users[id(buf)] -= 1
            last = users[id(buf)] == 0
            if last:
                done[0] += n
        if last:
            free.put(buf)

    def hasher() -> None:
        try:
            while (item := to_hash.get()) is not None:
                buf, n, _ = item
                with memoryview(buf) as view:
                    sha.update(view[:n])
                release(buf, n)
        except BaseException as exc:  # noqa: BLE001 - handed to the reader
            failed.append(exc)
            free.put(None)

    def writer() -> None:
        try:
            while (item := to_write.get()) is not None:
                buf, n, off = item
                with memoryview(buf) as view:
                    put(view[:n], off)
                release(buf, n)
        except BaseException as exc:  # noqa: BLE001 - handed to the reader
            failed.append(exc)
            free.put(None)

    workers = [threading.Thread(target=hasher, daemon=True), threading.Thread(target=writer, daemon=True)]
    for t in workers:
        t.start()
    off = 0
    try:
        while off < total and not failed:
            buf = free.get()
            if buf is None:
                break
            want = min(COPY_BUFFER, total - off)
            got = 0
            with memoryview(buf) as view:
                while got < want:
                    n = os.preadv(src_fd, [view[got:want]], off + got)
                    if n == 0:
                        break
                    got += n
            if got < want:
                raise AuraError(f"the file shrank while it was copied ({off + got} of {total} bytes)")
            with lock:
                users[id(buf)] = 2
            to_hash.put((buf, got, off))
            to_write.put((buf, got, off))
            off += got
            if on_progress:
                on_progress(phase, done[0], total)
    finally:
        to_hash.put(None)
        to_write.put(None)
        for t in workers:
            t.join()
        for b in buffers:
            # After a failure the traceback may still hold a view of a buffer;
            # the buffer is then freed with the traceback.
            with contextlib.suppress(BufferError):
                b.close()
    if failed:
        raise failed[0]
    if on_progress:
        on_progress(phase, total, total)
    return sha.hexdigest()


def _compressor(compression: str):
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compressobj()
    if compression == "gzip":
        import zlib

        return zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    return None


def read_decompressed(path: Path, compression: str, *, on_chunk: Callable[[bytes], None] | None = None,
                      chunk: int = CHUNK) -> Iterator[bytes]:
    """The backup's content as a stream of chunks, in constant memory.

    ``on_chunk`` sees every chunk of the file *as stored* (to hash it while it
    streams, so a restore reads the backup once).
    """
    with open(path, "rb", buffering=0) as f:
        def raw() -> Iterator[bytes]:
            while True:
                block = f.read(chunk)
                if not block:
                    return
                if on_chunk is not None:
                    on_chunk(block)
                yield block

        if compression == "none":
            yield from raw()
        elif compression == "zstd":
            import zstandard

            # read_to_iter bounds every output chunk: a page of zeros
            # compresses a thousandfold, and decompressobj would hand all of
            # it back at once.
            class _Reader:
                def __init__(self) -> None:
                    self.it = raw()
                    self.total = 0

                def read(self, n: int = -1) -> bytes:
                    try:
                        block = next(self.it)
                    except StopIteration:
                        return b""
                    self.total += len(block)
                    return block

            reader = _Reader()
            produced = 0
            try:
                for out in zstandard.ZstdDecompressor().read_to_iter(reader, read_size=chunk, write_size=chunk):
                    produced += len(out)
                    yield out
            except zstandard.ZstdError as exc:
                raise CheckFailed(f"{path.name}: zstd data is damaged ({exc})") from None
            # read_to_iter does not tell a frame cut short from a whole one;
            # every caller compares the sha256 of the stored bytes with the
            # manifest (verify before, restore while it streams and before
            # anything is used), and that is what proves the stream complete.
            if produced == 0 and reader.total > 0:
                raise CheckFailed(f"{path.name}: zstd stream holds no data")
        elif compression == "gzip":
            import zlib

            dobj = zlib.decompressobj(31)
            try:
                for block in raw():
                    out = dobj.decompress(block, chunk)
                    while out:
                        yield out
                        out = dobj.decompress(dobj.unconsumed_tail, chunk) if dobj.unconsumed_tail else b""
            except zlib.error as exc:
                raise CheckFailed(f"{path.name}: gzip data is damaged ({exc})") from None
            if not dobj.eof:
                raise CheckFailed(f"{path.name}: gzip stream is truncated")
        else:
            raise CheckFailed(f"{path.name}: unknown compression {compression!r} in its manifest")


def iter_file(path: Path, on_progress: Progress | None = None, phase: str = "checksum") -> Iterator[bytes]:
    """The file in CHUNK-sized blocks, reporting progress as it goes (constant memory)."""
    total = path.stat().st_size
    done = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            block = f.read(CHUNK)
            if not block:
                return
            done += len(block)
            yield block
            if on_progress:
                on_progress(phase, done, total)


def sha256_file(path: Path, on_progress: Progress | None = None) -> str:
    sha = hashlib.sha256()
    for block in iter_file(path, on_progress, "checksum"):
        sha.update(block)
    return sha.hexdigest()


def _publish(tmp: Path, final: Path) -> bool:
    """Give the finished file ``tmp`` the name ``final``, unless that name is taken (then False)."""
    try:
        os.link(tmp, final)  # unlike rename, never replaces
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        # A file system without hard links: check, then rename (a race of
        # two runs in the same second can still lose one here).
        if final.exists():
            return False
        os.rename(tmp, final)
        return True
    os.unlink(tmp)
    return True


def _write_json_file(path: Path, doc: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_bounded(mpath: Path) -> bytes:
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
        data = json.loads(_read_bounded(mpath).decode("utf-8"))
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


# --------------------------------------------------------------------------
# create


def create_backup(
    engine: "Engine",
    backup_dir: Path,
    *,
    label: str | None = None,
    compression: str = "none",
    keep: int | None = DEFAULT_KEEP,
    keep_safety: int = DEFAULT_KEEP_SAFETY,
    on_progress: Progress | None = None,
) -> CreateResult:
    """A consistent snapshot of the live database into the backup folder, with its manifest.

    Afterwards applies retention to this database's backups (``prune``):
    the newest ``keep`` good regular ones and the newest ``keep_safety``
    safety ones, never the one just made; ``keep=None`` prunes nothing.
    """
    from aura_db.backup_engines import for_engine

    label = check_label(label)
    compression = check_compression(compression)
    if keep is not None and keep < 1:
        raise UsageError(f"--keep must be at least 1, got {keep}")
    eb = for_engine(engine)
    eb.check_source()
    return create_with(eb, engine, Path(backup_dir), label=label, compression=compression, keep=keep,
                       keep_safety=keep_safety, on_progress=on_progress)


def create_with(eb: Any, engine: "Engine", backup_dir: Path, *, label: str | None,
                compression: str = "none", keep: int | None = None, keep_safety: int | None = None,
                kind: str = "regular", on_progress: Progress | None = None) -> CreateResult:
    """``create_backup`` with the engine's backup object given (a restore's safety backup reuses its lock).

    A ``kind="safety"`` backup whose bytes are identical to the newest
    backup of this database (and that file is still whole) is not written
    again: the result names that file, with ``reused`` set.
    """
    started = time.monotonic()
    folder = ensure_folder(Path(backup_dir))
    clean_leftovers(folder)
    when = _utcnow()
    # Where the dump format compresses itself (PostgreSQL gzip), the file is
    # stored as the tool wrote it: compressing it again only adds bytes.
    inside = eb.archive_compression(compression)
    if inside is not None:
        compression = "none"
    name = _new_name(folder, when, label, eb.suffix, compression)
    final = folder / name
    tmp = tmp_name(folder, name)
    mtmp = tmp_name(folder, name + ".json")
    try:
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            writer = HashingWriter(fd, compression, path=tmp)
            writer.archive_compression = inside
            snap = eb.snapshot(writer, folder, on_progress)
            writer.finish()
        finally:
            os.close(fd)
        if kind == "safety":
            same = _identical_newest(eb, folder, engine, tmp, snap, writer.size, writer.sha.hexdigest(),
                                     compression)
            if same is not None:
                tmp.unlink()
                result = CreateResult(same.path, same.manifest, time.monotonic() - started, reused=True,
                                      warnings=list(snap.warnings))
                if keep_safety is not None:
                    result.prune = prune(folder, None, keep_safety=keep_safety, protect=[same.path],
                                         database=database_key(engine.name, engine.describe()))
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
            )
            _write_json_file(mtmp, manifest.to_dict())
            # Manifest first, backup last: the backup only becomes visible
            # once everything that vouches for it is durable.  Neither ever
            # replaces a file: another run that picked the same name in the
            # same second keeps its backup, and this one takes the next name.
            if _publish(mtmp, folder / f"{name}.json"):
                if _publish(tmp, final):
                    break
                (folder / f"{name}.json").unlink()  # a backup file nobody vouched for holds the name
            name = _new_name(folder, when, label, eb.suffix, compression)
            final = folder / name
        _fsync_dir(folder)
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
                             database=database_key(engine.name, engine.describe()))
        result.pruned = result.prune.deleted
        result.warnings.extend(result.prune.warnings)
    return result


def _identical_newest(eb: Any, folder: Path, engine: "Engine", tmp: Path, snap: Any, size: int, sha: str,
                      compression: str) -> BackupEntry | None:
    """The newest (regular or safety) backup of this database when the snapshot in ``tmp`` holds the same content.

    The same bytes (``size``/``sha``, and the old file read again to be sure
    it still is what its manifest says), or - where the engine can tell -
    the same content apart from aura-db's own run log, which a failed
    migrate writes to between its retries.
    """
    mine = database_key(engine.name, engine.describe())
    newest: dict[str, BackupEntry] = {}  # the newest of each kind: a restore just made live the regular one
    for e in list_backups(folder):
        if e.manifest is not None and _database_of(e.manifest) == mine:
            newest.setdefault(e.manifest.kind, e)
    for e in sorted(newest.values(), key=lambda e: (_sort_time(e.created_at), e.name), reverse=True):
        m = e.manifest
        if m.compression != compression or e.size != m.size:
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
                       keep_safety: int = DEFAULT_KEEP_SAFETY,
                       on_progress: Progress | None = None) -> CreateResult | None:
    """A backup taken before a change that cannot be undone; None when there is no database yet.

    It is a safety backup: kept apart from the regular ones (the newest
    ``keep_safety`` of them), never "latest", and not written again when the
    newest backup of this database already holds exactly these bytes.
    """
    from aura_db.backup_engines import for_engine

    label = check_label(label)
    eb = for_engine(engine)
    if not eb.source_exists():
        return None
    eb.check_source()
    return create_with(eb, engine, Path(backup_dir), label=label, kind="safety", keep_safety=keep_safety,
                       on_progress=on_progress)


def safety_backup(engine: "Engine", backup_dir: Path, *, label: str = "safety",
                  keep_safety: int = DEFAULT_KEEP_SAFETY, on_progress: Progress | None = None) -> Path | None:
    """``take_safety_backup``, the path only."""
    made = take_safety_backup(engine, backup_dir, label=label, keep_safety=keep_safety, on_progress=on_progress)
    return made.path if made is not None else None


# --------------------------------------------------------------------------
# list / resolve / prune


def _entry(path: Path, *, checksums: bool) -> BackupEntry:
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    try:
        manifest: Manifest | None = read_manifest(path)
    except CheckFailed as exc:
        state = "no manifest" if isinstance(exc, NoManifest) else "bad manifest"
        created = _created_from_name(path.name)
        return BackupEntry(path, None, state, size, created, problem=exc.message)
    if size != manifest.size:
        state = "size differs"
    elif checksums:
        state = "ok" if sha256_file(path) == manifest.sha256 else "checksum differs"
    else:
        state = "unchecked"
    return BackupEntry(path, manifest, state, size, manifest.created_at)


def _created_from_name(name: str) -> str | None:
    m = _NAME_RE.match(name)
    if not m:
        return None
    try:
        when = dt.datetime.strptime(m.group("date") + m.group("time"), "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return when.replace(tzinfo=dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sort_time(created_at: str | None) -> float:
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
        if _NAME_RE.match(p.name) and p.is_file()
    ]
    entries.sort(key=lambda e: (_sort_time(e.created_at), e.name), reverse=True)
    return entries


def latest_candidates(backup_dir: Path, *, engine: str | None = None, source: str | None = None
                      ) -> tuple[list[Path], list[str]]:
    """What ``latest`` may mean, best first, and warnings about what the folder holds.

    Regular backups (never a safety backup) of ``engine`` and, when given,
    of the database ``source`` (as manifests name it), newest first, whose
    manifest reads and whose size matches it; the checksum and content are
    the caller's to check (restore checks them as it stages, and goes on to
    the next when one fails).  UsageError when there is none.
    """
    folder = Path(backup_dir)
    entries = list_backups(folder)
    warnings = listing_warnings(entries)
    usable = [e for e in entries
              if e.manifest is not None and (engine is None or e.manifest.engine == engine)]
    mine = [e for e in usable
            if source is None or _database_of(e.manifest) == database_key(e.manifest.engine, source)]
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


def resolve_backup(backup_dir: Path, spec: str, *, engine: str | None = None, source: str | None = None) -> Path:
    """FILE as the user gave it: ``latest``, a name in the backup folder, or a path.

    ``latest`` is the newest regular backup (never a safety backup) of
    ``engine`` and, when given, of the database ``source`` (as manifests
    name it) whose size matches its manifest: one folder may hold the
    backups of several databases, and another database's newest is never
    "latest" here.
    """
    folder = Path(backup_dir)
    if spec == "latest":
        return latest_candidates(folder, engine=engine, source=source)[0][0]
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


_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}


def database_key(engine: str, source: str) -> tuple[str, str]:
    """Which database a manifest's ``source`` names: the file, or server, port and database.

    The user in a server URL is left out: the same database reached with
    other credentials is still the same database.
    """
    if engine == "sqlite" or "://" not in source:
        return engine, source
    from urllib.parse import urlsplit

    parts = urlsplit(source)
    try:
        port = parts.port or _DEFAULT_PORTS.get(engine)
    except ValueError:
        return engine, source
    return engine, f"{(parts.hostname or '').lower()}:{port}{parts.path}"


def _database_of(m: Manifest) -> tuple[str, str]:
    return database_key(m.engine, m.source)


def plan_prune(backup_dir: Path, keep: int | None, *, keep_safety: int | None = DEFAULT_KEEP_SAFETY,
               database: tuple[str, str] | None = None, protect: list[Path] | tuple = (),
               known_good: list[Path] | tuple = ()) -> PruneResult:
    """What retention keeps, deletes and leaves alone, and why; nothing is deleted.

    Per database (engine and source in the manifest; with ``database`` only
    that one), regular and safety backups are counted apart:

    * the newest ``keep`` *good* regular backups are kept (labelled ones
      are regular); a safety backup never takes a regular one's place;
    * the newest ``keep_safety`` good safety backups are kept;
    * a backup is good when its size and sha256 match its manifest, and the
      newest one kept also passes the content check (``verify_backup``).
      They are read only when something would be deleted, and only the
      backups about to count as kept (``known_good`` are not read);
    * a damaged backup, or one whose manifest cannot be read, is never
      counted as kept and never deleted: it is left for the operator;
    * so the newest good backup of each database is always kept.

    ``keep=None`` (or ``keep_safety=None``) leaves that kind alone.
    """
    for name, n in (("--keep", keep), ("keep_safety", keep_safety)):
        if n is not None and n < 1:
            raise UsageError(f"{name} must be at least 1, got {n}")
    protected = {Path(p).resolve() for p in protect}
    good = {Path(p).resolve() for p in known_good}
    result = PruneResult([], [])
    groups: dict[tuple[tuple[str, str], str], list[BackupEntry]] = {}
    for e in list_backups(backup_dir):  # newest first
        if e.manifest is None:
            if e.state == "bad manifest":
                result.warnings.append(e.problem or f"{e.name}: its manifest cannot be read")
                result.left.append(e.path)
                result.decisions.append(PruneDecision(e.path, "leave", f"{e.state}: not judged, not deleted"))
            continue  # no manifest at all: not aura-db's to judge
        key = _database_of(e.manifest)
        if database is not None and key != database:
            continue
        groups.setdefault((key, e.manifest.kind), []).append(e)
    for (_, kind), entries in groups.items():
        limit = keep if kind == "regular" else keep_safety
        word = "regular" if kind == "regular" else "safety"
        if limit is None:
            for e in entries:
                result.kept.append(e.path)
                result.decisions.append(PruneDecision(e.path, "keep", f"{word}: not pruned by this run", kind))
            continue
        whole = [e for e in entries if e.state != "size differs"]
        # Only when something would go are checksums worth reading.
        check = len(whole) > limit
        counted = 0
        for e in entries:
            if e.state == "size differs":
                result.left.append(e.path)
                result.decisions.append(PruneDecision(
                    e.path, "leave", f"damaged ({e.size} bytes, its manifest says {e.manifest.size}): "
                    "not counted as kept, not deleted", kind))
                continue
            if counted < limit:
                if check and e.path.resolve() not in good:
                    # The newest one to be kept is checked in full (checksum and
                    # content, as restore would): it is the one recovery relies
                    # on, and a manifest is no proof of content.  The rest by
                    # checksum.
                    problem = _prune_check(e, full=counted == 0)
                    if problem:
                        result.left.append(e.path)
                        result.decisions.append(PruneDecision(
                            e.path, "leave", f"damaged ({problem}): not counted as kept, not deleted", kind))
                        continue
                counted += 1
                why = "the newest good" if counted == 1 else f"#{counted} of the newest {limit} good"
                result.kept.append(e.path)
                result.decisions.append(PruneDecision(e.path, "keep", f"{why} {word} backup of its database", kind))
            elif e.path.resolve() in protected:
                result.kept.append(e.path)
                result.decisions.append(PruneDecision(e.path, "keep", "just written", kind))
            else:
                result.deleted.append(e.path)
                result.decisions.append(PruneDecision(
                    e.path, "delete", f"older than the newest {limit} good {word} backup(s) of its database", kind))
    return result


def _prune_check(e: BackupEntry, *, full: bool) -> str | None:
    """What is wrong with a backup retention is about to count as kept (None: nothing)."""
    if full:
        try:
            r = verify_backup(e.path)
        except CheckFailed as exc:
            return exc.message
        except AuraError:
            # The content cannot be checked here (no client tools): the
            # checksum is all retention can go by.
            return _prune_check(e, full=False)
        return None if r.ok else "; ".join(r.problems)[:300]
    try:
        return None if sha256_file(e.path) == e.manifest.sha256 else "sha256 differs from its manifest"
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}"


def prune(backup_dir: Path, keep: int | None, *, keep_safety: int | None = DEFAULT_KEEP_SAFETY,
          protect: list[Path] | tuple = (), database: tuple[str, str] | None = None,
          known_good: list[Path] | tuple = (), plan: PruneResult | None = None) -> PruneResult:
    """Apply retention (``plan_prune``, or the ``plan`` given): delete what it marks, with their manifests."""
    result = plan if plan is not None else plan_prune(backup_dir, keep, keep_safety=keep_safety,
                                                      database=database, protect=protect,
                                                      known_good=known_good)
    deleted: list[Path] = []
    for path in result.deleted:
        try:
            # The backup goes first: a manifest left alone is tidied later,
            # a backup left without its manifest would look foreign.
            path.unlink()
            with contextlib.suppress(FileNotFoundError):
                path.with_name(path.name + ".json").unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise AuraError(f"cannot delete {path}: {exc.strerror}") from None
        deleted.append(path)
    if deleted:
        _fsync_dir(Path(backup_dir))
    result.deleted = deleted
    return result


# --------------------------------------------------------------------------
# verify


def verify_backup(path: Path, *, engine: "Engine | None" = None, server: "Engine | None" = None,
                  full: bool = False, scratch_dir: Path | None = None,
                  on_progress: Progress | None = None) -> VerifyResult:
    """Checksum against the manifest, then the engine's own check of the content.

    ``engine`` is the live database's engine, when the backup must belong to
    it; ``server`` is where a full check of a server backup may restore into a
    scratch database.  Damage is reported in the result, not raised.
    """
    from aura_db.backup_engines import checker_for

    path = Path(path)
    result = VerifyResult(path, ok=False)
    if not path.is_file():
        result.problems.append(f"{path} does not exist")
        result.checks["file"] = "missing"
        return result
    try:
        manifest = read_manifest(path)
    except CheckFailed as exc:
        result.problems.append(exc.message)
        result.checks["manifest"] = exc.message
        return result
    result.manifest = manifest
    result.checks["manifest"] = "ok"
    if engine is not None and manifest.engine != engine.name:
        result.problems.append(f"{path.name} is a {manifest.engine} backup; the database is {engine.name}")
        result.checks["engine"] = f"{manifest.engine}, not {engine.name}"
        return result
    size = path.stat().st_size
    if size != manifest.size:
        result.problems.append(f"{path.name} is {size} bytes; its manifest says {manifest.size}")
        result.checks["size"] = "differs"
        return result
    result.checks["size"] = "ok"
    if sha256_file(path, on_progress) != manifest.sha256:
        result.problems.append(f"{path.name}: sha256 differs from its manifest (the file is damaged)")
        result.checks["sha256"] = "differs"
        return result
    result.checks["sha256"] = "ok"
    checker = checker_for(manifest.engine, server or engine)
    try:
        problems, warnings = checker.check_content(path, manifest, full=full,
                                                   scratch_dir=scratch_dir or path.parent,
                                                   on_progress=on_progress)
    except CheckFailed as exc:
        problems, warnings = [exc.message], []
    result.warnings.extend(warnings)
    result.checks["content"] = "ok" if not problems else "; ".join(problems)
    result.problems.extend(problems)
    result.ok = not result.problems
    return result


def verify_all(backup_dir: Path, *, server: "Engine | None" = None, full: bool = False,
               on_progress: Progress | None = None) -> list[VerifyResult]:
    return [verify_backup(e.path, server=server, full=full, on_progress=on_progress)
            for e in list_backups(backup_dir)]


# --------------------------------------------------------------------------
# restore


class _Background:
    """``fn()`` on a thread of its own; ``result()`` waits for it and returns or raises what it did."""

    def __init__(self, fn: Callable[[], Any]):
        import threading

        self._out: list[Any] = []
        self._err: list[BaseException] = []

        def run() -> None:
            try:
                self._out.append(fn())
            except BaseException as exc:  # noqa: BLE001 - raised again by result()
                self._err.append(exc)

        self._t = threading.Thread(target=run, daemon=True)
        self._t.start()

    def result(self) -> Any:
        self._t.join()
        if self._err:
            raise self._err[0]
        return self._out[0]


def restore(
    engine: "Engine",
    backup_dir: Path,
    spec: str,
    *,
    safety: bool = True,
    confirm: Callable[[RestorePlan], None] | None = None,
    migrations_dir: Path | None = None,
    lock_timeout: float = 10.0,
    keep_safety: int = DEFAULT_KEEP_SAFETY,
    on_progress: Progress | None = None,
) -> RestoreResult:
    """Put a backup back in place of the live database.

    In order: every refusal that does not need the backup (a database in
    use, read-only, not writable) is checked; the backup is checked
    (checksum, engine, content) while it is staged beside the database -
    for ``latest``, a damaged one is passed over for the next older;
    ``confirm(plan)`` is called and may raise ``Refused``; a safety backup of
    the live database is taken; the staged copy replaces the database
    atomically.  Any failure before the last step leaves the live database
    untouched.  A KeyboardInterrupt after the swap does not undo it: the
    result says ``interrupted`` and the steps after the swap are skipped.
    """
    from aura_db.backup_engines import for_engine

    started = time.monotonic()
    eb = for_engine(engine)
    eb.check_target()  # a server database that is missing or out of reach: say so before any work
    eb.preflight()  # in use, read-only, not writable: before anything is staged or backed up
    folder = Path(backup_dir)
    warnings: list[str] = []
    skipped: list[str] = []
    if spec == "latest":
        paths, notes = latest_candidates(folder, engine=engine.name, source=engine.describe())
        warnings.extend(notes)
    else:
        paths = [resolve_backup(folder, spec, engine=engine.name, source=engine.describe())]
    summary = _Background(eb.live_summary) if eb.summary_while_staging else None
    staged = None
    for i, path in enumerate(paths):
        try:
            manifest, staged = _stage_checked(eb, engine, path, on_progress)
            break
        except CheckFailed as exc:
            if spec != "latest" or i == len(paths) - 1:
                if skipped:
                    exc.message += f" (and {len(skipped)} newer backup(s) failed their checks too)"
                raise
            skipped.append(path.name)
            reason = exc.reason if isinstance(exc, BackupRejected) else exc.message
            warnings.append(f"passed over {path.name}: {reason}")
    assert staged is not None
    made: list[Any] = []
    interrupted = False
    try:
        live_exists, live_head, live_counts = summary.result() if summary else eb.live_summary()
        caveats = list(eb.restore_caveats())
        if _database_of(manifest) != database_key(engine.name, engine.describe()):
            caveats.insert(0, f"this is a backup of {manifest.source}, not of {engine.describe()}")
        if manifest.kind == "safety":
            caveats.append(f"{path.name} is a safety backup (taken before a {manifest.label or 'change'})")
        plan = RestorePlan(path, manifest, engine.describe(), live_exists, live_head, live_counts,
                           safety_backup=safety and live_exists, caveats=caveats)
        if confirm is not None:
            confirm(plan)

        def take_safety() -> None:
            if plan.safety_backup:
                made.append(eb.safety_snapshot(folder, on_progress, keep_safety=keep_safety))

        try:
            warnings.extend(eb.replace(staged, take_safety, lock_timeout=lock_timeout, on_progress=on_progress)
                            or [])
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt) and getattr(eb, "swapped", False):
                interrupted = True  # the database is restored: say so, skip the rest
            else:
                _name_safety_backup(exc, made)
                raise
    finally:
        eb.discard(staged)
    safety_made = made[0] if made else None
    result = RestoreResult(plan, safety_made.path if safety_made is not None else None,
                           duration_s=time.monotonic() - started, warnings=warnings,
                           safety_reused=bool(safety_made is not None and safety_made.reused),
                           interrupted=interrupted or bool(getattr(eb, "interrupted", False)), skipped=skipped)
    if safety_made is not None:
        result.warnings.extend(w for w in safety_made.warnings if "is damaged" not in w)
    if migrations_dir is not None and not result.interrupted:
        try:
            from aura_db.migrations import status

            st = status(engine, migrations_dir)
            result.pending, result.unknown, result.changed = st.pending, st.missing, st.changed
        except AuraError:
            pass
        except KeyboardInterrupt:
            result.interrupted = True
    result.duration_s = time.monotonic() - started
    return result


def _name_safety_backup(exc: BaseException, made: list[Any]) -> None:
    """A restore that failed after its safety backup: the error says where the way back is (--json too)."""
    if not made:
        return
    details = getattr(exc, "details", None)
    if isinstance(details, dict):
        details.setdefault("safety_backup", str(made[0].path))
    else:
        with contextlib.suppress(AttributeError):
            exc.details = {"safety_backup": str(made[0].path)}  # type: ignore[attr-defined]


def _stage_checked(eb: Any, engine: "Engine", path: Path, on_progress: Progress | None) -> tuple[Manifest, Any]:
    """(manifest, staged copy) of ``path``, checked; BackupRejected ("refusing to restore ...") when it fails."""
    try:
        manifest = read_manifest(path)
    except CheckFailed as exc:
        raise BackupRejected(path, exc.message, hint=exc.hint) from None
    if manifest.engine != engine.name:
        raise BackupRejected(path, f"it is a {manifest.engine} backup, the database is {engine.name}")
    size = path.stat().st_size
    if size != manifest.size:
        raise BackupRejected(path, f"it is {size} bytes, its manifest says {manifest.size} (damaged)")
    try:
        staged = eb.stage(path, manifest, on_progress)
    except OSError as exc:
        raise AuraError(f"cannot stage {path.name} beside the database: {exc.strerror or exc}; nothing changed",
                        hint="check free space and permissions next to the database") from None
    except BackupRejected:
        raise
    except CheckFailed as exc:
        raise BackupRejected(path, exc.message, hint=exc.hint) from None
    return manifest, staged
