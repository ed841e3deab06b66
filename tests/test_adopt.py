"""aura-db on databases the Aura app built itself: adopt, and never building on top of them.

Each command runs on the app's own database states, built from the app's
migrations (tests/aura_app.py): the first-run database after all 8 app
migrations (WAL mode, rows in every table), the same app one migration
earlier, and the design-document schema no app release ever ran.  Every test
compares every row (and the schema) before and after.

The migrations aura-db runs are, in each test, a folder whose modules run the
app's own SQL and name their app migration in EF_MIGRATION_ID; once the
shipped migrations name theirs too, every test runs against those as well.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import aura_app
from conftest import MIGRATIONS, SHIPPED

AURA_TABLES = {"aura_schema_history", "aura_migration_log"}


def _shipped_name_app_migrations() -> bool:
    from aura_db.migrations import discover, load

    files = discover(MIGRATIONS)
    return len(files) == 8 and all(load(f).ef_migration_id for f in files)


SETS = ["app-sql"] + (["shipped"] if _shipped_name_app_migrations() else [])


@pytest.fixture(params=SETS)
def mig(request, tmp_path) -> Path:
    if request.param == "shipped":
        return MIGRATIONS
    return aura_app.fixture_migrations(tmp_path / "migrations")


@pytest.fixture
def app8(tmp_path) -> Path:
    return aura_app.build_app_db(tmp_path / "aura.db", upto=8)


@pytest.fixture
def app7(tmp_path) -> Path:
    return aura_app.build_app_db(tmp_path / "aura.db", upto=7)


@pytest.fixture
def design_doc(tmp_path) -> Path:
    return aura_app.build_design_doc_db(tmp_path / "aura.db")


def state(db: Path) -> tuple:
    """Every row of every table and the whole schema: what 'nothing changed' compares."""
    return aura_app.snapshot(db), aura_app.schema_sql(db)


def app_state(db: Path) -> tuple:
    """The same, without aura-db's own history and audit tables."""
    rows = {t: r for t, r in aura_app.snapshot(db).items() if t not in AURA_TABLES}
    schema = [s for s in aura_app.schema_sql(db) if s[2] not in AURA_TABLES]
    return rows, schema


def history(db: Path) -> list[tuple[str, int]]:
    con = sqlite3.connect(db)
    try:
        return [(n, a) for n, a in con.execute("SELECT name, adopted FROM aura_schema_history ORDER BY id")]
    finally:
        con.close()


def run(cli, db: Path, mig: Path, *args: str):
    return cli("--db", db, "--migrations", mig, "--backup-dir", db.parent / "backups", *args)


# --------------------------------------------------------------------------
# The fixtures themselves


