"""The engine backup interface: what create, verify and restore ask of an engine.

Every engine's backup class (``aura_db.engines.<engine>.backup``) derives from
``EngineBackup`` and offers:

* ``check_source()`` / ``source_exists()``
* ``snapshot(writer, folder, on_progress) -> Snapshot``: stream a consistent
  snapshot into ``writer`` (hashing, compressing) and say what it holds
* ``check_content(path, manifest, full=, scratch_dir=, on_progress=)``:
  the engine's own check of a backup whose checksum already matched
* ``stage(path, manifest)``, ``live_summary()``, ``replace(staged, take_safety)``,
  ``discard(staged)``: the steps of a restore

Above the leaves (``files``, ``manifest``), below the orchestration: the
classes are handed what they need and never import create, verify or restore.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from aura_db.errors import DatabaseInUse as DatabaseInUse  # re-exported: its home is aura_db.errors

if TYPE_CHECKING:
    from aura_db.backup.files import HashingWriter, Progress
    from aura_db.backup.manifest import Manifest
    from aura_db.engines.base import Engine


@dataclass
class Snapshot:
    row_counts: dict[str, int]
    schema_head: str | None
    server_version: str | None = None
    row_counts_exact: bool = True
    warnings: list[str] = field(default_factory=list)
    # The check the backup's own bytes passed as it was taken ("quick_check"),
    # or None: not checked, or failed (then ``warnings`` says so).
    content_check: str | None = None



class EngineBackup:
    suffix = ".bak"
    # The identities (``crypto.Identities``) that open an encrypted backup;
    # set by verify and restore before they ask for its content.
    identities: Any = None
    # live_summary() may run while stage() copies and checks (it only reads
    # the live database): on a cold page cache its reads then overlap the
    # staging instead of following it.
    summary_while_staging = False

    def __init__(self, engine: "Engine | None"):
        self.engine = engine

    # An existing, empty database of the same server kind that a full check
    # restores into instead of creating one (``backup verify --full --scratch``).
    scratch_database: "Engine | None" = None

    def check_scratch(self, scratch: "Engine", live: "Engine | None") -> None:
        """Raise UsageError unless ``scratch`` may take a full check: another database, existing and empty."""
        from aura_db.errors import UsageError

        raise UsageError(f"--scratch names a {scratch.name} database; a full check of a {scratch.name} "
                         "backup needs no scratch database", hint="leave --scratch out")

    def check_source(self) -> None:
        raise NotImplementedError

    def source_exists(self) -> bool:
        raise NotImplementedError

    def snapshot(self, writer: "HashingWriter", folder: Path, on_progress: "Progress | None") -> Snapshot:
        raise NotImplementedError

    def archive_compression(self, compression: str) -> str | None:
        """The compression the engine's own dump format applies for ``compression``, or None.

        When not None the dump compresses itself and the file is stored as
        the dump tool wrote it (no outer ``.gz``/``.zst``): its readers
        (pg_restore) read it directly, and wrapping compressed data again
        only makes it larger.
        """
        return None

    def check_content(self, path: Path, manifest: "Manifest", *, full: bool, scratch_dir: Path,
                      on_progress: "Progress | None") -> tuple[list[str], list[str]]:
        raise NotImplementedError

    def stage(self, path: Path, manifest: "Manifest", on_progress: "Progress | None") -> Any:
        raise NotImplementedError

    def live_summary(self) -> tuple[bool, str | None, dict[str, int] | None]:
        raise NotImplementedError

    # Set by replace() the instant the live database has been replaced: a
    # KeyboardInterrupt after it must not be reported as "nothing changed".
    swapped = False

    def check_target(self) -> None:
        """Raise when the database cannot be restored into at all (before any work is done)."""

    def preflight(self) -> None:
        """Raise every refusal that does not need the backup: in use, read-only, not writable.

        Called before anything is staged or backed up, so that a restore that
        cannot happen leaves no safety backup behind; replace() checks again
        at the swap.
        """

    def restore_caveats(self) -> list[str]:
        """What the operator should know before saying yes to a restore on this engine."""
        return []

    def replace(self, staged: Any, take_safety: Callable[[], None], *, lock_timeout: float,
                on_progress: "Progress | None") -> list[str]:
        raise NotImplementedError

    def discard(self, staged: Any) -> None:
        raise NotImplementedError

    def content(self, path: Path, manifest: "Manifest", *, on_chunk: "Callable[[bytes], None] | None" = None
                ) -> "Iterator[bytes]":
        """The backup's plaintext content (decrypted, decompressed) as a stream of chunks, in constant memory.

        ``on_chunk`` sees the bytes as stored (their sha256 is the manifest's).
        An encrypted backup without ``identities`` is a UsageError (exit 2).
        """
        from aura_db.backup.files import read_decompressed

        unseal = None
        if manifest.encrypted:
            from aura_db.backup import crypto

            if self.identities is None:
                raise crypto.missing_identity(path.name, manifest, "reading it")
            ids = self.identities

            def unseal(stored: "Iterator[bytes]") -> "Iterator[bytes]":
                return crypto.open_sealed(stored, ids, path.name)
        return read_decompressed(path, manifest.compression, on_chunk=on_chunk, unseal=unseal)

    @staticmethod
    def stored_plain(manifest: "Manifest") -> bool:
        """The file on disk is the content itself: neither compressed nor encrypted."""
        return manifest.compression == "none" and not manifest.encrypted

    def same_apart_from_run_log(self, new: Path, old: Path, manifest: "Manifest") -> bool:
        """Whether two uncompressed backups hold the same content but for aura-db's run log (False: cannot tell)."""
        return False


def compare_counts(expected: dict[str, int], actual: dict[str, int]) -> list[str]:
    problems = []
    for table in sorted(set(expected) | set(actual)):
        e, a = expected.get(table), actual.get(table)
        if e is None:
            problems.append(f"table {table} is in the backup but not in its manifest")
        elif a is None:
            problems.append(f"table {table} is missing from the backup")
        elif e != a:
            problems.append(f"table {table} holds {a} rows; the manifest says {e}")
    return problems
