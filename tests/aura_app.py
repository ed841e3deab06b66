"""Databases as the Aura app itself builds them, made without dotnet.

``tests/fixtures/aura_app/NN_<MigrationId>.sql`` hold, per app migration, the
SQL that EF Core 8's SQLite provider runs for it (what ``dotnet ef migrations
script`` prints), transcribed from the app's migrations: names, types,
nullability, keys, indexes, the rows the migrations insert, the table rebuild
EF emits where SQLite cannot ALTER, and the ``__EFMigrationsHistory`` row.

* ``build_app_db(path, upto=8, rows=True)`` applies the first ``upto`` of
  them, fills every table with realistic rows that satisfy every foreign key
  (times as EF writes them, GUIDs as upper-case text, booleans 0/1), and
  leaves the file in WAL mode, as the app does.
* ``build_design_doc_db(path)`` builds the seeds' design-document migration
  (``Data/Migrations/20250110000000_InitialCreate``), which the app never
  runs: a schema aura-db must refuse to adopt.
* ``snapshot(path)`` is every row of every table, for before/after checks.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import uuid
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "aura_app"
APP_MIGRATIONS = sorted(p for p in FIXTURES.glob("[0-9][0-9]_*.sql"))
APP_MIGRATION_IDS = [p.stem.split("_", 1)[1] for p in APP_MIGRATIONS]
DESIGN_DOC = FIXTURES / "design_doc_20250110000000_InitialCreate.sql"
EF_HISTORY = "__EFMigrationsHistory"
ROWS_PER_TABLE = 3

# Columns the app maps from System.Guid: written as upper-case text.
GUID_TABLES = {"ProjectStates", "AssetStates", "RenderCheckpoints", "SceneStates", "ActionLogs",
               "ProjectVersions", "MediaCollections", "MediaItems", "MediaTags", "MediaUsages",
               "UploadSessions"}
GUID_COLUMNS = {"ProjectId", "MediaId", "CollectionId"}

WORDS = ["Product launch teaser", "Quarterly review", "Recipe short", "Travel vlog intro",
         "Tutorial: color grading", "Podcast highlights", "Onboarding walkthrough", "Year in review"]


def apply_sql(path: Path, sql_files: list[Path]) -> None:
    con = sqlite3.connect(path, isolation_level=None)
    try:
        for f in sql_files:
            con.executescript(f.read_text(encoding="utf-8"))
    finally:
        con.close()


def build_app_db(path: Path | str, upto: int = 8, rows: bool = True) -> Path:
    """The database the Aura app builds with its first ``upto`` migrations."""
    path = Path(path)
    if not 0 < upto <= len(APP_MIGRATIONS):
        raise ValueError(f"upto must be 1..{len(APP_MIGRATIONS)}")
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")  # Microsoft.Data.Sqlite's default for the app's file
    con.close()
    apply_sql(path, APP_MIGRATIONS[:upto])
    if rows:
        fill(path)
    return path


def build_design_doc_db(path: Path | str, rows: bool = True) -> Path:
    path = Path(path)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    apply_sql(path, [DESIGN_DOC])
    if rows:
        fill(path)
    return path


# --------------------------------------------------------------------------
# Rows


def ef_time(t: dt.datetime) -> str:
    """A DateTime as EF Core's SQLite provider writes it: 'yyyy-MM-dd HH:mm:ss.FFFFFFF'."""
    s = t.strftime("%Y-%m-%d %H:%M:%S")
    frac = f"{t.microsecond:06d}0".rstrip("0")
    return f"{s}.{frac}" if frac else s


def _tables(con: sqlite3.Connection) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]


def _fk_order(con: sqlite3.Connection, tables: list[str]) -> list[str]:
    deps = {t: {r[2] for r in con.execute(f'PRAGMA foreign_key_list("{t}")') if r[2] != t} for t in tables}
    out: list[str] = []
    while deps:
        ready = sorted(t for t, d in deps.items() if not (d - set(out)))
        if not ready:
            raise RuntimeError(f"foreign-key cycle among {sorted(deps)}")
        out.extend(ready)
        for t in ready:
            del deps[t]
    return out


