"""``aura-db purge``: remove what the Aura data model marks as disposable, and nothing else.

Disposable, as the app's own columns say:

* ``ActionLogs`` whose ``ExpiresAt`` has passed (undo history past its time);
* rows soft-deleted (``IsDeleted`` and ``DeletedAt``) more than DAYS ago, in
  every table that soft-deletes (``SoftDeleteModel``: ProjectStates,
  ProjectVersions, custom_templates, MediaCollections, MediaItems), with the
  rows their foreign keys cascade to (a project's assets, scenes,
  checkpoints and versions; a media item's tags and usages).  A foreign key
  that sets NULL instead (MediaItems.CollectionId) is set to NULL, as the
  database itself would, and counted as ``detached``;
* temporary assets (``AssetStates.IsTemporary``) created more than DAYS ago;
* ``ContentBlobs`` that no version refers to (by any of its hash columns),
  counting the versions this purge removes as gone.

Dates are read whatever way they were written: EF Core's TEXT on SQLite
(``YYYY-MM-DD HH:MM:SS``, with or without up to 7 fraction digits, with a
``T``, with an offset), aura-db's own, or the server's native timestamps.  A
date that cannot be read is never taken for old: its row stays and is counted
as ``undated``.

Order of work: plan (a report per table, children counted before anything is
deleted), then the caller's confirmation, the safety backup, and the deletion
in short transactions of ``BATCH_SIZE`` rows matched by a rule each (with
their children), so a running app waits at most for one of them.  Each batch
checks its rows again (still deleted, still temporary, a blob still
unreferenced), so a row the app restored or used meanwhile is left alone.

Core: no printing, no prompting; results are dataclasses, failures AuraErrors.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from aura_db.errors import AuraError, UsageError

if TYPE_CHECKING:
    import peewee as pw

    from aura_db.engines.base import Engine
    from aura_db.policy import SafetyBackup

DEFAULT_OLDER_THAN_DAYS = 30
# Rows matched by a rule per transaction (their cascaded children go with them).
BATCH_SIZE = 250
# Keys per IN (...) list when reading.
_CHUNK = 500

SAFETY_LABEL = "pre-purge"


# --------------------------------------------------------------------------
# Dates


_TIME_RE = re.compile(
    r"^\s*(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2})(?::(\d{2}))?(?:[.,](\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*$",
    re.I,
)


def as_utc(value: Any) -> dt.datetime | None:
    """A stored date as a naive UTC datetime; None when there is none or it cannot be read.

    Takes EF Core's TEXT (``2024-05-01 10:00:00``, ``...00.1234567``,
    ``2024-05-01T10:00:00Z``, ``+02:00``), a date alone, and the drivers'
    datetimes (an aware one is converted to UTC).
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    m = _TIME_RE.match(value)
    if not m:
        return None
    day, hm, sec, frac, zone = m.groups()
    try:
        when = dt.datetime.fromisoformat(f"{day} {hm or '00:00'}:{sec or '00'}")
    except ValueError:
        return None
    if frac:
        when += dt.timedelta(microseconds=int(frac[:6].ljust(6, "0")))
    if zone and zone.upper() != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        when -= sign * offset
    return when


def parse_days(text: Any) -> int:
    """``--older-than``: a whole number of days, 0 or more (UsageError otherwise)."""
    if text is None:
        return DEFAULT_OLDER_THAN_DAYS
    raw = str(text).strip()
    if not re.fullmatch(r"\d+", raw):
        raise UsageError(f"--older-than takes a whole number of days (0 or more), got {text!r}",
                         hint=f"e.g. --older-than {DEFAULT_OLDER_THAN_DAYS}")
    days = int(raw)
    if days > 36500:
        raise UsageError(f"--older-than {days}: more than 100 years", hint="give a number of days up to 36500")
    return days


# --------------------------------------------------------------------------
# Results