def test_the_app_fixtures_have_the_app_shape(tmp_path):
    for upto, tables, indexes in [(7, 13, 55), (8, 34, 146)]:
        db = aura_app.build_app_db(tmp_path / f"a{upto}.db", upto=upto)
        con = sqlite3.connect(db)
        names = {r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")}
        named = con.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND name NOT LIKE 'sqlite_autoindex_%'").fetchone()[0]
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        ef = [r[0] for r in con.execute('SELECT "ProductVersion" FROM "__EFMigrationsHistory"')]
        con.close()
        assert len(names - {"__EFMigrationsHistory"}) == tables and "__EFMigrationsHistory" in names
        assert named == indexes
        assert ef == ["8.0.11"] * upto
        counts = aura_app.counts(db)
        assert all(n > 0 for n in counts.values()), counts  # rows in every table


# --------------------------------------------------------------------------
# Read-only commands


@pytest.mark.parametrize("fixture", ["app8", "app7", "design_doc"])
def test_status_changes_nothing_and_names_the_app_history(cli, mig, fixture, request):
    db = request.getfixturevalue(fixture)
    before = state(db)
    r = run(cli, db, mig, "status", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["applied"] == [] and doc["app_migrations"]
    r = run(cli, db, mig, "status")
    assert "aura-db adopt" in r.stdout
    assert state(db) == before


@pytest.mark.parametrize("fixture, upto", [("app8", 8), ("app7", 7)])
def test_adopt_dry_run_shows_what_it_would_record_and_changes_nothing(cli, mig, fixture, upto, request):
    db = request.getfixturevalue(fixture)
    before = state(db)
    r = run(cli, db, mig, "adopt", "--dry-run", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["ok"] is True and doc["dry_run"] is True and doc["recorded"] == []
    assert len(doc["to_record"]) == upto and doc["differences"] == []
    assert doc["ef_migrations"] == aura_app.APP_MIGRATION_IDS[:upto]
    assert len(doc["pending"]) == 8 - upto
    r = run(cli, db, mig, "adopt", "--dry-run")
    assert r.exit_code == 0 and "would record as adopted" in r.stdout
    assert state(db) == before


def test_adopt_without_a_terminal_and_without_yes_is_refused(cli, mig, app8):
    before = state(app8)
    r = run(cli, app8, mig, "adopt")
    assert r.exit_code == 6, r
    assert "needs confirmation" in r.stderr
    assert state(app8) == before


# --------------------------------------------------------------------------
# Adopting


def test_adopt_the_first_run_database_records_history_and_changes_nothing_else(cli, mig, app8):
    before = app_state(app8)
    r = run(cli, app8, mig, "adopt", "--yes", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert len(doc["recorded"]) == 8 and doc["pending"] == []
    assert app_state(app8) == before  # every app row and every app object as it was
    assert [a for _, a in history(app8)] == [1] * 8
    st = json.loads(run(cli, app8, mig, "status", "--json").stdout)
    assert st["up_to_date"] and len(st["adopted"]) == 8
    assert "adopted" in run(cli, app8, mig, "migrate", "list").stdout
    r = run(cli, app8, mig, "migrate")
    assert r.exit_code == 0 and "nothing to do" in r.stdout
    r = run(cli, app8, mig, "adopt", "--yes")  # twice: nothing to do
    assert r.exit_code == 0 and "nothing to do" in r.stderr
    assert app_state(app8) == before


def _rows_by_key(db: Path) -> dict[str, dict]:
    """Every row of every app table as {table: {primary key: {column: value}}}, names folded."""
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    out = {}
    try:
        for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"):
            if t in AURA_TABLES:
                continue
            pk = [r[1] for r in con.execute(f'PRAGMA table_info("{t}")') if r[5]] or ["rowid"]
            rows = {}
            for row in con.execute(f'SELECT {", ".join(pk)}, * FROM "{t}"'):
                rows[tuple(row[:len(pk)])] = {k.lower(): row[k] for k in row.keys()[len(pk):]}
            out[t.lower()] = rows
    finally:
        con.close()
    return out


def test_adopt_at_the_older_app_state_then_migrate_keeps_every_row(cli, mig, app7, tmp_path):
    before = _rows_by_key(app7)
    r = run(cli, app7, mig, "adopt", "--yes", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert len(doc["recorded"]) == 7 and len(doc["pending"]) == 1
    r = run(cli, app7, mig, "migrate", "--json")
    assert r.exit_code == 0, r
    assert json.loads(r.stdout)["migrations"] == doc["pending"]
    assert [a for _, a in history(app7)] == [1] * 7 + [0]
    after = _rows_by_key(app7)
    # The app's own migration 8, run on the same rows, is the truth for every row.
    app_way = aura_app.build_app_db(tmp_path / "app-way.db", upto=7)
    aura_app.apply_sql(app_way, [aura_app.APP_MIGRATIONS[7]])
    assert after == _rows_by_key(app_way)
    # And in particular nothing was lost: the renamed table's rows came along.
    moved = after["custom_templates"]
    assert len(moved) == len(before["customtemplates"]) > 0
    for key, row in before["customtemplates"].items():
        assert moved[key]["llm_pipeline_json"] == row["llmpipelinejson"]
        assert moved[key]["is_deleted"] == row["isdeleted"]
    for key, row in before["projectstates"].items():  # DeletedByUserId is ModifiedBy now
        assert after["projectstates"][key]["modifiedby"] == row["deletedbyuserid"]
    for t, rows in before.items():
        if t != "customtemplates":
            assert after[t].keys() >= rows.keys(), t
    ef = [r[0] for r in sqlite3.connect(app7).execute('SELECT "MigrationId" FROM "__EFMigrationsHistory"')]
    assert ef == aura_app.APP_MIGRATION_IDS  # the app's MigrateAsync() finds nothing to do


def test_adopt_compares_table_names_as_sqlite_does(cli, mig, app8):
    con = sqlite3.connect(app8)
    con.execute('ALTER TABLE "templates" RENAME TO "tmp_templates"')
    con.execute('ALTER TABLE "tmp_templates" RENAME TO "Templates"')  # one table to SQLite
    con.close()
    r = run(cli, app8, mig, "adopt", "--yes")
    assert r.exit_code == 0, r


# --------------------------------------------------------------------------
# Refusing


def test_adopt_refuses_the_design_document_schema_listing_every_difference(cli, mig, design_doc):
    before = state(design_doc)
    r = run(cli, design_doc, mig, "adopt", "--yes", "--json")
    assert r.exit_code == 3, r
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 3
    diffs = doc["differences"]
    assert "__EFMigrationsHistory: 20250110000000_InitialCreate is not an Aura app migration aura-db knows" in diffs
    assert "table users is missing" in diffs
    assert any("index IX_templates_IsSystemTemplate is not in aura-db's schema" in d for d in diffs)
    assert len(r.stderr.strip().splitlines()) <= 2 and "nothing was changed" in r.stderr
    assert state(design_doc) == before


def test_adopt_refuses_a_schema_that_differs_and_changes_nothing(cli, mig, app8):
    con = sqlite3.connect(app8)
    con.execute('DROP INDEX "IX_users_email"')
    con.execute('ALTER TABLE "Settings" ADD "Theme" TEXT NULL')
    con.close()
    before = state(app8)
    r = run(cli, app8, mig, "adopt", "--yes", "--json")
    assert r.exit_code == 3, r
    diffs = json.loads(r.stdout)["differences"]
    assert "users: index IX_users_email is missing" in diffs
    assert "Settings: column Theme is not in aura-db's schema" in diffs
    assert state(app8) == before


def test_adopt_refuses_an_app_newer_than_aura_db(cli, tmp_path, app8):
    mig = aura_app.fixture_migrations(tmp_path / "older", upto=7)  # aura-db knowing only 7 app migrations
    before = state(app8)
    r = run(cli, app8, mig, "adopt", "--yes")
    assert r.exit_code == 3, r
    assert "20251122175419_AddMissingDatabaseTables is not an Aura app migration aura-db knows" in r.stderr
    assert state(app8) == before


def test_adopt_on_a_database_without_app_history_is_exit_3(cli, mig, tmp_path):
    db = tmp_path / "plain.db"
    sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.close()
    before = state(db)
    r = run(cli, db, mig, "adopt", "--yes")
    assert r.exit_code == 3 and "__EFMigrationsHistory" in r.stderr
    assert state(db) == before


COMMANDS = [
    ("migrate",), ("migrate", "--fake"), ("migrate", "--dry-run"), ("migrate", "--to", "3"),
    ("seed",), ("rollback", "--yes"), ("rollback", "--all", "--yes"),
]


@pytest.mark.parametrize("fixture", ["app8", "app7", "design_doc"])
@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_commands_refuse_tables_aura_db_did_not_create(cli, mig, fixture, args, request):
    db = request.getfixturevalue(fixture)
    before = state(db)
    r = run(cli, db, mig, *args)
    assert r.exit_code == 3, r
    first = r.stderr.strip().splitlines()[0]
    assert first.startswith("error: ") and "`aura-db adopt`" in first and "nothing was changed" in first
    assert state(db) == before
    assert not (db.parent / "backups").exists()  # nothing to back up: nothing was going to change


def test_rollback_refuses_adopted_migrations(cli, mig, app7):
    assert run(cli, app7, mig, "adopt", "--yes").exit_code == 0
    before = state(app7)
    for args in [("rollback", "--yes"), ("rollback", "--all", "--yes"), ("rollback", "1", "--yes"),
                 ("rollback", "--dry-run")]:
        r = run(cli, app7, mig, *args)
        assert r.exit_code == 2, (args, r)
        assert "adopted from the Aura app's database" in r.stderr
        assert state(app7) == before
    assert run(cli, app7, mig, "migrate").exit_code == 0
    before = state(app7)
    r = run(cli, app7, mig, "rollback", "--steps", "2", "--yes")  # 008 was run, 007 adopted
    assert r.exit_code == 2 and "cannot roll back 007_" in r.stderr
    assert state(app7) == before


def test_adopt_on_a_server_database_is_one_line(cli, mig, server_url):
    url = server_url("postgresql")
    r = cli("--db", url, "--migrations", mig, "adopt", "--dry-run")
    assert r.exit_code == 2, r
    assert len(r.stderr.strip().splitlines()) <= 2 and "only SQLite" in r.stderr


# --------------------------------------------------------------------------
# No migration steps over what is already there


CREATE_A = '''
import peewee as pw


class A(pw.Model):
    x = pw.IntegerField(index=True)

    class Meta:
        table_name = "A"


def migrate(migrator, database, fake=False):
    migrator.create_model(A)


def rollback(migrator, database, fake=False):
    migrator.remove_model("A")
'''

CREATE_B_AND_C = '''
import peewee as pw


class C(pw.Model):
    y = pw.IntegerField()

    class Meta:
        table_name = "C"


class B(pw.Model):
    y = pw.IntegerField()

    class Meta:
        table_name = "B"


def migrate(migrator, database, fake=False):
    migrator.create_model(C)
    migrator.create_model(B)


def rollback(migrator, database, fake=False):
    migrator.remove_model("B")
    migrator.remove_model("C")
'''


def test_a_table_already_there_fails_the_migration_and_it_rolls_back(cli, tmp_path):
    mig = tmp_path / "m"
    mig.mkdir()
    (mig / "001_a.py").write_text(CREATE_A)
    db = tmp_path / "aura.db"
    assert run(cli, db, mig, "migrate").exit_code == 0
    con = sqlite3.connect(db)
    con.execute('CREATE TABLE "B" (keep TEXT)')
    con.execute("INSERT INTO \"B\" VALUES ('a row nobody may lose')")
    con.commit()
    con.close()
    (mig / "002_b.py").write_text(CREATE_B_AND_C)
    r = run(cli, db, mig, "migrate", "--no-backup")
    assert r.exit_code == 1, r
    assert "already exists" in r.stderr
    con = sqlite3.connect(db)
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "C" not in tables  # the migration's first table went with its transaction
    assert con.execute('SELECT keep FROM "B"').fetchall() == [("a row nobody may lose",)]
    con.close()
    assert [n for n, _ in history(db)] == ["001_a"]


def test_created_tables_and_indexes_have_no_if_not_exists(cli, tmp_path):
    mig = tmp_path / "m"
    mig.mkdir()
    (mig / "001_a.py").write_text(CREATE_A)
    db = tmp_path / "aura.db"
    sqlite3.connect(db).close()  # an empty database
    r = run(cli, db, mig, "migrate", "--dry-run", "--json")
    assert r.exit_code == 0, r
    sql = " ".join(json.loads(r.stdout)["sql"]["001_a"])
    assert 'CREATE TABLE "A"' in sql and 'CREATE INDEX "a_x" ON "A"' in sql
    assert "IF NOT EXISTS" not in sql


def test_a_history_table_from_before_adopt_still_reads_and_gains_the_column(cli, tmp_path):
    mig = tmp_path / "m"
    mig.mkdir()
    (mig / "001_a.py").write_text(CREATE_A)
    db = tmp_path / "aura.db"
    assert run(cli, db, mig, "migrate").exit_code == 0
    con = sqlite3.connect(db)
    con.execute("ALTER TABLE aura_schema_history DROP COLUMN adopted")
    con.close()
    st = json.loads(run(cli, db, mig, "status", "--json").stdout)
    assert st["applied"] == ["001_a"] and st["adopted"] == []
    assert "001_a" in run(cli, db, mig, "migrate", "list").stdout
    (mig / "002_b.py").write_text(CREATE_B_AND_C)
    assert run(cli, db, mig, "migrate", "--no-backup").exit_code == 0
    assert history(db) == [("001_a", 0), ("002_b", 0)]


@pytest.mark.skipif("shipped" not in SETS, reason="verify checks the shipped models, which follow the app "
                    "once the shipped migrations name the app's 8 migrations")
@pytest.mark.parametrize("fixture", ["app8", "app7"])
def test_an_adopted_database_passes_verify_and_migrate_brings_it_to_the_head(cli, fixture, request):
    db = request.getfixturevalue(fixture)
    assert run(cli, db, MIGRATIONS, "adopt", "--yes").exit_code == 0
    assert run(cli, db, MIGRATIONS, "migrate").exit_code == 0
    r = run(cli, db, MIGRATIONS, "verify")
    assert r.exit_code == 0, r


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_status_reads_the_app_history_on_a_server(cli, server_url, engine, tmp_path):
    """__EFMigrationsHistory is quoted as each engine quotes names (MySQL: backticks)."""
    url = server_url(engine)
    from aura_db.db import engine_for

    db = engine_for(url).open()
    q = "`" if engine == "mysql" else '"'
    db.execute_sql(f"CREATE TABLE {q}__EFMigrationsHistory{q} ({q}MigrationId{q} VARCHAR(150) PRIMARY KEY, "
                   f"{q}ProductVersion{q} VARCHAR(32) NOT NULL)")
    db.execute_sql(f"INSERT INTO {q}__EFMigrationsHistory{q} VALUES ('{aura_app.APP_MIGRATION_IDS[0]}', '8.0.11')")
    db.close()
    r = cli("--db", url, "--migrations", aura_app.fixture_migrations(tmp_path / "m"), "status", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["app_migrations"] == [aura_app.APP_MIGRATION_IDS[0]] and doc["not_adopted"] is True
    r = cli("--db", url, "migrate")
    assert r.exit_code == 3 and "`aura-db adopt`" in r.stderr
