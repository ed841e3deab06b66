"""File plumbing for backups: temporary names, atomic publication, fsync, streaming hash and compression.

A leaf: it imports nothing else from aura_db but ``errors``.  Everything that
writes or reads a backup's bytes goes through here, so there is one chunk size
and one way to make a file or a folder durable.
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
from pathlib import Path
from typing import Any, Callable, Iterator

from aura_db.errors import AuraError, CheckFailed, UsageError

# A backup file's name starts with this (manifest.NAME_RE spells out the rest).
PREFIX = "aura_backup_"
COMPRESSIONS = {"none": "", "zstd": ".zst", "gzip": ".gz"}
CHUNK = 1 << 20  # 1 MiB: large enough for syscalls and hashing to run at disk speed
# zstd level 1 on one thread compresses typical Aura data at several hundred
# MB/s (benchmarks/backup_bench.py); its multi-threaded mode was slower fed
# 1 MiB at a time, and level 3 a third as fast for a few percent of size.
ZSTD_LEVEL = 1
GZIP_LEVEL = 1

# on_progress(phase, done_bytes, total_bytes or None)
Progress = Callable[[str, int, "int | None"], None]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)



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


def fsync_dir(folder: Path) -> None:
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


@contextlib.contextmanager
def private_scratch(folder: Path, base: str) -> Iterator[Path]:
    """A name for a temporary file in a new owner-only (0700) folder of its own, both removed afterwards.

    For the plaintext of an encrypted backup that a check must have as a
    file (SQLite's integrity check, pg_restore): nobody else may even see
    its name, and it is deleted however the check ends (a run killed
    meanwhile leaves it to ``clean_leftovers`` of the next run).
    """
    import shutil

    box = tmp_name(folder, "aura_verify_private")
    box.mkdir(mode=0o700)
    try:
        yield box / base
    finally:
        shutil.rmtree(box, ignore_errors=True)


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
                if p.is_dir() and not p.is_symlink():  # a private_scratch folder
                    import shutil

                    shutil.rmtree(p)
                else:
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



class HashingWriter:
    """Writes to a file descriptor, counting and hashing what it writes.

    With a compressor, data is compressed first; with a ``seal`` (the
    encrypting layer, ``crypto.Sealer``: ``seal(put)`` gives an object with
    ``write``/``finish``/``abort``) it is then encrypted; the hash and size
    are those of the bytes on disk, which is what the manifest promises.
    Call ``abort`` before closing ``fd`` when the backup is given up.
    """

    def __init__(self, fd: int, compression: str = "none", path: Path | None = None,
                 seal: "Callable[[Callable[[bytes], None]], Any] | None" = None):
        self.fd = fd
        self.path = path  # the file behind fd, for checks that open it by name
        self.sha = hashlib.sha256()
        self.size = 0
        self.raw_size = 0
        self._comp = _compressor(compression)
        self._seal = seal(self._put) if seal is not None else None
        self.archive_compression: str | None = None  # the dump compresses itself (see create_with)

    @property
    def sealed(self) -> bool:
        """The bytes on disk are encrypted: nothing may read them back as the database (``path`` included)."""
        return self._seal is not None

    def write(self, data: bytes | memoryview) -> None:
        self.raw_size += len(data)
        if self._comp is not None:
            data = self._comp.compress(data)
            if not data:
                return
        if self._seal is not None:
            self._seal.write(data)
        else:
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

        if self._comp is not None or self._seal is not None or not hasattr(os, "copy_file_range") or self.size:
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
                if self._seal is not None:
                    self._seal.write(tail)
                else:
                    self._put(tail)
        if self._seal is not None:
            self._seal.finish()
        os.fsync(self.fd)

    def abort(self) -> None:
        """Stop the encrypting thread (nothing more reaches ``fd``); harmless after ``finish``."""
        if self._seal is not None:
            self._seal.abort()


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
                      chunk: int = CHUNK,
                      unseal: "Callable[[Iterator[bytes]], Iterator[bytes]] | None" = None) -> Iterator[bytes]:
    """The backup's content as a stream of chunks, in constant memory.

    ``on_chunk`` sees every chunk of the file *as stored* (to hash it while it
    streams, so a restore reads the backup once).  ``unseal`` (decryption,
    ``crypto.open_sealed``) turns the stored chunks into the plaintext ones
    before they are decompressed.
    """
    with open(path, "rb", buffering=0) as f:
        def stored() -> Iterator[bytes]:
            while True:
                block = f.read(chunk)
                if not block:
                    return
                if on_chunk is not None:
                    on_chunk(block)
                yield block

        def raw() -> Iterator[bytes]:
            if unseal is None:
                yield from stored()
                return
            inner = unseal(stored())
            try:
                yield from inner
            finally:
                inner.close()  # type: ignore[attr-defined]

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


def publish(tmp: Path, final: Path) -> bool:
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


def write_json_file(path: Path, doc: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