@dataclass
class TableReport:
    """One table's share of a purge."""

    table: str
    reasons: list[str]            # why rows go: "expired", "deleted > 30 days", "child of ProjectStates", ...
    rows: int = 0                 # rows to remove (planned): matched by a rule plus cascaded
    matched: int = 0              # of which matched by a rule of this table
    cascaded: int = 0             # of which only as children of purged rows
    detached: int = 0             # rows kept whose foreign key is set to NULL (their parent is purged)
    undated: int = 0              # candidates left alone: their date could not be read
    recounted: int = 0            # ContentBlobs kept whose ReferenceCount drops (purged versions used them)
    deleted: int | None = None    # rows removed (None on a dry run)
    detached_done: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "reasons": self.reasons, "rows": self.rows, "matched": self.matched,
                "cascaded": self.cascaded, "detached": self.detached, "undated": self.undated,
                "recounted": self.recounted,
                "deleted": self.deleted, "detached_done": self.detached_done}


@dataclass
class PurgeResult:
    database: str
    engine: str
    older_than_days: int
    now: str
    cutoff: str
    dry_run: bool
    tables: list[TableReport] = field(default_factory=list)
    backup: str | None = None                     # the safety backup taken before deleting
    holding_backups: list[dict[str, Any]] = field(default_factory=list)
    oldest_purged_created_at: str | None = None   # None: nothing purged, or a creation date unknown
    batches: int = 0
    warnings: list[str] = field(default_factory=list)
    duration_ms: int = 0

    @property
    def total(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def deleted(self) -> int:
        return sum(t.deleted or 0 for t in self.tables)

    @property
    def nothing_to_do(self) -> bool:
        return self.total == 0

    @property
    def erasure_complete(self) -> bool:
        """The purged rows are gone everywhere aura-db knows of: no backup still holds them."""
        return not self.dry_run and not self.holding_backups

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "engine": self.engine,
            "dry_run": self.dry_run,
            "older_than_days": self.older_than_days,
            "now": self.now,
            "cutoff": self.cutoff,
            "total_rows": self.total,
            "deleted_rows": None if self.dry_run else self.deleted,
            "tables": [t.to_dict() for t in self.tables],
            "safety_backup": self.backup,
            "oldest_purged_created_at": self.oldest_purged_created_at,
            "backups_holding_purged_rows": self.holding_backups,
            "erasure_complete": self.erasure_complete,
            "batches": self.batches,
            "warnings": self.warnings,
            "duration_ms": self.duration_ms,
        }


# --------------------------------------------------------------------------
# The plan


@dataclass
class _Table:
    model: Any
    matched: dict[Any, dt.datetime | None] = field(default_factory=dict)   # key -> created
    cascaded: dict[Any, dt.datetime | None] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    undated: int = 0
    detached: int = 0             # rows kept whose link to a purged parent is set to NULL
    recounted: int = 0            # blobs kept whose ReferenceCount drops with the purged versions
    rule_sql: str | None = None   # the condition a matched row must still meet when it is deleted
    rule_params: tuple = ()
    still: Callable[[Any, list[Any]], list[Any]] | None = None  # the same check, where SQL alone is slow

    def has(self, key: Any) -> bool:
        return key in self.matched or key in self.cascaded


class _Sql:
    """Quoted names and parameters of one connection."""

    def __init__(self, engine: "Engine", db: "pw.Database"):
        self.db, self.q = db, engine.dialect.quote
        self.p = db.param

    def table(self, model: Any) -> str:
        return self.q(model._meta.table_name)

    def col(self, model: Any, attr: str) -> str:
        return self.q(model._meta.fields[attr].column_name)

    def pk(self, model: Any) -> str:
        pk = model._meta.primary_key
        if pk is None or not hasattr(pk, "column_name") or isinstance(pk, _composite()):
            raise AuraError(f"{model._meta.table_name} has no single-column key: purge cannot address its rows")
        return self.q(pk.column_name)

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        return list(self.db.execute_sql(sql, tuple(params)).fetchall())

    def marks(self, n: int) -> str:
        return ", ".join([self.p] * n)


def _composite() -> type:
    import peewee as pw

    return pw.CompositeKey


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _created_attr(model: Any) -> str | None:
    """The column saying when a row was made: CreatedAt, else Timestamp (ActionLogs), CheckpointTime, UsedAt."""
    for name in ("created_at", "timestamp", "checkpoint_time", "used_at"):
        if name in model._meta.fields:
            return name
    return None


def _created_sql(s: _Sql, model: Any) -> str:
    attr = _created_attr(model)
    return s.col(model, attr) if attr else "NULL"


