"""migrate / rollback / status and the model rules on SQLite, PostgreSQL and MariaDB.

The server engines run against the real servers named by
AURA_DB_TEST_POSTGRES_URL / AURA_DB_TEST_MYSQL_URL; each test makes and drops
its own database (fixture ``server_url`` in conftest.py).
"""

from __future__ import annotations

import datetime as dt
import json
import textwrap

import peewee as pw
import pytest

from aura_db import models as m
from aura_db.db import engine_for, parse_url
from conftest import HEAD, NEXT, SHIPPED

AURA_TABLES = set(m.TABLES) | {"__EFMigrationsHistory"}  # the app's 34 tables and EF's history


def _open(url: str) -> pw.Database:
    return engine_for(parse_url(url)).open()


def _ix(db: pw.Database) -> dict[str, tuple[tuple[str, ...], bool]]:
    return {
        i.name: (tuple(i.columns), i.unique)
        for t in db.get_tables() for i in db.get_indexes(t) if i.name.startswith("IX_")
    }


def test_migrate_status_rollback_round_trip(cli, any_engine_url, workdir):
    url = any_engine_url
    r = cli("--db", url, "migrate", "--no-backup")
    assert r.exit_code == 0, r
    db = _open(url)
    try:
        assert AURA_TABLES <= set(db.get_tables())
        ix = _ix(db)
        assert len(ix) == 146
        assert ix["IX_SceneStates_ProjectId_SceneIndex"] == (("ProjectId", "SceneIndex"), False)
        assert ix["IX_user_setup_user_id"][1] is True
        q = (lambda sql: sql.replace('"', "`")) if "mysql" in url else (lambda sql: sql)
        assert db.execute_sql(q('SELECT count(*) FROM "system_configuration"')).fetchone()[0] == 1
        assert db.execute_sql(q('SELECT count(*) FROM "__EFMigrationsHistory"')).fetchone()[0] == 8
    finally:
        db.close()
    r = cli("--db", url, "status", "--check", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["head"] == HEAD and doc["engine"] in ("sqlite", "postgresql", "mysql")
    r = cli("--db", url, "rollback", "--all", "--yes", "--no-backup")
    assert r.exit_code == 0, r
    db = _open(url)
    try:
        assert not (AURA_TABLES & set(db.get_tables()))
    finally:
        db.close()
    assert cli("--db", url, "status", "--check").exit_code == 3


def test_cascade_soft_delete_and_unique_behave_the_same(cli, any_engine_url, workdir):
    url = any_engine_url
    assert cli("--db", url, "migrate", "--no-backup").exit_code == 0
    db = _open(url)
    m.bind(db)
    try:
        p = m.ProjectState.create(title="Launch video", brief_json={"topic": "launch"})
        for i in range(3):
            m.SceneState.create(project=p, scene_index=i, script_text="", created_at=dt.datetime(2025, 1, 1))
        m.ProjectVersion.create(project=p, version_number=1)
        got = m.ProjectState.get_by_id(p.id)
        assert isinstance(got.id, str) and len(got.id) == 36
        assert json.loads(got.brief_json) == {"topic": "launch"}
        assert got.created_by == "tester"
        p.delete_instance()  # soft
        assert m.ProjectState.select().count() == 0
        assert m.SceneState.select().count() == 3
        m.ProjectState.select_with_deleted().where(m.ProjectState.id == p.id).get().hard_delete()
        assert m.SceneState.select().count() == 0
        assert m.ProjectVersion.select_with_deleted().count() == 0
        m.UserSetup.create(user_id="u1")
        with pytest.raises(pw.IntegrityError):
            with db.atomic():
                m.UserSetup.create(user_id="u1")
        blob = m.store_blob("same content")
        assert m.store_blob("same content").content_hash == blob.content_hash
        assert m.ContentBlob.get_by_id(blob.content_hash).reference_count == 2
    finally:
        db.close()


def test_postgresql_uses_native_types(cli, server_url, workdir):
    url = server_url("postgresql")
    assert cli("--db", url, "migrate", "--no-backup").exit_code == 0
    db = _open(url)
    try:
        types = dict(db.execute_sql(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'ProjectStates'"
        ).fetchall())
    finally:
        db.close()
    assert types["Id"] == "uuid"
    assert types["BriefJson"] == "jsonb"
    assert types["IsDeleted"] == "boolean"
    assert types["CreatedAt"].startswith("timestamp")


FAILS = '''
"""Creates a table, adds a column, then fails."""


def migrate(migrator, database, *, fake=False):
    migrator.sql('CREATE TABLE half_done (id INTEGER PRIMARY KEY)')
    migrator.sql('ALTER TABLE half_done ADD COLUMN note VARCHAR(20)')
    migrator.sql('INSERT INTO no_such_table VALUES (1)')


def rollback(migrator, database, *, fake=False):
    migrator.sql('DROP TABLE half_done')
'''


def test_failed_migration_on_postgresql_leaves_nothing(cli, server_url, migrations_copy, workdir):
    url = server_url("postgresql")
    assert cli("--db", url, "--migrations", migrations_copy, "migrate").exit_code == 0
    (migrations_copy / f"{NEXT:03d}_fails.py").write_text(textwrap.dedent(FAILS).lstrip())
    r = cli("--db", url, "--migrations", migrations_copy, "migrate", "--no-backup")
    assert r.exit_code == 1
    assert f"{NEXT:03d}_fails" in r.stderr and "no_such_table" in r.stderr
    assert "stay applied" not in r.stderr  # transactional DDL: nothing half-done
    db = _open(url)
    try:
        assert "half_done" not in db.get_tables()
    finally:
        db.close()
    r = cli("--db", url, "--migrations", migrations_copy, "status", "--json")
    assert json.loads(r.stdout)["pending"] == [f"{NEXT:03d}_fails"]


def test_failed_migration_on_mysql_reports_what_stayed_applied(cli, server_url, migrations_copy, workdir):
    url = server_url("mysql")
    assert cli("--db", url, "--migrations", migrations_copy, "migrate").exit_code == 0
    (migrations_copy / f"{NEXT:03d}_fails.py").write_text(textwrap.dedent(FAILS).lstrip())
    r = cli("--db", url, "--migrations", migrations_copy, "migrate", "--no-backup")
    assert r.exit_code == 1
    first = r.stderr.splitlines()
    assert "MySQL commits each DDL statement" in r.stderr  # said before the run
    error = next(line for line in first if line.startswith("error: "))
    assert f"{NEXT:03d}_fails" in error and "2 of its statement(s) were committed" in error
    assert "CREATE TABLE half_done" in error and "ALTER TABLE half_done ADD COLUMN note" in error
    assert "no_such_table" in error
    assert any(line.startswith("hint: ") and "aura-db migrate" in line for line in first)
    db = _open(url)
    try:
        assert "half_done" in db.get_tables()  # what MySQL committed really is there
        assert list(db.execute_sql("SELECT name FROM aura_schema_history").fetchall()) == [(n,) for n in SHIPPED]
        log = db.execute_sql(
            "SELECT outcome, error FROM aura_migration_log ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        db.close()
    assert log[0] == "failed" and "CREATE TABLE half_done" in log[1]


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_lock_timeout_exits_5_on_servers(cli, server_url, engine, workdir):
    url = server_url(engine)
    eng = engine_for(parse_url(url))
    holder = eng.open()
    try:
        # Held as a run holds it (on PostgreSQL: inside a transaction, ``locked``).
        with eng.migration_lock(holder, 1), eng.locked(holder):
            r = cli("--db", url, "migrate", "--no-backup", "--lock-timeout", "1")
            assert r.exit_code == 5, r
            assert "migration lock" in r.stderr
        r = cli("--db", url, "migrate", "--no-backup", "--lock-timeout", "1")
        assert r.exit_code == 0, r
    finally:
        holder.close()


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_missing_server_database_is_exit_4_and_never_created(cli, server_url, engine, workdir):
    url = server_url(engine)
    missing = url.rsplit("/", 1)[0] + "/aura_no_such_db_x"
    for args in (["status"], ["migrate", "--no-backup"]):
        r = cli("--db", missing, *args)
        assert r.exit_code == 4, r
        assert "cannot connect" in r.stderr


def test_unreachable_server_with_password_is_exit_4_and_redacted(cli, workdir):
    r = cli("--db", "postgresql://aura:hunter2@127.0.0.1:9/aura", "status")
    assert r.exit_code == 4
    assert "hunter2" not in r.stdout + r.stderr
    r = cli("--db", "mysql://aura:hunter2@127.0.0.1:9/aura", "status", "--json")
    assert r.exit_code == 4
    assert "hunter2" not in r.stdout + r.stderr


def test_status_reads_the_history_as_the_orm_does(cli, any_engine_url, workdir):
    """`status` reads the history through the engine's driver (no peewee on
    SQLite); it must see exactly what migrate's ORM reading sees."""
    from aura_db.migrations import _read_history_rows, read_history

    assert cli("--db", any_engine_url, "migrate", "--no-backup").exit_code == 0
    engine = engine_for(parse_url(any_engine_url))
    reader = engine.reader()
    try:
        rows = _read_history_rows(reader)
        version = reader.server_version()
        tables = set(reader.tables())
    finally:
        reader.close()
    db = engine.open()
    try:
        orm = read_history(db)
        assert version == engine.server_version(db)
        # the tables the catalog lists: not SQLite's own sqlite_sequence
        assert tables == set(engine.catalog(db).tables())
        assert tables == {t for t in db.get_tables() if not t.startswith("sqlite_")}
    finally:
        db.close()
    assert [(r.name, r.checksum, r.applied_at, r.applied_by) for r in rows] == \
        [(h.name, h.checksum, h.applied_at, h.applied_by) for h in orm]
    assert rows and isinstance(rows[0].applied_at, dt.datetime)


@pytest.mark.parametrize("content", [b"", b"this is not a database, only text\n" * 200, None])
def test_sqlite_reader_fails_as_open_does(tmp_path, content):
    from aura_db.errors import DatabaseUnavailable

    path = tmp_path / "x.db"
    if content is not None:
        path.write_bytes(content)
    engine = engine_for(parse_url(str(path)))
    messages = []
    for attempt in (engine.reader, engine.open):
        try:
            attempt().close()
            messages.append(None)
        except DatabaseUnavailable as exc:
            messages.append((exc.message, exc.hint))
    assert messages[0] == messages[1]
    assert (messages[0] is None) == (content == b"")  # an empty file is an empty database
