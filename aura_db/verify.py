"""Post-migration verification: is this database what the Aura design says it is?

``verify()`` runs a fixed list of checks and returns one ``CheckResult`` per
check (pass / warn / fail, a one-line detail, and the problems it found by
name).  It reads only; it never changes the database.  The CLI turns a
failing check into exit code 3.

The expensive part on a large SQLite file is the page-level integrity check;
it runs on its own connection in a worker thread while the other checks run
(sqlite3 releases the GIL while a statement steps).  The other whole-table
checks are shaped to stay cheap next to it: orphans are looked for per
distinct key value through the key's index (``--full`` runs SQLite's
``PRAGMA foreign_key_check`` over every row instead, with ``integrity_check``),
and reference counts are compared in one engine-side pass.  With a second
core free, ``verify`` then costs little more than ``PRAGMA quick_check`` alone
(benchmarks/verify_bench.py).
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from aura_db.catalog import Catalog, ForeignKey, Integrity, catalog_for, expected_type
from aura_db.errors import AuraError

if TYPE_CHECKING:
    import peewee as pw

    from aura_db.db import Engine

PASS, WARN, FAIL = "pass", "warn", "fail"
MAX_NAMED = 10  # problems named in a detail line; all of them are in `problems`
MAX_DETAILED = 1000  # blobs looked up one by one to say what is wrong with them


@dataclass
class CheckResult:
    check: str
    status: str  # pass | warn | fail
    detail: str
    problems: list[str] = field(default_factory=list)
    duration_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class VerifyReport:
    engine: str
    location: str
    server_version: str | None
    full: bool
    checks: list[CheckResult]
    duration_ms: int = 0

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == FAIL]

    @property
    def warnings(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == WARN]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def status(self) -> str:
        return FAIL if self.failed else WARN if self.warnings else PASS

    def check(self, name: str) -> CheckResult:
        for c in self.checks:
            if c.check == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "location": self.location,
            "server_version": self.server_version,
            "full": self.full,
            "status": self.status,
            "ok": self.ok,
            "failed": [c.check for c in self.failed],
            "duration_ms": self.duration_ms,
            "checks": [c.to_dict() for c in self.checks],
        }


def _named(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_NAMED])
    more = len(items) - MAX_NAMED
    return shown + (f" (+{more} more)" if more > 0 else "")


# --------------------------------------------------------------------------
# What the models expect


@dataclass(frozen=True)
class ExpectedSchema:
    tables: list[str]
    columns: dict[str, list[tuple[str, str, bool]]]  # table -> (column, type, nullable)
    indexes: dict[str, dict[str, tuple[tuple[str, ...], bool]]]  # table -> name -> (columns, unique)
    foreign_keys: list[ForeignKey]
    soft_delete_tables: list[tuple[str, str, str]]  # (table, IsDeleted column, DeletedAt column)


def expected_schema(db: "pw.Database") -> ExpectedSchema:
    import peewee as pw

    from aura_db.models import INDEXES, MODELS, SoftDeleteModel, index_name

    columns: dict[str, list[tuple[str, str, bool]]] = {}
    fks: list[ForeignKey] = []
    for model in MODELS:
        table = model._meta.table_name
        columns[table] = [(f.column_name, expected_type(db, f), bool(f.null)) for f in model._meta.sorted_fields]
        for f in model._meta.sorted_fields:
            if isinstance(f, pw.ForeignKeyField):
                fks.append(ForeignKey(table, f.column_name, f.rel_model._meta.table_name,
                                      f.rel_field.column_name, (f.on_delete or "NO ACTION").upper()))
    indexes: dict[str, dict[str, tuple[tuple[str, ...], bool]]] = {m._meta.table_name: {} for m in MODELS}
    for model, cols, unique in INDEXES:
        names = tuple(model._meta.fields[c].column_name for c in cols)
        indexes[model._meta.table_name][index_name(model, cols)] = (names, unique)
    soft = [(m._meta.table_name, m.is_deleted.column_name, m.deleted_at.column_name)
            for m in MODELS if issubclass(m, SoftDeleteModel)]
    return ExpectedSchema([m._meta.table_name for m in MODELS], columns, indexes, fks, soft)


# --------------------------------------------------------------------------
# The checks


class _Verifier:
    def __init__(self, engine: "Engine", db: "pw.Database", catalog: Catalog, migrations_dir: Path, full: bool):
        self.engine = engine
        self.db = db
        self.cat = catalog
        self.migrations_dir = migrations_dir
        self.full = full
        self.expected = expected_schema(db)
        # Names compared as the engine compares them: on SQLite (and MySQL with
        # lower_case_table_names 1 or 2) ``templates`` is the table ``Templates``.
        self.fold = catalog.fold
        self.live = catalog.live_names()  # folded -> as the catalog spells it
        self.present = set(self.live)

    def has(self, table: str) -> bool:
        return self.fold(table) in self.present

    def live_name(self, table: str) -> str:
        return self.live.get(self.fold(table), table)

    def missing(self, *tables: str) -> list[str]:
        return [t for t in tables if not self.has(t)]

    def skipped(self, name: str, tables: list[str]) -> CheckResult:
        return CheckResult(name, WARN, f"skipped: table {_named(tables)} missing")

    # -- migrations --------------------------------------------------------
    def migrations(self) -> CheckResult:
        from aura_db.migrations import discover, read_history

        files = {f.name: f for f in discover(self.migrations_dir)}
        history = read_history(self.db)
        if not history:
            return CheckResult("migrations", FAIL, "no migration applied: run `aura-db migrate`",
                               [f"{n}: pending" for n in files])
        problems = []
        for h in history:
            f = files.get(h.name)
            if f is None:
                problems.append(f"{h.name}: applied, file missing from {self.migrations_dir}")
            elif f.checksum != h.checksum:
                problems.append(f"{h.name}: file changed since it was applied "
                                f"(recorded sha256 {h.checksum[:12]}, file {f.checksum[:12]})")
        applied = {h.name for h in history}
        pending = [n for n in files if n not in applied]
        head = history[-1].name
        if problems:
            return CheckResult("migrations", FAIL, f"drift: {_named(problems)}",
                               problems + [f"{n}: pending" for n in pending])
        if pending:
            return CheckResult("migrations", WARN, f"head {head}; {len(pending)} pending: {_named(pending)}",
                               [f"{n}: pending" for n in pending])
        return CheckResult("migrations", PASS, f"head {head}; {len(history)} applied, checksums match")

    # -- schema ------------------------------------------------------------
    def schema_tables(self) -> CheckResult:
        from aura_db.ddl import EF_HISTORY_TABLE
        from aura_db.tables import OWN_TABLES

        missing = self.missing(*self.expected.tables)
        known = {self.fold(t) for t in [*self.expected.tables, *OWN_TABLES, EF_HISTORY_TABLE]}
        extra = sorted(self.live[t] for t in self.present - known)
        problems = [f"missing table {t}" for t in missing] + [f"extra table {t}" for t in extra]
        if missing:
            return CheckResult("schema: tables", FAIL, f"missing: {_named(missing)}", problems)
        if extra:
            return CheckResult("schema: tables", WARN,
                               f"all {len(self.expected.tables)} present; extra: {_named(extra)}", problems)
        return CheckResult("schema: tables", PASS, f"all {len(self.expected.tables)} present")

    def schema_columns(self) -> CheckResult:
        fails, warns, total = [], [], 0
        for table, cols in self.expected.columns.items():
            if not self.has(table):
                continue
            actual = {self.fold(c.name): c for c in self.cat.columns(self.live_name(table))}
            for name, typ, nullable in cols:
                total += 1
                col = actual.pop(self.fold(name), None)
                if col is None:
                    fails.append(f"missing column {table}.{name}")
                    continue
                want, got = self.cat.normalize_type(typ), self.cat.normalize_type(col.type)
                if want != got:
                    fails.append(f"{table}.{name} is {col.type}, expected {typ}")
                if col.nullable != nullable:
                    fails.append(f"{table}.{name} is {'NULL' if col.nullable else 'NOT NULL'}, "
                                 f"expected {'NULL' if nullable else 'NOT NULL'}")
            warns += [f"extra column {table}.{c.name}" for c in actual.values()]
        return self._verdict("schema: columns", fails, warns, f"{total} columns match (type, nullability)")

    def schema_indexes(self) -> CheckResult:
        fails, warns, total = [], [], 0
        for table, wanted in self.expected.indexes.items():
            if not self.has(table):
                continue
            actual = {self.fold(i.name): i for i in self.cat.indexes(self.live_name(table))}
            for name, (cols, unique) in wanted.items():
                total += 1
                idx = actual.pop(self.fold(name), None)
                if idx is None:
                    fails.append(f"missing index {name} on {table}({', '.join(cols)})")
                    continue
                if tuple(self.fold(c) for c in idx.columns) != tuple(self.fold(c) for c in cols):
                    fails.append(f"index {name} is on ({', '.join(idx.columns)}), expected ({', '.join(cols)})")
                if idx.unique != unique:
                    fails.append(f"index {name} is {'' if idx.unique else 'not '}unique, expected "
                                 f"{'' if unique else 'not '}unique")
            warns += [f"extra index {i.name} on {table}({', '.join(i.columns)})" for i in actual.values()]
        return self._verdict("schema: indexes", fails, warns, f"{total} indexes match (name, columns, uniqueness)")

    def schema_foreign_keys(self) -> CheckResult:
        fails, warns = [], []
        by_table: dict[str, list[ForeignKey]] = {}
        for fk in self.expected.foreign_keys:
            by_table.setdefault(fk.table, []).append(fk)
        tables = [t for t in self.expected.tables if self.has(t)]
        f = self.fold
        for table in tables:
            actual = {f(fk.column): fk for fk in self.cat.foreign_keys(self.live_name(table))}
            for want in by_table.get(table, []):
                got = actual.pop(f(want.column), None)
                if got is None:
                    fails.append(f"missing foreign key {table}.{want.column} -> {want.target_table}.{want.target_column}")
                    continue
                if (f(got.target_table), f(got.target_column)) != (f(want.target_table), f(want.target_column)):
                    fails.append(f"foreign key {table}.{want.column} points at {got.target_table}.{got.target_column}, "
                                 f"expected {want.target_table}.{want.target_column}")
                if got.on_delete.upper() != want.on_delete:
                    fails.append(f"foreign key {table}.{want.column} is ON DELETE {got.on_delete}, "
                                 f"expected ON DELETE {want.on_delete}")
            warns += [f"extra foreign key {table}.{fk.column} -> {fk.target_table}.{fk.target_column}"
                      for fk in actual.values()]
        n = len(self.expected.foreign_keys)
        return self._verdict("schema: foreign keys", fails, warns, f"{n} foreign keys match (target, ON DELETE)")

    @staticmethod
    def _verdict(name: str, fails: list[str], warns: list[str], ok_detail: str) -> CheckResult:
        if fails:
            return CheckResult(name, FAIL, _named(fails), fails + warns)
        if warns:
            return CheckResult(name, WARN, _named(warns), warns)
        return CheckResult(name, PASS, ok_detail)

    # -- settings ------------------------------------------------------------
    def server_settings(self) -> CheckResult:
        """Character sets and modes under which the app's text would be garbled or cut short: a warning."""
        summary, problems = self.cat.settings_check()
        return CheckResult("server settings", WARN if problems else PASS, summary, problems)

    # -- integrity ---------------------------------------------------------
    def integrity(self) -> CheckResult:
        try:
            got = self.cat.integrity(self.full)
        except AuraError:
            raise
        except Exception as exc:  # noqa: BLE001 - a file too damaged to check is a failed check
            text = str(exc).strip().splitlines()
            return CheckResult("integrity", FAIL, f"the check itself failed: {text[0] if text else exc!r}",
                               [str(exc)])
        return self.integrity_result(got)

    def integrity_result(self, got: Integrity) -> CheckResult:
        if got.problems:
            return CheckResult("integrity", FAIL, f"{got.ran}: {_named(got.problems)}", got.problems)
        return CheckResult("integrity", PASS, f"{got.ran}: ok")

    def orphans(self) -> CheckResult:
        fks = [fk for fk in self.expected.foreign_keys if not self.missing(fk.table, fk.target_table)]
        found = self.cat.orphans(fks, full=self.full)
        at_once = self.full and self.engine.features.checks_foreign_keys_at_once
        how = "PRAGMA foreign_key_check" if at_once else "anti-join on the key indexes"
        if found:
            problems = [f"{t}: {n} row(s) point at a missing parent" for t, n in sorted(found.items())]
            return CheckResult("foreign key integrity", FAIL, f"orphans in {_named(sorted(found))}", problems)
        return CheckResult("foreign key integrity", PASS, f"no orphans ({len(fks)} foreign keys; {how})")

    # -- invariants of the Aura design --------------------------------------
    def system_configuration(self) -> CheckResult:
        name = "single system_configuration row"
        table = "system_configuration"
        if self.missing(table):
            return self.skipped(name, [table])
        n = self.cat.row_count(self.live_name(table))
        if n == 1:
            return CheckResult(name, PASS, "exactly one row")
        return CheckResult(name, FAIL, f"found {n} rows, expected exactly 1", [f"{table} has {n} rows"])

    def reference_counts(self) -> CheckResult:
        name = "blob reference counts"
        missing = self.missing("ProjectVersions", "ContentBlobs")
        if missing:
            return self.skipped(name, missing)
        from aura_db.models import ProjectVersion

        q = self.cat.quote
        # One pass, all in the engine: every blob counts -ReferenceCount and
        # every version hash +1 (pre-grouped per column, each GROUP BY walking
        # that column's index in order), so a hash whose sum is not 0 has a
        # wrong count or no blob at all.  Moving rows into Python to compare
        # them cost more than the whole query.
        grouped = " UNION ALL ".join(
            f"SELECT {q(c)} AS h, COUNT(*) AS n FROM {q('ProjectVersions')} WHERE {q(c)} IS NOT NULL GROUP BY {q(c)}"
            for c in (ProjectVersion._meta.fields[f].column_name for f in ProjectVersion.HASH_COLUMNS))
        off = self.cat.rows(
            f"SELECT u.h, SUM(u.n) FROM (SELECT {q('ContentHash')} AS h, -{q('ReferenceCount')} AS n "
            f"FROM {q('ContentBlobs')} UNION ALL {grouped}) u GROUP BY u.h HAVING SUM(u.n) <> 0 "
            f"ORDER BY u.h LIMIT {MAX_DETAILED + 1}")
        wrong, dangling = [], []
        for key, diff in off[:MAX_DETAILED]:
            stored = self.cat.scalar(
                f"SELECT {q('ReferenceCount')} FROM {q('ContentBlobs')} WHERE {q('ContentHash')} = {self.cat.param}",
                (key,))
            if stored is None:
                dangling.append((key, int(diff)))
            else:
                wrong.append((key, int(stored), int(stored) + int(diff)))
        problems = [f"ContentBlobs {h[:16]}: ReferenceCount {rc}, referenced by {n} version hash(es)"
                    for h, rc, n in wrong]
        problems += [f"ProjectVersions refer {n} time(s) to {h[:16]}, which has no ContentBlobs row"
                     for h, n in dangling]
        if len(off) > MAX_DETAILED:
            problems.append(f"... and more: only the first {MAX_DETAILED} are listed")
        if problems:
            parts = []
            if wrong:
                parts.append(f"{len(wrong)} blob(s) with a wrong ReferenceCount")
            if dangling:
                parts.append(f"{len(dangling)} hash(es) pointing at no blob")
            return CheckResult(name, FAIL, "; ".join(parts) + f": {_named(problems)}", problems)
        return CheckResult(name, PASS, "every ReferenceCount equals its references from ProjectVersions")

    def soft_delete(self) -> CheckResult:
        name = "soft-deleted rows have DeletedAt"
        tables = [(t, d, at) for t, d, at in self.expected.soft_delete_tables if self.has(t)]
        q, p = self.cat.quote, self.cat.param
        problems = []
        for t, deleted, deleted_at in tables:
            n = self.cat.scalar(
                f"SELECT COUNT(*) FROM {q(self.live_name(t))} WHERE {q(deleted)} = {p} AND {q(deleted_at)} IS NULL",
                (True,))
            if n:
                problems.append(f"{t}: {n} row(s) marked deleted without DeletedAt")
        if problems:
            return CheckResult(name, FAIL, _named(problems), problems)
        return CheckResult(name, PASS, f"checked {', '.join(t for t, _, _ in tables)}")

    def unique_user_setups(self) -> CheckResult:
        name = "unique user_setup.user_id"
        if self.missing("user_setup"):
            return self.skipped(name, ["user_setup"])
        q = self.cat.quote
        dup = self.cat.rows(
            f"SELECT {q('user_id')}, COUNT(*) FROM {q(self.live_name('user_setup'))} GROUP BY {q('user_id')} "
            f"HAVING COUNT(*) > 1")
        if dup:
            problems = [f"user_id {u!r}: {n} rows" for u, n in dup]
            return CheckResult(name, FAIL, f"{len(dup)} user_id(s) with more than one row: {_named(problems)}",
                               problems)
        return CheckResult(name, PASS, "no duplicates")

    # -- query plans ---------------------------------------------------------
    def lookups(self) -> list[tuple[str, str, str, tuple]]:
        """(what, table, SQL, params): the common lookups of the Aura application."""
        q, p = self.cat.quote, self.cat.param
        any_id = "00000000-0000-4000-8000-000000000000"
        return [
            ("project by id", "ProjectStates",
             f"SELECT * FROM {q('ProjectStates')} WHERE {q('Id')} = {p}", (any_id,)),
            ("projects by status, newest first", "ProjectStates",
             f"SELECT * FROM {q('ProjectStates')} WHERE {q('Status')} = {p} ORDER BY {q('UpdatedAt')} DESC LIMIT 50",
             ("InProgress",)),
            ("scenes of a project in order", "SceneStates",
             f"SELECT * FROM {q('SceneStates')} WHERE {q('ProjectId')} = {p} ORDER BY {q('SceneIndex')}", (any_id,)),
            ("exports by status", "export_history",
             f"SELECT * FROM {q('export_history')} WHERE {q('status')} = {p} ORDER BY {q('created_at')} DESC LIMIT 50",
             ("Completed",)),
        ]

    def query_plans(self) -> CheckResult:
        name = "query plans"
        lookups = self.lookups()
        missing = self.missing(*{t for _, t, _, _ in lookups})
        if missing:
            return self.skipped(name, missing)
        # Whether a planner then sorts or reads the index in order depends on
        # table sizes (servers sort tiny tables), so only a full scan counts.
        fails = []
        for what, _table, sql, params in lookups:
            plan = self.cat.explain(sql, params, _table)
            if not plan.uses_index:
                fails.append(f"{what}: full scan of {', '.join(plan.full_scan_of)} ({'; '.join(plan.lines)})")
        return self._verdict(name, fails, [], f"{len(lookups)} common lookups use an index")