def _children(model: Any, models: list[Any]) -> list[Any]:
    """The foreign keys (of the Aura models) that point at ``model``."""
    return [fk for fk in model._meta.backrefs if fk.model in models]


def _plan(engine: "Engine", db: "pw.Database", *, now: dt.datetime, cutoff: dt.datetime,
          days: int) -> list[_Table]:
    from aura_db.models import MODELS, ActionLog, AssetState, ContentBlob, ProjectVersion
    from aura_db.models.base import SoftDeleteModel

    s = _Sql(engine, db)
    tables: dict[Any, _Table] = {m: _Table(m) for m in MODELS}

    def consider(model: Any, rows: list[tuple], reason: str, rule_sql: str, older: dt.datetime,
                 params: tuple = ()) -> None:
        t = tables[model]
        t.rule_sql, t.rule_params = rule_sql, params
        found = 0
        for key, when, created in rows:
            stamp = as_utc(when)
            if stamp is None:
                t.undated += 1
            elif stamp < older:
                t.matched[key] = as_utc(created)
                found += 1
        if found and reason not in t.reasons:
            t.reasons.append(reason)

    # Expired undo history.
    al = ActionLog
    consider(al, s.rows(f"SELECT {s.pk(al)}, {s.col(al, 'expires_at')}, {_created_sql(s, al)} FROM {s.table(al)} "
                        f"WHERE {s.col(al, 'expires_at')} IS NOT NULL"),
             "expired", f"{s.col(al, 'expires_at')} IS NOT NULL", now)
    # Soft-deleted long enough ago.
    for model in MODELS:
        if issubclass(model, SoftDeleteModel):
            flag = s.col(model, "is_deleted")
            consider(model, s.rows(f"SELECT {s.pk(model)}, {s.col(model, 'deleted_at')}, {_created_sql(s, model)} "
                                   f"FROM {s.table(model)} WHERE {flag} = {s.p}", (True,)),
                     f"deleted > {days} days ago", f"{flag} = {s.p}", cutoff, (True,))
    # Temporary assets made long enough ago.
    a = AssetState
    flag = s.col(a, "is_temporary")
    consider(a, s.rows(f"SELECT {s.pk(a)}, {s.col(a, 'created_at')}, {s.col(a, 'created_at')} FROM {s.table(a)} "
                       f"WHERE {flag} = {s.p}", (True,)),
             f"temporary, made > {days} days ago", f"{flag} = {s.p}", cutoff, (True,))

    # What the matched rows' foreign keys cascade to (and set to NULL), breadth first.
    frontier = {m: list(t.matched) for m, t in tables.items() if t.matched}
    while frontier:
        nxt: dict[Any, list[Any]] = {}
        for parent, keys in frontier.items():
            for fk in _children(parent, MODELS):
                if fk.on_delete is None or fk.on_delete.upper() != "CASCADE":
                    continue
                child, t = fk.model, tables[fk.model]
                for part in _chunks(keys, _CHUNK):
                    for key, created in s.rows(
                            f"SELECT {s.pk(child)}, {_created_sql(s, child)} FROM {s.table(child)} "
                            f"WHERE {s.q(fk.column_name)} IN ({s.marks(len(part))})", part):
                        if not t.has(key):
                            t.cascaded[key] = as_utc(created)
                            nxt.setdefault(child, []).append(key)
                reason = f"child of {parent._meta.table_name}"
                if t.cascaded and reason not in t.reasons:
                    t.reasons.append(reason)
        frontier = nxt
    for parent, t in tables.items():
        gone = list(t.matched) + list(t.cascaded)
        for fk in _children(parent, MODELS):
            on_delete = (fk.on_delete or "").upper()
            if on_delete == "CASCADE" or not gone:
                continue
            child, ct = fk.model, tables[fk.model]
            left = 0
            for part in _chunks(gone, _CHUNK):
                left += sum(1 for (key,) in s.rows(
                    f"SELECT {s.pk(child)} FROM {s.table(child)} WHERE {s.q(fk.column_name)} IN "
                    f"({s.marks(len(part))})", part) if not ct.has(key))
            if left and on_delete != "SET NULL":
                raise AuraError(
                    f"{left} row(s) of {child._meta.table_name} refer to rows purge would remove from "
                    f"{parent._meta.table_name}, and their foreign key does not cascade; nothing was changed")
            if left:
                ct.detached += left
                ct.reasons.append(f"{fk.column_name} set to NULL ({parent._meta.table_name} purged)")

    # Content blobs no version (that stays) refers to.
    v, b = ProjectVersion, ContentBlob
    gone_versions = set(tables[v].matched) | set(tables[v].cascaded)
    hash_cols = [s.col(v, c) for c in v.HASH_COLUMNS]
    referenced: set[str] = set()
    for row in s.rows(f"SELECT {s.pk(v)}, {', '.join(hash_cols)} FROM {s.table(v)}"):
        if row[0] not in gone_versions:
            referenced.update(str(h).lower() for h in row[1:] if h is not None)
    released: set[str] = set()  # hashes the purged versions referred to
    for part in _chunks(sorted(gone_versions, key=str), _CHUNK):
        for row in s.rows(f"SELECT {', '.join(hash_cols)} FROM {s.table(v)} WHERE {s.pk(v)} IN "
                          f"({s.marks(len(part))})", part):
            released.update(str(h).lower() for h in row if h is not None)
    t = tables[b]
    for key, created in s.rows(f"SELECT {s.pk(b)}, {_created_sql(s, b)} FROM {s.table(b)}"):
        if key is None or str(key).lower() not in referenced:
            t.matched[key] = as_utc(created)
        elif str(key).lower() in released:
            t.recounted += 1
    if t.matched:
        t.reasons.append("no version refers to it")
    if t.recounted:
        t.reasons.append(f"ReferenceCount lowered on {t.recounted} kept")
    t.still = _still_unreferenced
    return list(tables.values())