def _value(rng: random.Random, table: str, col: str, decl: str, i: int, now: dt.datetime):
    low = col.lower().replace("_", "")
    decl = decl.upper()
    if decl.startswith("DECIMAL"):
        return round(rng.uniform(0.01, 40), 6)
    if decl == "REAL":
        return round(rng.uniform(0.5, 300), 3)
    if decl == "INTEGER":
        if low.startswith(("is", "can", "has", "enable", "pause", "track", "collect", "aggregate",
                           "autocleanup", "emailverified", "phoneverified", "twofactorenabled")) \
                or low in ("success", "completed"):
            return (i + 1) % 2
        if low.endswith("percent"):
            return rng.randint(0, 100)
        if "bytes" in low or low.endswith("size") or low.endswith("tokens"):
            return rng.randint(10_000, 50_000_000)
        return rng.randint(1, 40) + i
    # TEXT
    if low.endswith("at") or low.endswith("time") or low in ("timestamp", "periodstart", "periodend",
                                                              "lockoutend", "suspendedat"):
        return ef_time(now - dt.timedelta(hours=3 * i, minutes=rng.randint(0, 59),
                                          microseconds=rng.randint(0, 999_999)))
    if low.endswith("json") or low in ("permissions", "changes", "metadata", "providerbreakdown",
                                       "featurebreakdown", "systeminfo", "templatedata", "wizardstate",
                                       "checkpointdata", "content"):
        return '{"version":1,"items":[' + ",".join(str(rng.randint(1, 9)) for _ in range(3)) + "]}"
    if low in ("email",):
        return f"user{i}@example.com"
    if low in ("username", "name", "title", "filename", "displayname", "projectname"):
        return f"{WORDS[(i + len(table)) % len(WORDS)]} {i}"
    if low in ("normalizedname",):
        return f"ROLE-{table.upper()}-{i}"
    if low.endswith("path") or low.endswith("file") or low.endswith("url") or low in ("outputdirectory",):
        return f"/home/aura/AuraVideoStudio/{table}/{i}.mp4"
    if low.endswith("hash"):
        return uuid.UUID(int=rng.getrandbits(128)).hex + uuid.UUID(int=rng.getrandbits(128)).hex
    if low in ("currency",):
        return "USD"
    if low in ("yearmonth",):
        return now.strftime("%Y-%m")
    if low in ("totalcostusd", "costlimitusd"):
        return f"{rng.uniform(1, 90):.2f}"
    if low in ("ipaddress", "lastloginip"):
        return f"192.168.1.{10 + i}"
    return f"{col} {i}"


def fill(path: Path | str, per_table: int = ROWS_PER_TABLE, seed: int = 12) -> dict[str, int]:
    """Put ``per_table`` more rows in every table, each foreign key pointing at a real row."""
    rng = random.Random(seed)
    now = dt.datetime(2025, 11, 22, 17, 54, 19, 123456)
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA foreign_keys = ON")
        con.execute("BEGIN")
        tables = [t for t in _tables(con) if t != EF_HISTORY]
        for t in _fk_order(con, tables):
            if con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]:
                # Rows the app's migrations insert (system_configuration's single row, the
                # default analytics and queue settings, the system roles): the app keeps those.
                continue
            cols = list(con.execute(f'PRAGMA table_info("{t}")'))
            fks = {r[3]: (r[2], r[4]) for r in con.execute(f'PRAGMA foreign_key_list("{t}")')}
            autoinc = {c[1] for c in cols if c[5] and c[2].upper() == "INTEGER"
                       and sum(1 for x in cols if x[5]) == 1}
            parents = {col: [r[0] for r in con.execute(f'SELECT "{tc}" FROM "{pt}" ORDER BY rowid')]
                       for col, (pt, tc) in fks.items()}
            for i in range(per_table):
                names, values = [], []
                for cid, name, decl, notnull, default, pk in cols:
                    if name in autoinc:
                        continue
                    if name in fks:
                        pool = parents[name]
                        if t == "user_roles":  # (user_id, role_id) is the key: pair them up distinctly
                            v = pool[i % len(pool)]
                        else:
                            v = pool[i % len(pool)] if pool else None
                    elif pk and (t in GUID_TABLES or name in GUID_COLUMNS):
                        v = str(uuid.UUID(int=rng.getrandbits(128))).upper()
                    elif pk:
                        v = str(uuid.UUID(int=rng.getrandbits(128)))
                    elif name in GUID_COLUMNS:
                        v = str(uuid.UUID(int=rng.getrandbits(128))).upper()
                    elif not notnull and i == per_table - 1:
                        v = None  # the last row leaves its optional columns empty, as real rows do
                    else:
                        v = _value(rng, t, name, decl or "TEXT", i, now)
                    names.append(name)
                    values.append(v)
                _soft_delete_consistent(names, values, now, i)
                con.execute(
                    f'INSERT INTO "{t}" (' + ", ".join(f'"{n}"' for n in names) + ") VALUES ("
                    + ", ".join("?" for _ in values) + ")", values)
        _reference_blobs(con)
        con.execute("COMMIT")
        bad = list(con.execute("PRAGMA foreign_key_check"))
        if bad:
            raise RuntimeError(f"rows break foreign keys: {bad[:5]}")
        return {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in _tables(con)}
    finally:
        con.close()


