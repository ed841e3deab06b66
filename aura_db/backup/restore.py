"""``restore``: put a checked backup back in place of the live database, after a safety backup.

The order of the steps is here; how each step is done on an engine (stage,
swap, its checks) is the engine backup's.  Any failure before the swap leaves
the live database untouched.  The top of the backup package.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from aura_db.backup.catalogue import DatabaseKeys, latest_candidates, list_backups, resolve_backup, this_database
from aura_db.backup.create import create_with
from aura_db.backup.files import Progress
from aura_db.backup.manifest import Manifest, read_manifest
from aura_db.guards import require_writable
from aura_db.backup.retention import DEFAULT_KEEP_SAFETY
from aura_db.errors import AuraError, BackupRejected, CheckFailed, UsageError

if TYPE_CHECKING:
    from aura_db.engines.base import Engine

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
    identities: Any = None,
    encrypt_to: "Sequence[str]" = (),
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

    An encrypted backup is read with ``identities`` (``crypto.Identities``);
    without them, or with ones that do not open it, a UsageError (exit 2)
    comes before anything is staged or backed up.  The safety backup is
    encrypted to ``encrypt_to`` (recipients, checked first of all).
    """
    started = time.monotonic()
    from aura_db.backup.create import check_recipients

    from aura_db.backup.crypto import as_identities

    recipients = check_recipients(encrypt_to)
    eb = engine.backup()
    eb.identities = as_identities(identities)
    eb.check_target()  # a server database that is missing or out of reach: say so before any work
    # The database the restore writes (behind a pooler: direct_url), before anything is staged.
    require_writable(eb.engine or engine, "restore")
    eb.preflight()  # in use, read-only, not writable: before anything is staged or backed up
    folder = Path(backup_dir)
    warnings: list[str] = []
    skipped: list[str] = []
    # What it IS (a standby's or another node's backups are its own), asked
    # of the database the restore writes: behind a pooler the restore never
    # connects through it (its server connections may be killed, paused).
    here = this_database(engine, asking=eb.engine or engine)
    if spec == "latest":
        paths, notes = latest_candidates(folder, engine=engine.name, source=engine.describe(),
                                         identity=here.identity)
        warnings.extend(notes)
    else:
        paths = [resolve_backup(folder, spec, engine=engine.name, source=engine.describe(),
                                identity=here.identity)]
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
        keys = DatabaseKeys(list_backups(folder), here=here)
        if keys.of(manifest) != keys.here(here):
            caveats.insert(0, f"this is a backup of {manifest.source}, not of {engine.describe()}")
        if manifest.kind == "safety":
            caveats.append(f"{path.name} is a safety backup (taken before a {manifest.label or 'change'})")
        plan = RestorePlan(path, manifest, engine.describe(), live_exists, live_head, live_counts,
                           safety_backup=safety and live_exists, caveats=caveats)
        if confirm is not None:
            confirm(plan)

        def take_safety() -> None:
            if plan.safety_backup:
                # The engine backup is handed back to create_with: the safety
                # backup is taken under the lock the restore already holds.
                made.append(create_with(eb, engine, folder, label="pre-restore", kind="safety",
                                        keep_safety=keep_safety, recipients=recipients, on_progress=on_progress,
                                        here=here))

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

            st = status(eb.engine or engine, migrations_dir)  # as above: not through a pooler
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
    if manifest.encrypted and eb.identities is None:
        from aura_db.backup.crypto import missing_identity

        # Before anything is staged or backed up: nothing has changed.
        exc = missing_identity(path.name, manifest, "restoring it")
        exc.message += "; nothing changed"
        raise exc
    try:
        staged = eb.stage(path, manifest, on_progress)
    except OSError as exc:
        raise AuraError(f"cannot stage {path.name} beside the database: {exc.strerror or exc}; nothing changed",
                        hint="check free space and permissions next to the database") from None
    except BackupRejected:
        raise
    except CheckFailed as exc:
        raise BackupRejected(path, exc.message, hint=exc.hint) from None
    except UsageError as exc:  # the identity does not open it: the key is wrong, not the backup
        exc.message += "; nothing changed"
        raise
    return manifest, staged