def _still_unreferenced(s: _Sql, keys: list[Any]) -> list[Any]:
    """The blobs among ``keys`` no version refers to now (one pass per hash column, not one per blob)."""
    from aura_db.models import ProjectVersion as v

    used: set[Any] = set()
    for c in v.HASH_COLUMNS:
        col = s.col(v, c)
        used.update(h for (h,) in s.rows(f"SELECT {col} FROM {s.table(v)} WHERE {col} IN ({s.marks(len(keys))})",
                                         keys))
    return [k for k in keys if k not in used]


def _report(tables: list[_Table]) -> list[TableReport]:
    out = []
    for t in tables:
        rows = len(t.matched) + len(t.cascaded)
        if rows or t.undated or t.detached or t.recounted:
            out.append(TableReport(t.model._meta.table_name, t.reasons, rows, len(t.matched), len(t.cascaded),
                                   t.detached, t.undated, t.recounted))
    return out


def _oldest(tables: list[_Table]) -> tuple[dt.datetime | None, bool]:
    """The earliest creation time among the rows to purge, and whether every one was known."""
    known, oldest = True, None
    for t in tables:
        if _created_attr(t.model) is None:  # no column says when its rows were made
            continue
        for created in (*t.matched.values(), *t.cascaded.values()):
            if created is None:
                known = False
            elif oldest is None or created < oldest:
                oldest = created
    return oldest, known


# --------------------------------------------------------------------------
# Deleting


