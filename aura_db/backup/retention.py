"""Retention: which backups of a database are kept, deleted or left alone, and why.

Per database and per kind (regular, safety).  Regular backups are kept by
rules in the manner of restic and borg: the newest N (``keep``), and the
newest good backup in each of the last N hours, days and ISO weeks that have
one (``keep_hourly``, ``keep_daily``, ``keep_weekly``); a backup kept by any
rule is kept, and each kept one says which rules keep it.  Safety backups
have their own newest N (``keep_safety``).  Hours, days and weeks are UTC, as
manifests, file names and ``backup list`` are.  A damaged backup is never
counted as kept and never deleted.  Above catalogue and verify; below create.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from aura_db.backup.catalogue import BackupEntry, DatabaseKeys, DatabaseRef, list_backups
from aura_db.backup.files import fsync_dir, sha256_file
from aura_db.backup.verify import verify_backup
from aura_db.errors import AuraError, CheckFailed, UsageError

DEFAULT_KEEP = 10
# Safety backups (taken before migrate, rollback, restore) are kept apart from
# the regular ones: their own newest N of each database.  Five covers a day of
# retries and rollbacks without letting a loop of failed runs fill the disk.
DEFAULT_KEEP_SAFETY = 5

# The rules, in the order ``kept_by`` lists them.  "last" is --keep, "safety"
# is --keep-safety (safety backups only); the time rules apply to regular ones.
RULES = ("last", "hourly", "daily", "weekly", "safety")
TIME_RULES = ("hourly", "daily", "weekly")
_UNIT = {"hourly": "hour", "daily": "day", "weekly": "week"}


def _when(created_at: str | None) -> dt.datetime | None:
    """The manifest's time in UTC (a time without a zone is taken as UTC); None when it cannot be read."""
    try:
        when = dt.datetime.fromisoformat((created_at or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.replace(tzinfo=dt.timezone.utc) if when.tzinfo is None else when.astimezone(dt.timezone.utc)


def bucket(rule: str, created_at: str | None) -> str | None:
    """The hour, day or ISO week (UTC) a backup falls in for a time rule, as a readable key.

    ``2026-11-29 03h``, ``2026-11-29``, ``2026-W48`` (the ISO year and week:
    29 Dec 2025 is in 2026-W01).  None when the time cannot be read: such a
    backup is kept by no time rule.
    """
    when = _when(created_at)
    if when is None:
        return None
    if rule == "hourly":
        return when.strftime("%Y-%m-%d %Hh")
    if rule == "daily":
        return when.date().isoformat()
    year, week, _ = when.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass
class PruneDecision:
    path: Path
    action: str  # keep | delete | leave
    reason: str
    kind: str | None = None
    # The rules that keep it (action "keep"): "last", "hourly", "daily",
    # "weekly", "safety"; "new" for the backup just written that no rule keeps.
    kept_by: list[str] = field(default_factory=list)
    # For a deleted backup, per time rule in force: the kept backup that
    # stands for its hour/day/week, or None when that rule had kept its N.
    superseded_by: dict[str, str | None] = field(default_factory=dict)
    created_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.path.name, "action": self.action, "kind": self.kind, "reason": self.reason,
                "created_at": self.created_at, "kept_by": list(self.kept_by),
                "superseded_by": dict(self.superseded_by)}


@dataclass
class PruneResult:
    """What retention keeps, deletes and leaves alone, each with its reason.

    ``deleted`` lists what is to be deleted by a plan (``plan_prune``) and
    what was deleted by ``prune``; ``left`` are files retention does not
    judge (damaged, or without a readable manifest): never counted as kept,
    never deleted.  ``rules`` are the counts it ran with (0: rule off,
    None: that kind left alone).
    """

    kept: list[Path]
    deleted: list[Path]
    left: list[Path] = field(default_factory=list)
    decisions: list[PruneDecision] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rules: dict[str, int | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kept": [p.name for p in self.kept], "deleted": [p.name for p in self.deleted],
                "left": [p.name for p in self.left], "decisions": [d.to_dict() for d in self.decisions],
                "rules": dict(self.rules), "buckets": "UTC", "warnings": self.warnings}


def check_rules(keep: int | None, keep_safety: int | None, keep_hourly: int = 0, keep_daily: int = 0,
                keep_weekly: int = 0) -> None:
    """UsageError (exit 2) for counts retention cannot use; the time rules are off at 0."""
    for name, n in (("--keep", keep), ("--keep-safety", keep_safety)):
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise UsageError(f"{name} must be at least 1, got {n}")
    for name, n in (("--keep-hourly", keep_hourly), ("--keep-daily", keep_daily), ("--keep-weekly", keep_weekly)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise UsageError(f"{name} must be 0 (off) or more, got {n}")


def plan_prune(backup_dir: Path, keep: int | None, *, keep_safety: int | None = DEFAULT_KEEP_SAFETY,
               keep_hourly: int = 0, keep_daily: int = 0, keep_weekly: int = 0,
               database: DatabaseRef | None = None, protect: list[Path] | tuple = (),
               known_good: list[Path] | tuple = ()) -> PruneResult:
    """What retention keeps, deletes and leaves alone, and why; nothing is deleted.

    Per database (``DatabaseKeys``: identity, else engine and source in the
    manifest; with ``database`` only that one), regular and safety backups
    are judged apart, newest first:

    * a regular backup (labelled ones are regular) is kept when any rule
      keeps it: it is one of the newest ``keep`` good ones ("last"), or the
      newest good one of its hour, day or ISO week (UTC) while fewer than
      ``keep_hourly``/``keep_daily``/``keep_weekly`` hours/days/weeks have
      had theirs kept (restic's ``--keep-hourly`` and the like: the last N
      periods *that have a backup*, not the last N on the calendar; 0: rule
      off).  A safety backup never takes a regular one's place;
    * the newest ``keep_safety`` good safety backups are kept ("safety");
      the time rules do not apply to them;
    * a backup is good when its size and sha256 match its manifest, and the
      newest one kept also passes the content check (``verify_backup``).
      They are read only when something would be deleted, and only the
      backups about to count as kept (``known_good`` are not read);
    * a damaged backup, or one whose manifest cannot be read, is never
      counted as kept - the next good one of its hour/day/week stands for
      it - and never deleted: it is left for the operator;
    * so the newest good backup of each database is always kept (``keep`` is
      at least 1), and ``protect`` (the backup just written) is never deleted.

    ``keep=None`` (or ``keep_safety=None``) leaves that kind alone.
    """
    check_rules(keep, keep_safety, keep_hourly, keep_daily, keep_weekly)
    protected = {Path(p).resolve() for p in protect}
    good = {Path(p).resolve() for p in known_good}
    result = PruneResult([], [], rules={"keep": keep, "keep_hourly": keep_hourly, "keep_daily": keep_daily,
                                        "keep_weekly": keep_weekly, "keep_safety": keep_safety})
    groups: dict[tuple[tuple[str, str], str], list[BackupEntry]] = {}
    listed = list_backups(backup_dir)  # newest first
    keys = DatabaseKeys(listed, here=database)
    wanted = keys.here(database) if database is not None else None
    for e in listed:
        if e.manifest is None:
            if e.state == "bad manifest":
                result.warnings.append(e.problem or f"{e.name}: its manifest cannot be read")
                result.left.append(e.path)
                result.decisions.append(PruneDecision(e.path, "leave", f"{e.state}: not judged, not deleted",
                                                      created_at=e.created_at))
            continue  # no manifest at all: not aura-db's to judge
        key = keys.of(e.manifest)
        if wanted is not None and key != wanted:
            continue
        groups.setdefault((key, e.manifest.kind), []).append(e)
    for (_, kind), entries in groups.items():
        word = "regular" if kind == "regular" else "safety"
        if kind == "regular":
            limit = keep
            counts = {"last": keep, "hourly": keep_hourly, "daily": keep_daily, "weekly": keep_weekly}
        else:
            limit = keep_safety
            counts = {"safety": keep_safety}
        if limit is None:
            for e in entries:
                result.kept.append(e.path)
                result.decisions.append(PruneDecision(e.path, "keep", f"{word}: not pruned by this run", kind,
                                                      created_at=e.created_at))
            continue
        rules = {rule: n for rule, n in counts.items() if n}
        # Only when something would go are checksums worth reading: a first
        # pass takes every whole backup as good.
        dry = _judge(entries, rules, word, protected, check=None)
        if any(d.action == "delete" for d in dry):
            dry = _judge(entries, rules, word, protected,
                         check=lambda e, first: None if e.path.resolve() in good else _prune_check(e, full=first))
        for d in dry:
            {"keep": result.kept, "delete": result.deleted, "leave": result.left}[d.action].append(d.path)
            result.decisions.append(d)
    return result


def _judge(entries: list[BackupEntry], rules: dict[str, int], word: str, protected: set[Path],
           check: Callable[[BackupEntry, bool], str | None] | None) -> list[PruneDecision]:
    """The decisions for one database's backups of one kind (newest first), by ``rules`` (name -> N).

    Each rule walks the backups newest first and keeps one whose bucket (its
    own, for "last" and "safety"; its hour, day or week for the time rules)
    differs from the last bucket it kept, until it has kept N.  ``check``
    (None: every whole backup counts as good) says what is wrong with a
    backup about to be kept; such a one is left, and the rules go on as if
    it were not there.
    """
    remaining = dict(rules)
    last_key: dict[str, str | None] = {rule: None for rule in rules}
    last_file: dict[str, str] = {}
    kind = entries[0].manifest.kind if entries else None
    decisions: list[PruneDecision] = []
    counted = 0
    for i, e in enumerate(entries):
        if e.state == "size differs":
            decisions.append(PruneDecision(
                e.path, "leave", f"damaged ({e.size} bytes, its manifest says {e.manifest.size}): "
                "not counted as kept, not deleted", kind, created_at=e.created_at))
            continue
        keys = {rule: (f"#{i}" if rule in ("last", "safety") else bucket(rule, e.created_at)) for rule in rules}
        by = [rule for rule in RULES if rule in rules and remaining[rule] > 0 and keys[rule] is not None
              and keys[rule] != last_key[rule]]
        if by:
            problem = check(e, counted == 0) if check is not None else None
            if problem:
                # The newest one to be kept is checked in full (checksum and
                # content, as restore would): it is the one recovery relies
                # on, and a manifest is no proof of content.  The rest by
                # checksum.
                decisions.append(PruneDecision(
                    e.path, "leave", f"damaged ({problem}): not counted as kept, not deleted", kind,
                    created_at=e.created_at))
                continue
            counted += 1
            why = []
            for rule in by:
                remaining[rule] -= 1
                last_key[rule] = keys[rule]
                last_file[rule] = e.name
                n = rules[rule] - remaining[rule]
                if rule in ("last", "safety"):
                    why.append(f"the newest good {word} backup of its database" if n == 1
                               else f"#{n} of the newest {rules[rule]} good {word} backups")
                else:
                    why.append(f"newest good of {_UNIT[rule]} {keys[rule]} UTC ({n} of {rules[rule]})")
            decisions.append(PruneDecision(e.path, "keep", "; ".join(why), kind, kept_by=by,
                                           created_at=e.created_at))
            continue
        superseded = {rule: (last_file[rule] if keys[rule] is not None and keys[rule] == last_key[rule]
                             else None) for rule in rules if rule in TIME_RULES}
        if e.path.resolve() in protected:
            decisions.append(PruneDecision(e.path, "keep", "just written", kind, kept_by=["new"],
                                           superseded_by=superseded, created_at=e.created_at))
            continue
        decisions.append(PruneDecision(e.path, "delete", _delete_reason(rules, word, keys, superseded), kind,
                                       superseded_by=superseded, created_at=e.created_at))
    return decisions


def _delete_reason(rules: dict[str, int], word: str, keys: dict[str, str | None],
                   superseded: dict[str, str | None]) -> str:
    count = rules.get("last") or rules.get("safety")
    parts = [f"older than the newest {count} good {word} backup(s) of its database"] if count else []
    for rule, kept in superseded.items():
        unit = _UNIT[rule]
        if kept is not None:
            parts.append(f"{unit} {keys[rule]} kept as {kept}")
        elif keys[rule] is None:
            parts.append(f"its {unit} cannot be read from its manifest")
        else:
            parts.append(f"the last {rules[rule]} {unit}(s) with a backup are newer")
    return "; ".join(parts)


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
          keep_hourly: int = 0, keep_daily: int = 0, keep_weekly: int = 0,
          protect: list[Path] | tuple = (), database: DatabaseRef | None = None,
          known_good: list[Path] | tuple = (), plan: PruneResult | None = None) -> PruneResult:
    """Apply retention (``plan_prune``, or the ``plan`` given): delete what it marks, with their manifests."""
    result = plan if plan is not None else plan_prune(backup_dir, keep, keep_safety=keep_safety,
                                                      keep_hourly=keep_hourly, keep_daily=keep_daily,
                                                      keep_weekly=keep_weekly, database=database,
                                                      protect=protect, known_good=known_good)
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