def _soft_delete_consistent(names: list[str], values: list, now: dt.datetime, i: int) -> None:
    """A row marked deleted has its DeletedAt (and DeletedBy); one not deleted has neither."""
    lower = [n.lower().replace("_", "") for n in names]
    if "isdeleted" not in lower:
        return
    deleted = bool(values[lower.index("isdeleted")])
    for col, when in (("deletedat", ef_time(now - dt.timedelta(days=i + 1))), ("deletedby", "user-1")):
        if col in lower:
            values[lower.index(col)] = when if deleted else None


def _reference_blobs(con: sqlite3.Connection) -> None:
    """ProjectVersions refer to ContentBlobs by hash, and each blob counts its references, as the app keeps them."""
    tables = set(_tables(con))
    if not {"ProjectVersions", "ContentBlobs"} <= tables:
        return
    blobs = [r[0] for r in con.execute('SELECT "ContentHash" FROM "ContentBlobs" ORDER BY rowid')]
    versions = [r[0] for r in con.execute('SELECT "Id" FROM "ProjectVersions" ORDER BY rowid')]
    for n, vid in enumerate(versions):
        con.execute('UPDATE "ProjectVersions" SET "BriefHash" = ?, "PlanHash" = NULL, "VoiceHash" = NULL, '
                    '"RenderHash" = NULL, "TimelineHash" = NULL WHERE "Id" = ?',
                    (blobs[n % len(blobs)] if blobs else None, vid))
    con.execute(
        'UPDATE "ContentBlobs" SET "ReferenceCount" = '
        '(SELECT COUNT(*) FROM "ProjectVersions" v WHERE v."BriefHash" = "ContentBlobs"."ContentHash")')


# --------------------------------------------------------------------------
# Looking at a database


def snapshot(path: Path | str) -> dict[str, list[tuple]]:
    """Every row of every table (sorted), for comparing before and after a command."""
    uri = f"file:{Path(path)}?mode=ro"
    con = sqlite3.connect(uri, uri=True)
    try:
        out = {}
        for t in _tables(con):
            rows = [tuple(r) for r in con.execute(f'SELECT * FROM "{t}"')]
            out[t] = sorted(rows, key=repr)
        return out
    finally:
        con.close()


def schema_sql(path: Path | str) -> list[tuple]:
    """The schema as SQLite records it, for 'nothing changed' checks."""
    con = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        return sorted(con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"), key=repr)
    finally:
        con.close()


def counts(path: Path | str) -> dict[str, int]:
    return {t: len(r) for t, r in snapshot(path).items()}


# --------------------------------------------------------------------------
# aura-db migrations that run the app's own SQL


def _snake(ef_id: str) -> str:
    import re

    name = ef_id.split("_", 1)[1]
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


MODULE = '''"""Test migration: runs the Aura app's own SQL for {ef_id} (tests/fixtures/aura_app)."""

EF_MIGRATION_ID = "{ef_id}"
SQL_FILE = {sql!r}


def _statements():
    from pathlib import Path

    text = "\\n".join(line for line in Path(SQL_FILE).read_text(encoding="utf-8").splitlines()
                     if not line.startswith("--"))
    for stmt in text.split(";\\n"):
        s = stmt.strip().rstrip(";").strip()
        head = s.upper()
        if not s or head in ("BEGIN TRANSACTION", "COMMIT") or head.startswith(("PRAGMA", "SELECT CHANGES")):
            continue  # aura-db runs each migration in its own transaction, foreign keys off
        yield s


def migrate(migrator, database, fake=False):
    if fake:
        return
    for s in _statements():
        migrator.sql(s)


def rollback(migrator, database, fake=False):
    raise RuntimeError("the app's migrations are not rolled back in these tests")
'''


def fixture_migrations(folder: Path, upto: int = 8) -> Path:
    """A migrations folder whose NNN module runs the app's SQL for app migration NNN.

    Each names its app migration in ``EF_MIGRATION_ID``, as aura-db's shipped
    migrations do, so adopt, migrate and the guards can be tried on the app's
    real database states whatever the shipped migrations are today.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for n, (sql, ef_id) in enumerate(zip(APP_MIGRATIONS[:upto], APP_MIGRATION_IDS[:upto]), start=1):
        (folder / f"{n:03d}_{_snake(ef_id)}.py").write_text(
            MODULE.format(ef_id=ef_id, sql=str(sql)), encoding="utf-8")
    return folder