class _Deleter:
    def __init__(self, engine: "Engine", db: "pw.Database", reports: dict[str, TableReport]):
        from aura_db.models import MODELS

        self.s, self.models, self.reports = _Sql(engine, db), MODELS, reports

    def _count(self, model: Any, n: int, *, detached: bool = False) -> None:
        name = model._meta.table_name
        r = self.reports.setdefault(name, TableReport(name, []))
        if detached:
            r.detached_done = (r.detached_done or 0) + n
        else:
            r.deleted = (r.deleted or 0) + n

    def delete(self, model: Any, keys: list[Any], rule_sql: str | None, params: tuple = (),
               still: Callable[[Any, list[Any]], list[Any]] | None = None) -> int:
        """Remove ``keys`` of ``model`` that still meet ``rule_sql``, children first; rows removed in all."""
        s = self.s
        if still is not None:
            keys = still(s, keys)
        elif rule_sql is not None:  # the app may have restored or used a row since the plan
            keys = [k for (k,) in s.rows(
                f"SELECT {s.pk(model)} FROM {s.table(model)} WHERE {s.pk(model)} IN ({s.marks(len(keys))}) "
                f"AND {rule_sql}", (*keys, *params))]
        return self._tree(model, keys)

    def _tree(self, model: Any, keys: list[Any]) -> int:
        if not keys:
            return 0
        s, removed = self.s, 0
        for fk in _children(model, self.models):
            child, col = fk.model, s.q(fk.column_name)
            on_delete = (fk.on_delete or "").upper()
            for part in _chunks(keys, _CHUNK):
                if on_delete == "CASCADE":
                    kids = [k for (k,) in s.rows(f"SELECT {s.pk(child)} FROM {s.table(child)} "
                                                 f"WHERE {col} IN ({s.marks(len(part))})", part)]
                    removed += self._tree(child, kids)
                elif on_delete == "SET NULL":
                    n = s.db.execute_sql(f"UPDATE {s.table(child)} SET {col} = NULL "
                                         f"WHERE {col} IN ({s.marks(len(part))})", tuple(part)).rowcount
                    self._count(child, n, detached=True)
        for part in _chunks(keys, _CHUNK):
            if hasattr(model, "HASH_COLUMNS"):
                self._release_blobs(model, part)
            n = s.db.execute_sql(f"DELETE FROM {s.table(model)} WHERE {s.pk(model)} IN ({s.marks(len(part))})",
                                 tuple(part)).rowcount
            self._count(model, n)
            removed += n
        return removed


    def _release_blobs(self, versions: Any, keys: list[Any]) -> None:
        """Each hash a removed version holds is one reference less on its ContentBlobs row (as the app counts)."""
        from aura_db.models import ContentBlob

        s = self.s
        cols = [s.col(versions, c) for c in versions.HASH_COLUMNS]
        refs: dict[Any, int] = {}
        for row in s.rows(f"SELECT {', '.join(cols)} FROM {s.table(versions)} WHERE {s.pk(versions)} IN "
                          f"({s.marks(len(keys))})", keys):
            for h in row:
                if h is not None:
                    refs[h] = refs.get(h, 0) + 1
        by_count: dict[int, list[Any]] = {}
        for h, n in refs.items():
            by_count.setdefault(n, []).append(h)
        count = s.col(ContentBlob, "reference_count")
        for n, hashes in sorted(by_count.items()):
            for part in _chunks(hashes, _CHUNK):
                s.db.execute_sql(f"UPDATE {s.table(ContentBlob)} SET {count} = {count} - {int(n)} "
                                 f"WHERE {s.pk(ContentBlob)} IN ({s.marks(len(part))})", tuple(part))


# --------------------------------------------------------------------------
# The command