CHECK_NAMES = {
    "migrations": "migrations", "schema_tables": "schema: tables", "schema_columns": "schema: columns",
    "schema_indexes": "schema: indexes", "schema_foreign_keys": "schema: foreign keys",
    "integrity": "integrity", "orphans": "foreign key integrity",
    "system_configuration": "single system_configuration row", "reference_counts": "blob reference counts",
    "soft_delete": "soft-deleted rows have DeletedAt", "unique_user_setups": "unique user_setup.user_id",
    "query_plans": "query plans", "server_settings": "server settings",
}


def _timed(fn: Callable[[], CheckResult]) -> CheckResult:
    t0 = time.perf_counter()
    try:
        result = fn()
    except AuraError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. a damaged page under this check's table
        text = str(exc).strip().splitlines()
        result = CheckResult(CHECK_NAMES.get(fn.__name__, fn.__name__), FAIL,
                             f"could not run: {type(exc).__name__}: {text[0] if text else ''}", [str(exc)])
    result.duration_ms = int((time.perf_counter() - t0) * 1000)
    return result


def verify(engine: "Engine", migrations_dir: Path, *, full: bool = False) -> VerifyReport:
    """Run every check against the database; read-only."""
    started = time.perf_counter()
    db = engine.open(create=False)  # DatabaseUnavailable (exit 4) when it cannot be reached
    try:
        t0 = time.perf_counter()
        version = engine.server_version(db)
        connection = CheckResult("connection", PASS, f"{engine.name} {version} at {engine.describe()}",
                                 duration_ms=int((time.perf_counter() - t0) * 1000))
        cat = catalog_for(engine, db)
        v = _Verifier(engine, db, cat, migrations_dir, full)

        # The page-level check reads the whole file, and the orphan check
        # every child key index: run them on a second connection, in a worker
        # thread, while this thread runs the rest (sqlite3 and the server
        # drivers release the GIL while a statement runs).  That balances the
        # two threads' work on a large file.
        background = [v.integrity, v.orphans]
        foreground = [v.migrations, v.schema_tables, v.schema_columns, v.schema_indexes,
                      v.schema_foreign_keys, v.system_configuration, v.reference_counts,
                      v.soft_delete, v.unique_user_setups, v.query_plans, v.server_settings]
        done: dict[str, Any] = {}

        def run_background(in_worker: bool) -> None:
            try:
                done["results"] = [_timed(fn) for fn in background]
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                done["error"] = exc
            finally:
                if in_worker:
                    db.close()  # the worker's own connection (peewee keeps one per thread)

        worker = None
        if cat.concurrent_connections:
            worker = threading.Thread(target=run_background, args=(True,), name="aura-db-verify", daemon=True)
            worker.start()
        front = {fn.__name__: _timed(fn) for fn in foreground}
        if worker is None:
            run_background(False)
        else:
            worker.join()
        if "error" in done:
            raise done["error"]
        integrity, orphans = done["results"]
        order = ["migrations", "schema_tables", "schema_columns", "schema_indexes", "schema_foreign_keys"]
        checks = [connection, front["server_settings"]] + [front[n] for n in order] + [integrity, orphans] + [
            front[n] for n in ("system_configuration", "reference_counts", "soft_delete",
                               "unique_user_setups", "query_plans")]
    finally:
        db.close()
    return VerifyReport(engine.name, engine.describe(), version, full, checks,
                        int((time.perf_counter() - started) * 1000))
