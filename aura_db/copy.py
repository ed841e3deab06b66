"""``aura-db copy``: one database into an empty one, on any engine, proved table by table.

The order of work:

1. the source must be up to date with the migrations folder (its schema is
   then exactly what the migrations build), the target empty of tables;
2. the target's schema is built by aura-db's own migrations for its engine
   (``migrations.build_on``), history included;
3. every row of every table follows, read from one snapshot of the source in
   key order and in chunks, converted to the target's native types, written
   the engine's fastest way (``Engine.copy_target()``: COPY into PostgreSQL,
   large multi-row INSERTs into MySQL, one executemany transaction into
   SQLite); tables the migrations do not build are created as they are;
4. proof: per table, the row count and an order-independent checksum over a
   normalised form of every row (the same for the same logical row on any
   engine), on the source as it is read and on the target after it is
   written; any difference undoes the copy;
5. the copy is published (committed, renamed into place, its marker dropped)
   and ``status --check`` and ``verify`` are run on it.

Where the engine allows it (PostgreSQL; SQLite through a hidden file renamed
at the end) a failed or killed copy leaves the target exactly as it was. On
MySQL, where DDL commits, a failed copy removes what it created, and a killed
one is recognised and cleared by the next (``aura_db/engines/mysql/copy.py``).

Functions return dataclasses and raise ``AuraError`` subclasses; they never print.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from aura_db.engines.copy import (
    NULL,
    as_bool,
    as_blob,
    as_decimal,
    as_text,
    decimal_plain,
    map_column,
    normal_json,
    time_text,
)
from aura_db.errors import AuraError, CheckFailed, ChecksFailed, CopyDataError, UsageError

if TYPE_CHECKING:
    import peewee as pw

    from aura_db.catalog import Catalog
    from aura_db.engines.base import Engine

MOD = 1 << 128

# on_progress(event, name, done, total): "apply" a migration, "table" starting (total rows),
# "rows" written so far, "check" a check on the published copy.
Progress = Callable[[str, str, int, "int | None"], None]


# --------------------------------------------------------------------------
# Results


@dataclass
class TableCopy:
    table: str
    source_rows: int
    target_rows: int
    source_checksum: str
    target_checksum: str
    created: bool = False  # a table the migrations do not build, created as the source has it
    duration_ms: int = 0

    @property
    def match(self) -> bool:
        return self.source_rows == self.target_rows and self.source_checksum == self.target_checksum

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "source_rows": self.source_rows, "target_rows": self.target_rows,
                "source_checksum": self.source_checksum, "target_checksum": self.target_checksum,
                "match": self.match, "created": self.created, "duration_ms": self.duration_ms}


@dataclass
class CopyResult:
    source: str
    target: str
    source_engine: str
    target_engine: str
    migrations: list[str] = field(default_factory=list)
    tables: list[TableCopy] = field(default_factory=list)
    cleared_leftover: bool = False
    status_check: str | None = None  # pass | fail, on the published copy
    verify: str | None = None  # pass | warn | fail
    verify_failed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duration_ms: int = 0

    @property
    def rows(self) -> int:
        return sum(t.target_rows for t in self.tables)

    @property
    def rows_per_second(self) -> float:
        return self.rows / (self.duration_ms / 1000) if self.duration_ms else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "target": self.target,
            "source_engine": self.source_engine, "target_engine": self.target_engine,
            "migrations": self.migrations, "rows": self.rows,
            "tables": [t.to_dict() for t in self.tables],
            "all_match": all(t.match for t in self.tables),
            "cleared_leftover": self.cleared_leftover,
            "status_check": self.status_check, "verify": self.verify, "verify_failed": self.verify_failed,
            "notes": self.notes, "duration_ms": self.duration_ms,
            "rows_per_second": round(self.rows_per_second, 1),
        }


# --------------------------------------------------------------------------
# Kinds: a column's logical type


def _field_kind(f: Any) -> str:
    import peewee as pw

    from aura_db import fields as F

    if isinstance(f, pw.ForeignKeyField):
        return _field_kind(f.rel_field)
    for cls, kind in ((F.GuidField, "guid"), (F.JsonField, "json"), (F.TimestampField, "eftime"),
                      (pw.DateTimeField, "time"), (F.DecimalTextField, "decimal_text"),
                      (pw.DecimalField, "decimal"), (pw.BooleanField, "bool"), (pw.FloatField, "float"),
                      (pw.IntegerField, "int"), (pw.BlobField, "blob")):
        if isinstance(f, cls):
            return kind
    return "text"


_MODEL_KINDS: dict[str, dict[str, str]] = {}


def model_kinds() -> dict[str, dict[str, str]]:
    """Folded table name -> folded column name -> kind, for every table aura-db models."""
    from aura_db.migrations import _history_models
    from aura_db.models import MODELS

    if _MODEL_KINDS:
        return _MODEL_KINDS
    out = _MODEL_KINDS
    for model in [*MODELS, *_history_models(None)]:
        out[model._meta.table_name.casefold()] = {
            f.column_name.casefold(): _field_kind(f) for f in model._meta.sorted_fields}
    return out


def type_kind(type_name: str) -> str:
    """The kind of a column from its declared type (tables aura-db does not model)."""
    t = (type_name or "").lower()
    for needle, kind in (("uuid", "guid"), ("json", "json"), ("bool", "bool"), ("timestamp", "time"),
                         ("datetime", "time"), ("int", "int"), ("char", "text"), ("clob", "text"),
                         ("text", "text"), ("blob", "blob"), ("bytea", "blob"), ("binary", "blob"),
                         ("real", "float"), ("floa", "float"), ("doub", "float"), ("numeric", "decimal"),
                         ("decimal", "decimal")):
        if needle in t:
            return kind
    return "text"


# --------------------------------------------------------------------------
# The normalised form of a value: the same for the same logical value on every engine


def _n_guid(v: Any) -> str:
    return str(v).lower()


_n_json = normal_json


def _n_bool(v: Any) -> str:
    return "1" if as_bool(v) else "0"


def _n_time(v: Any) -> str:
    try:
        return time_text(v)
    except ValueError:
        return "?" + str(v)


def _n_decimal(v: Any) -> str:
    try:
        return decimal_plain(as_decimal(v))
    except ValueError:
        return "?" + str(v)


def _n_int(v: Any) -> str:
    try:
        return str(int(v))
    except (TypeError, ValueError):
        return "?" + str(v)


def _n_float(v: Any) -> str:
    return repr(float(v))


def _n_blob(v: Any) -> str:
    return hashlib.blake2b(as_blob(v), digest_size=16).hexdigest()


NORMALISE: dict[str, Callable[[Any], str]] = {
    "guid": _n_guid, "json": _n_json, "bool": _n_bool, "eftime": _n_time, "time": _n_time,
    "decimal": _n_decimal, "decimal_text": _n_decimal, "int": _n_int, "float": _n_float,
    "blob": _n_blob, "text": as_text,
}


class Checksum:
    """Rows and an order-independent checksum: the sum of the rows' hashes (a multiset's)."""

    def __init__(self) -> None:
        self.rows = 0
        self.total = 0

    def add(self, parts: list[str]) -> None:
        digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=16).digest()
        self.total += int.from_bytes(digest, "big")
        self.rows += 1

    def add_all(self, rows: Any) -> None:
        total, blake, sep = self.total, hashlib.blake2b, "\x1f"
        n = 0
        for parts in rows:
            total += int.from_bytes(blake(sep.join(parts).encode("utf-8", "surrogatepass"), digest_size=16).digest(),
                                    "big")
            n += 1
        self.total, self.rows = total, self.rows + n

    @property
    def hex(self) -> str:
        return f"{self.total % MOD:032x}"


# --------------------------------------------------------------------------
# The copy


FAULT_VARIABLE = "AURA_DB_COPY_FAULT"


def _fault(point: str, count: int = 0) -> None:
    """Fault injection for the tests of atomicity: ``AURA_DB_COPY_FAULT=POINT[:N]`` SIGKILLs the process there.

    Points: ``migrated`` (schema built, no rows yet), ``rows:N`` (once N rows
    are written), ``loaded`` (every row in and proved, before the copy is published).
    """
    spec = os.environ.get(FAULT_VARIABLE)
    if not spec:
        return
    name, _, n = spec.partition(":")
    if name == point and count >= int(n or 0):
        os.kill(os.getpid(), signal.SIGKILL)



@dataclass
class _TablePlan:
    source: str
    target: str
    columns: list[str]  # the source's names
    target_columns: list[str]
    kinds: list[str]
    key: list[str]  # the source's primary key, read in its order
    created: bool = False


def copy_database(
    source: "Engine",
    target: "Engine",
    migrations_dir: Path,
    *,
    lock_timeout: float | None = None,
    confirm: Callable[[int], None] | None = None,
    on_progress: Progress | None = None,
) -> CopyResult:
    """Copy ``source`` into the empty database ``target`` (see the module's text).

    ``confirm(n_tables)`` is asked once the source and target have passed
    their checks, before anything is changed; it may raise ``Refused``.
    """
    from aura_db import migrations
    from aura_db.guards import require_writable

    started = time.monotonic()
    if type(source) is type(target) and source.describe() == target.describe():
        raise UsageError(f"--to names the source database itself ({target.describe()})",
                         hint="give another database to copy into")
    require_writable(target, "copy")  # a standby or read-only target: before anything is looked at
    result = CopyResult(source=source.describe(), target=target.describe(),
                        source_engine=source.name, target_engine=target.name)
    _check_source(source, migrations_dir)
    tgt = target.copy_target()
    timeout = migrations.DEFAULT_LOCK_TIMEOUT if lock_timeout is None else lock_timeout
    src_db = source.open(create=False)
    try:
        with tgt.session(timeout) as existing:
            leftover = bool(existing) and tgt.leftover(existing)
            if existing and not leftover:
                shown = ", ".join(existing[:5]) + (f" and {len(existing) - 5} more" if len(existing) > 5 else "")
                raise CheckFailed(
                    f"{target.describe()} is not empty: it holds {len(existing)} table(s) ({shown}); "
                    "aura-db copies only into a database without tables; nothing was changed",
                    hint="create an empty database (createdb NAME / CREATE DATABASE NAME) or give another --to",
                    details={"target_tables": existing})
            reader = source.copy_source(src_db)
            src_cat = source.catalog(src_db)
            if source.copy_target().leftover(src_cat.tables()):
                raise CheckFailed(f"{source.describe()} is an unfinished copy (a copy into it was interrupted): "
                                  "not copied", hint="copy into it again, or copy from the database it came from")
            if confirm is not None:
                confirm(len(src_cat.tables()))
            if leftover:
                tgt.clear(existing)
                result.cleared_leftover = True
                result.notes.append(f"cleared the {len(existing)} table(s) an interrupted copy had left in the target")
            with reader.snapshot():
                src_tables = src_cat.tables()
                with tgt.building(source.describe()) as db:
                    _build(source, target, tgt, db, reader, src_cat, src_tables, migrations_dir, result,
                           on_progress, started)
                tgt.publish()
    except BaseException:
        result.notes.extend(tgt.notes)
        if tgt.notes:
            from aura_db.errors import notify

            for note in tgt.notes:
                notify(note)
        raise
    finally:
        if not src_db.is_closed():
            src_db.close()
    result.notes.extend(tgt.notes)
    _check_published(tgt.check_engine(), migrations_dir, result, on_progress)
    result.duration_ms = int((time.monotonic() - started) * 1000)
    return result


def _check_source(source: "Engine", migrations_dir: Path) -> None:
    """The source must be exactly what the migrations build: up to date, no drift, aura-db's."""
    from aura_db.migrations import status

    st = status(source, migrations_dir)
    if st.not_adopted:
        raise CheckFailed(
            f"{source.describe()} holds tables aura-db did not create and has not adopted: not copied",
            hint="take it over first: `aura-db adopt`")
    problems = []
    if st.pending:
        problems.append(f"{len(st.pending)} pending migration(s) ({', '.join(st.pending[:3])}"
                        f"{', ...' if len(st.pending) > 3 else ''})")
    if st.changed:
        problems.append(f"changed since applied: {', '.join(st.changed)}")
    if st.missing:
        problems.append(f"applied but missing from the folder: {', '.join(st.missing)}")
    if problems:
        raise CheckFailed(
            f"{source.describe()} is not up to date with the migrations folder ({'; '.join(problems)}): "
            "migrate it first; nothing was copied",
            hint="`aura-db --db SOURCE migrate`, then copy again (the copy's schema is built by the migrations)")


def _build(source: "Engine", target: "Engine", tgt: Any, db: "pw.Database", reader: Any, src_cat: "Catalog",
           src_tables: list[str], migrations_dir: Path, result: CopyResult, on_progress: Progress | None,
           started: float) -> None:
    from aura_db import migrations

    before = set(target.catalog(db).tables())  # a marker table of the engine's own, if any
    apply = (lambda action, name: on_progress("apply", name, 0, None)) if on_progress else None
    result.migrations = migrations.build_on(target, db, migrations_dir, on_progress=apply)
    _fault("migrated")
    tcat = target.catalog(db)
    built = [t for t in tcat.tables() if t not in before]
    with tgt.loading(db):
        tgt.empty(db, built)  # rows the migrations inserted (roles, EF history) come from the source
        live = tcat.live_names()  # asked once: a catalog query per table adds up on a busy server
        plans = [_plan(t, src_cat, tcat, tgt, db, live) for t in src_tables]
        written = [0]
        for plan in _fk_order(plans, tcat):
            result.tables.append(_copy_table(plan, reader, src_cat, tgt, db, on_progress, written))
        bad = [t for t in result.tables if not t.match]
        if bad:
            raise ChecksFailed(
                "the copy does not match the source in " + ", ".join(
                    f"{t.table} ({t.source_rows} rows -> {t.target_rows}, checksum "
                    f"{t.source_checksum[:8]} -> {t.target_checksum[:8]})" for t in bad)
                + "; nothing was kept", result=result)
        _log_copy(db, source, result, started)
        _fault("loaded")


def _plan(table: str, src_cat: "Catalog", tcat: "Catalog", tgt: Any, db: "pw.Database",
          live_names: dict[str, str]) -> _TablePlan:
    src_cols = src_cat.columns(table)
    key = [c.name for c in src_cols if c.primary_key]
    modelled = model_kinds().get(table.casefold(), {})
    live = live_names.get(tcat.fold(table))
    created = False
    if live is None:  # a table the migrations do not build: as the source has it
        cols = [(c.name, modelled.get(c.name.casefold()) or type_kind(c.type), c.nullable) for c in src_cols]
        tgt.create_table(db, table, cols, key)
        live, created = tcat.find_table(table) or table, True
    tgt_cols = {c.name.casefold(): c for c in tcat.columns(live)}
    missing = [c.name for c in src_cols if c.name.casefold() not in tgt_cols]
    if missing:
        raise AuraError(f"{table} has column(s) the migrations do not build: {', '.join(missing)}; nothing was copied",
                        hint="the source's schema differs from the migrations': compare with `aura-db verify`")
    kinds = []
    for c in src_cols:
        kind = modelled.get(c.name.casefold())
        if kind is None:
            theirs = type_kind(tgt_cols[c.name.casefold()].type)
            kind = theirs if theirs != "text" else type_kind(c.type)
        kinds.append(kind)
    return _TablePlan(table, live, [c.name for c in src_cols], [tgt_cols[c.name.casefold()].name for c in src_cols],
                      kinds, key, created)


def _fk_order(plans: list[_TablePlan], tcat: "Catalog") -> list[_TablePlan]:
    """Parents before children (PostgreSQL checks each row's foreign keys as it arrives)."""
    by_name = {p.target.casefold(): p for p in plans}
    parents = {}
    for p in plans:
        parents[p.target.casefold()] = {fk.target_table.casefold() for fk in tcat.foreign_keys(p.target)
                                        if fk.target_table.casefold() in by_name} - {p.target.casefold()}
    out: list[_TablePlan] = []
    done: set[str] = set()
    while len(out) < len(plans):
        ready = [p for p in plans if p.target.casefold() not in done and parents[p.target.casefold()] <= done]
        if not ready:  # a cycle: the rest in the source's order
            ready = [p for p in plans if p.target.casefold() not in done]
        for p in ready:
            out.append(p)
            done.add(p.target.casefold())
    return out


def _key_of(plan: _TablePlan, row: tuple) -> str:
    if not plan.key:
        return "(no key)"
    values = [row[plan.columns.index(k)] for k in plan.key]
    return ", ".join(f"{k}={v!r}" for k, v in zip(plan.key, values))


def _copy_table(plan: _TablePlan, reader: Any, src_cat: "Catalog", tgt: Any, db: "pw.Database",
                on_progress: Progress | None, written: list[int]) -> TableCopy:
    t0 = time.monotonic()
    total = src_cat.row_count(plan.source) if on_progress else None
    if on_progress:
        on_progress("table", plan.source, 0, total)
    kinds = plan.kinds
    norm = [NORMALISE[k] for k in kinds]
    src_sum = Checksum()

    def refuse(chunk: list[tuple], i: int, f: Callable[[Any], Any]) -> CopyDataError:
        """The first row of ``chunk`` whose column ``i`` ``f`` refuses, named."""
        for row in chunk:
            v = row[i]
            try:
                if v is not None:
                    f(v)
            except (ValueError, TypeError, OverflowError, UnicodeError) as exc:
                key = _key_of(plan, row)
                return CopyDataError(
                    f"{plan.source} row {key}, column {plan.columns[i]}: {_reason(exc)}; nothing was copied",
                    hint="fix or remove the value in the source, then copy again",
                    details={"table": plan.source, "row": key, "column": plan.columns[i]})
        return CopyDataError(f"{plan.source}, column {plan.columns[i]}: a value was refused; nothing was copied")

    def chunks():
        done = 0
        for chunk in reader.rows(plan.source, plan.columns, plan.key):
            cols = list(zip(*chunk))
            normed, converted = [], []
            for i, col in enumerate(cols):
                try:
                    n, c = tgt.column(kinds[i], col, norm[i])
                except (ValueError, TypeError, OverflowError, UnicodeError):
                    raise refuse(chunk, i, lambda v, i=i: tgt.column(kinds[i], (v,), norm[i])) from None
                normed.append(n)
                converted.append(c)
            src_sum.add_all(zip(*normed))
            out = list(zip(*converted))
            done += len(out)
            yield out
            written[0] += len(out)
            _fault("rows", written[0])
            if on_progress:
                on_progress("rows", plan.source, done, total)

    tgt.write(db, plan.target, plan.target_columns, kinds, chunks())
    tgt.after_table(db, plan.target, plan.target_columns)
    tgt_sum = Checksum()
    for chunk in tgt.read(db, plan.target, plan.target_columns, kinds):
        cols = zip(*chunk)
        tgt_sum.add_all(zip(*[map_column(col, norm[i], kinds[i], NULL) for i, col in enumerate(cols)]))
    return TableCopy(plan.source, src_sum.rows, tgt_sum.rows, src_sum.hex, tgt_sum.hex, plan.created,
                     int((time.monotonic() - t0) * 1000))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON ({exc})"
    return str(exc) or type(exc).__name__


def _log_copy(db: "pw.Database", source: "Engine", result: CopyResult, started: float) -> None:
    """The copy's own line in the target's audit log, after the source's (copied as they were)."""
    import socket

    from aura_db.migrations import _actor, _history_models, _now

    _, RunLog = _history_models(db)
    head = result.migrations[-1] if result.migrations else None
    RunLog.create(command="copy", started_at=_now(), finished_at=_now(), actor=_actor(),
                  host=socket.gethostname(), pid=os.getpid(), from_head=None, to_head=head,
                  migrations=",".join(result.migrations), outcome="success", error=None,
                  duration_ms=int((time.monotonic() - started) * 1000), backup_file=None)


def _check_published(engine: "Engine", migrations_dir: Path, result: CopyResult,
                     on_progress: Progress | None) -> None:
    """``status --check`` and ``verify`` on the copy, as an operator would run them."""
    from aura_db.migrations import status
    from aura_db.verify import verify

    if on_progress:
        on_progress("check", "status --check", 0, None)
    st = status(engine, migrations_dir)
    result.status_check = "pass" if st.up_to_date and not st.not_adopted else "fail"
    if on_progress:
        on_progress("check", "verify", 0, None)
    report = verify(engine, migrations_dir)
    result.verify = report.status
    result.verify_failed = [c.check for c in report.failed]
    if result.status_check != "pass" or not report.ok:
        what = []
        if result.status_check != "pass":
            what.append("status --check fails (pending: " + ", ".join(st.pending) + ")")
        if not report.ok:
            what.append("verify fails (" + ", ".join(result.verify_failed) + ")")
        raise ChecksFailed(f"the copy in {result.target} is complete, but {' and '.join(what)}",
                           result=result, hint="run `aura-db verify` on the copy and on the source")