def purge(
    engine: "Engine",
    migrations_dir: Path,
    *,
    older_than_days: int = DEFAULT_OLDER_THAN_DAYS,
    dry_run: bool = False,
    confirm: Callable[[PurgeResult], None] | None = None,
    safety: "SafetyBackup | None" = None,
    backup_dir: Path | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    batch_size: int = BATCH_SIZE,
    lock_timeout: float = 60.0,
    now: dt.datetime | None = None,
) -> PurgeResult:
    """Plan, then (unless a dry run or nothing to do) confirm, back up and delete in batches.

    ``confirm(plan)`` raises (Refused) to stop before anything is written;
    ``safety`` takes the backup (required unless a dry run); ``backup_dir``
    is where the backups that still hold purged rows are looked for.
    """
    from aura_db.backup.catalogue import this_database
    from aura_db.engines.base import PeeweeReader
    from aura_db.guards import require_writable
    from aura_db.migrations import read_history
    from aura_db.seed import require_migrated

    if older_than_days < 0:
        raise UsageError(f"--older-than must be 0 or more, got {older_than_days}")
    if not dry_run:  # before the plan, the question and the safety backup (a dry run only reads)
        require_writable(engine, "purge")
    started = time.perf_counter()
    if now is None:
        from aura_db.fields import utcnow

        now = utcnow()
    cutoff = now - dt.timedelta(days=older_than_days)
    result = PurgeResult(engine.describe(), engine.name, older_than_days, _iso(now), _iso(cutoff), dry_run)
    db = engine.open(create=False)
    try:
        # What the database is, asked on this connection: behind a pooler a
        # second one might wait for the server connection this one holds.
        here = this_database(engine, PeeweeReader(engine, db)) if backup_dir is not None else None
        require_migrated(engine, db, migrations_dir)  # refuses a database aura-db does not manage, or behind
        history = read_history(db)
        plan = _plan(engine, db, now=now, cutoff=cutoff, days=older_than_days)
        result.tables = _report(plan)
        oldest, known = _oldest(plan)
        result.oldest_purged_created_at = _iso(oldest) if known and oldest is not None else None
        result.warnings.extend(f"{t.undated} row(s) of {t.table} have a date that cannot be read: left alone"
                               for t in result.tables if t.undated)
        if dry_run or result.nothing_to_do:
            if backup_dir is not None and not result.nothing_to_do:
                result.holding_backups = _holding(here, Path(backup_dir), oldest if known else None)
            result.duration_ms = int((time.perf_counter() - started) * 1000)
            return result
        if confirm is not None:
            confirm(result)
        if safety is None:
            raise AuraError("purge needs a safety backup policy; nothing was changed")
        # Never beside a migrate (or another purge): the schema the plan read must stay as it is.
        with engine.migration_lock(db, lock_timeout):
            with engine.locked(db):  # PostgreSQL holds its lock per transaction: this one, then each batch's
                require_migrated(engine, db, migrations_dir)
            try:
                result.backup = safety.take(engine, label=SAFETY_LABEL, head=history[-1].name if history else None)
            except AuraError as exc:
                exc.hint = "free space in the backup folder (or point --backup-dir elsewhere), then purge again"
                raise
            _delete(engine, db, plan, result, on_progress, batch_size)
    finally:
        db.close()
    if backup_dir is not None:
        result.holding_backups = _holding(here, Path(backup_dir), oldest if known else None)
    result.duration_ms = int((time.perf_counter() - started) * 1000)
    return result



def _delete(engine: "Engine", db: "pw.Database", plan: list[_Table], result: PurgeResult,
            on_progress: Callable[[int, int], None] | None, batch_size: int) -> None:
    from aura_db.models import ContentBlob

    reports = {r.table: r for r in result.tables}
    for r in reports.values():
        r.deleted = 0
    deleter = _Deleter(engine, db, reports)
    total, done = result.total, 0
    # Children's own rules first (a soft-deleted version before its deleted project), blobs last:
    # only once the versions are gone are their blobs unreferenced.
    order = [t for t in reversed(plan) if t.model is not ContentBlob] + [t for t in plan if t.model is ContentBlob]
    for t in order:
        keys = list(t.matched)
        for part in _chunks(keys, max(1, batch_size)):
            try:
                with engine.locked(db), db.atomic():
                    done += deleter.delete(t.model, part, t.rule_sql, t.rule_params, t.still)
            except AuraError:
                raise
            except Exception as exc:  # noqa: BLE001 - the driver's error, said in one line
                raise AuraError(
                    f"purge stopped in {t.model._meta.table_name} after {result.batches} batch(es): "
                    f"{engine.scrub(str(exc)).strip()}; the batch that failed was rolled back",
                    hint=f"the rows removed so far are in the safety backup {result.backup}") from None
            result.batches += 1
            if on_progress is not None:
                on_progress(min(done, total), total)


def _holding(ref: Any, backup_dir: Path, oldest: dt.datetime | None) -> list[dict[str, Any]]:
    """The backups of ``ref`` (a ``DatabaseRef``) made after the oldest purged row was: they may still hold it.

    ``oldest`` None (a creation date unknown): every backup of this database.
    """
    from aura_db import backup
    from aura_db.backup.catalogue import DatabaseKeys, sort_time

    listed = backup.list_backups(backup_dir)
    keys = DatabaseKeys(listed, here=ref)  # a standby's or another node's backups are this database's too
    here = keys.here(ref)
    since = oldest.replace(tzinfo=dt.timezone.utc).timestamp() if oldest is not None else None
    out = []
    for e in listed:
        m = e.manifest
        if m is None or keys.of(m) != here:
            continue
        if since is not None and sort_time(e.created_at) < since:
            continue
        out.append({"file": e.name, "path": str(e.path), "created_at": e.created_at, "kind": m.kind})
    return out


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"
