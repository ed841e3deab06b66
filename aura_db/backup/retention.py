"""Retention: which backups of a database are kept, deleted or left alone, and why.

Per database and per kind (regular, safety), the newest good ones are kept;
a damaged backup is never counted as kept and never deleted.  Above catalogue
and verify; below create.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aura_db.backup.catalogue import BackupEntry, DatabaseKeys, DatabaseRef, list_backups
from aura_db.backup.files import fsync_dir, sha256_file
from aura_db.backup.verify import verify_backup
from aura_db.errors import AuraError, CheckFailed, UsageError

DEFAULT_KEEP = 10
# Safety backups (taken before migrate, rollback, restore) are kept apart from
# the regular ones: their own newest N of each database.  Five covers a day of
# retries and rollbacks without letting a loop of failed runs fill the disk.
DEFAULT_KEEP_SAFETY = 5


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



def plan_prune(backup_dir: Path, keep: int | None, *, keep_safety: int | None = DEFAULT_KEEP_SAFETY,
               database: DatabaseRef | None = None, protect: list[Path] | tuple = (),
               known_good: list[Path] | tuple = ()) -> PruneResult:
    """What retention keeps, deletes and leaves alone, and why; nothing is deleted.

    Per database (``DatabaseKeys``: identity, else engine and source in the
    manifest; with ``database`` only that one), regular and safety backups are counted apart:

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
    listed = list_backups(backup_dir)  # newest first
    keys = DatabaseKeys(listed, here=database)
    wanted = keys.here(database) if database is not None else None
    for e in listed:
        if e.manifest is None:
            if e.state == "bad manifest":
                result.warnings.append(e.problem or f"{e.name}: its manifest cannot be read")
                result.left.append(e.path)
                result.decisions.append(PruneDecision(e.path, "leave", f"{e.state}: not judged, not deleted"))
            continue  # no manifest at all: not aura-db's to judge
        key = keys.of(e.manifest)
        if wanted is not None and key != wanted:
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
          protect: list[Path] | tuple = (), database: DatabaseRef | None = None,
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
        fsync_dir(Path(backup_dir))
    result.deleted = deleted
    return result
