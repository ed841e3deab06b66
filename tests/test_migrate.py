"""migrate / rollback / status: behaviour, bad input and exit codes (in-process)."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path

import pytest

from aura_db import migrations as core
from aura_db.db import engine_for, parse_url
from conftest import FIRST, HEAD, NEXT, SHIPPED

REBUILD_PROJECTS = '''
"""Widen ProjectStates.Title: SQLite rebuilds the whole parent table."""
import peewee as pw


def migrate(migrator, database, *, fake=False):
    migrator.change_fields("ProjectStates", title=pw.CharField(column_name="Title", max_length=1000))


def rollback(migrator, database, *, fake=False):
    migrator.change_fields("ProjectStates", title=pw.CharField(column_name="Title", max_length=500))
'''

ADD_TAGS = '''
"""Add ProjectStates.Labels."""
import peewee as pw


def migrate(migrator, database, *, fake=False):
    migrator.add_fields("ProjectStates", labels=pw.TextField(column_name="Labels", null=True))


def rollback(migrator, database, *, fake=False):
    migrator.remove_fields("ProjectStates", "labels")
'''

FAILS_HALF_WAY = '''
"""Creates a table, then fails: the table must not survive."""
import peewee as pw


def migrate(migrator, database, *, fake=False):
    migrator.sql('CREATE TABLE "Half" ("Id" INTEGER PRIMARY KEY)')
    migrator.sql('INSERT INTO "NoSuchTable" VALUES (1)')


def rollback(migrator, database, *, fake=False):
    migrator.sql('DROP TABLE "Half"')
'''

NO_ROLLBACK = '''
"""Adds an index and has no rollback."""


def migrate(migrator, database, *, fake=False):
    migrator.add_index("ProjectStates", "title")
'''


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source).lstrip())
    return path


def sql(db: Path, query: str, *params):
    con = sqlite3.connect(db)
    try:
        return con.execute(query, params).fetchall()
    finally:
        con.close()


def tables(db: Path) -> set[str]:
    # Not SQLite's own sqlite_sequence (there once a table has an AUTOINCREMENT key, never dropped).
    return {r[0] for r in sql(db, "SELECT name FROM sqlite_master WHERE type='table'") if not r[0].startswith("sqlite_")}


def history(db: Path) -> list[str]:
    return [r[0] for r in sql(db, "SELECT name FROM aura_schema_history ORDER BY id")]


def seed_children(db: Path) -> None:
    con = sqlite3.connect(db)
    con.execute("PRAGMA foreign_keys=ON")
    now = "2025-01-01 00:00:00"
    for p in range(3):
        pid = f"00000000-0000-0000-0000-00000000000{p}"
        con.execute(
            'INSERT INTO ProjectStates (Id, Title, Status, CurrentWizardStep, ProgressPercent, '
            "CreatedAt, UpdatedAt, IsDeleted) VALUES (?, ?, 'Draft', 0, 0, ?, ?, 0)",
            (pid, f"p{p}", now, now),
        )
        for s in range(4):
            con.execute(
                "INSERT INTO SceneStates (Id, ProjectId, SceneIndex, ScriptText, DurationSeconds, IsCompleted, CreatedAt) "
                "VALUES (?, ?, ?, '', 1.5, 0, ?)", (f"s-{p}-{s}", pid, s, now))
            con.execute(
                "INSERT INTO AssetStates (Id, ProjectId, AssetType, FilePath, FileSizeBytes, IsTemporary, CreatedAt) "
                "VALUES (?, ?, 'Image', '/x.png', 10, 0, ?)", (f"a-{p}-{s}", pid, now))
    con.commit()
    con.close()


@pytest.fixture
def mig(migrations_copy, workdir, monkeypatch):
    """A writable migrations folder, selected through the environment."""
    monkeypatch.setenv("AURA_DB_MIGRATIONS", str(migrations_copy))
    return migrations_copy


# --------------------------------------------------------------------------
# Never lose data


def test_rebuilding_a_parent_table_keeps_every_child_row(cli, mig, workdir):
    db = workdir / "aura.db"
    assert cli("migrate").exit_code == 0
    seed_children(db)
    write(mig, f"{NEXT:03d}_widen_title", REBUILD_PROJECTS)
    r = cli("migrate", "--no-backup")
    assert r.exit_code == 0, r
    # The table really was rebuilt: the new definition is in the schema.
    ddl = sql(db, "SELECT sql FROM sqlite_master WHERE name='ProjectStates'")[0][0]
    assert "VARCHAR(1000)" in ddl
    assert sql(db, "SELECT count(*) FROM SceneStates") == [(12,)]
    assert sql(db, "SELECT count(*) FROM AssetStates") == [(12,)]
    assert sql(db, "PRAGMA foreign_key_check") == []
    # and back again, still without losing a row
    r = cli("rollback", "--yes", "--no-backup")
    assert r.exit_code == 0, r
    assert sql(db, "SELECT count(*) FROM SceneStates") == [(12,)]
    assert sql(db, "SELECT count(*) FROM AssetStates") == [(12,)]


def test_foreign_keys_are_enforced_again_after_a_migration(mig, workdir):
    write(mig, f"{NEXT:03d}_widen_title", REBUILD_PROJECTS)
    engine = engine_for(parse_url("sqlite:///aura.db"))
    core.migrate(engine, mig)
    db = engine.open()
    try:
        assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        db.close()


def test_a_failing_migration_leaves_the_database_exactly_as_before(cli, mig, workdir):
    db = workdir / "aura.db"
    assert cli("migrate").exit_code == 0
    write(mig, f"{NEXT:03d}_add_tags", ADD_TAGS)
    write(mig, f"{NEXT + 1:03d}_fails", FAILS_HALF_WAY)
    before_tables = tables(db)
    r = cli("migrate", "--no-backup")
    assert r.exit_code == 1
    assert f"{NEXT + 1:03d}_fails" in r.stderr and "NoSuchTable" in r.stderr
    assert "Traceback" not in r.stderr
    # 002 went through in its own transaction; 003 left nothing behind.
    assert history(db) == [*SHIPPED, f"{NEXT:03d}_add_tags"]
    assert tables(db) == before_tables
    assert "Half" not in tables(db)
    log = sql(db, "SELECT command, outcome, migrations, error FROM aura_migration_log ORDER BY id")
    assert log[-1][:3] == ("migrate", "failed", f"{NEXT:03d}_add_tags")
    assert "NoSuchTable" in log[-1][3]


def test_a_foreign_key_violation_fails_the_migration_before_commit(cli, mig, workdir):
    db = workdir / "aura.db"
    assert cli("migrate").exit_code == 0
    write(mig, f"{NEXT:03d}_orphan", '''
        """Inserts a scene whose project does not exist."""
        def migrate(migrator, database, *, fake=False):
            migrator.sql("INSERT INTO SceneStates (Id, ProjectId, SceneIndex, ScriptText, DurationSeconds, IsCompleted, CreatedAt) VALUES ('s', 'nope', 0, '', 0, 0, '2025-01-01')")

        def rollback(migrator, database, *, fake=False):
            pass
    ''')
    r = cli("migrate", "--no-backup")
    assert r.exit_code == 1
    assert "foreign key check failed" in r.stderr and "SceneStates" in r.stderr
    assert sql(db, "SELECT count(*) FROM SceneStates") == [(0,)]
    assert history(db) == SHIPPED


# --------------------------------------------------------------------------
# migrate


def test_migrate_on_an_empty_directory_builds_the_schema(cli, workdir):
    r = cli("migrate", "--json")
    assert r.exit_code == 0, r
    import json

    doc = json.loads(r.stdout)
    assert doc["migrations"] == SHIPPED and doc["to_head"] == HEAD
    # the app's 34 tables, EF's history table, aura-db's history and audit log
    assert len(tables(workdir / "aura.db")) == 37
    r = cli("migrate")
    assert r.exit_code == 0 and "nothing to do" in r.stdout


def test_migrate_to_stops_after_the_target(cli, mig, workdir):
    write(mig, f"{NEXT:03d}_add_tags", ADD_TAGS)
    write(mig, f"{NEXT + 1:03d}_widen_title", REBUILD_PROJECTS)
    r = cli("migrate", "--to", str(NEXT))
    assert r.exit_code == 0, r
    assert history(workdir / "aura.db") == [*SHIPPED, f"{NEXT:03d}_add_tags"]
    r = cli("status", "--json")
    import json

    assert json.loads(r.stdout)["pending"] == [f"{NEXT + 1:03d}_widen_title"]


def test_fake_records_without_running_when_the_schema_already_matches(cli, mig, workdir):
    db = workdir / "aura.db"
    assert cli("migrate").exit_code == 0
    write(mig, f"{NEXT:03d}_add_tags", ADD_TAGS)
    sql(db, 'ALTER TABLE "ProjectStates" ADD COLUMN "Labels" TEXT')  # applied by hand, as --fake expects
    before = [r[1] for r in sql(db, "PRAGMA table_info(ProjectStates)")]
    r = cli("migrate", "--fake")
    assert r.exit_code == 0, r
    assert history(db) == [*SHIPPED, f"{NEXT:03d}_add_tags"]
    assert [r[1] for r in sql(db, "PRAGMA table_info(ProjectStates)")] == before  # nothing ran


def test_fake_refuses_a_schema_that_differs_and_lists_the_difference(cli, mig, workdir):
    db = workdir / "aura.db"
    assert cli("migrate").exit_code == 0
    write(mig, f"{NEXT:03d}_add_tags", ADD_TAGS)
    r = cli("migrate", "--fake")
    assert r.exit_code == 3, r
    assert "ProjectStates: column Labels is missing" in r.stderr and "nothing was recorded" in r.stderr
    assert history(db) == SHIPPED
    assert "Labels" not in [r[1] for r in sql(db, "PRAGMA table_info(ProjectStates)")]


def test_dry_run_prints_sql_and_changes_nothing(cli, mig, workdir):
    db = workdir / "aura.db"
    assert cli("migrate").exit_code == 0
    write(mig, f"{NEXT:03d}_add_tags", ADD_TAGS)
    before = db.read_bytes()
    r = cli("migrate", "--dry-run")
    assert r.exit_code == 0, r
    assert f"-- migrate {NEXT:03d}_add_tags" in r.stdout
    assert 'ALTER TABLE "ProjectStates" ADD COLUMN "Labels" TEXT' in r.stdout
    assert db.read_bytes() == before
    assert history(db) == SHIPPED


def test_dry_run_json_gives_statements_per_migration(cli, mig, workdir):
    import json

    assert cli("migrate").exit_code == 0
    write(mig, f"{NEXT:03d}_add_tags", ADD_TAGS)
    r = cli("migrate", "--dry-run", "--json")
    doc = json.loads(r.stdout)
    assert doc["dry_run"] is True
    assert list(doc["sql"]) == [f"{NEXT:03d}_add_tags"]
    assert any("ADD COLUMN" in s for s in doc["sql"][f"{NEXT:03d}_add_tags"])


# --------------------------------------------------------------------------
# rollback


def test_rollback_target_stays_applied(cli, mig, workdir):
    db = workdir / "aura.db"
    write(mig, f"{NEXT:03d}_add_tags", ADD_TAGS)
    write(mig, f"{NEXT + 1:03d}_widen_title", REBUILD_PROJECTS)
    assert cli("migrate").exit_code == 0
    r = cli("rollback", HEAD.split("_", 1)[0], "--yes", "--no-backup")
    assert r.exit_code == 0, r
    assert history(db) == SHIPPED
    assert "Labels" not in [c[1] for c in sql(db, "PRAGMA table_info(ProjectStates)")]


def test_rollback_steps_and_all(cli, mig, workdir):
    db = workdir / "aura.db"
    write(mig, f"{NEXT:03d}_add_tags", ADD_TAGS)
    write(mig, f"{NEXT + 1:03d}_widen_title", REBUILD_PROJECTS)
    assert cli("migrate").exit_code == 0
    assert cli("rollback", "--steps", "2", "--yes", "--no-backup").exit_code == 0
    assert history(db) == SHIPPED
    assert cli("migrate").exit_code == 0
    r = cli("rollback", "--all", "--yes", "--no-backup")
    assert r.exit_code == 0, r
    assert history(db) == []
    assert tables(db) == {"aura_schema_history", "aura_migration_log"}


def test_rollback_without_a_terminal_and_without_yes_refuses(cli, workdir):
    db = workdir / "aura.db"
    assert cli("migrate").exit_code == 0
    before = db.read_bytes()
    r = cli("rollback")
    assert r.exit_code == 6
    assert "--yes" in r.stderr
    assert db.read_bytes() == before


def test_rollback_of_a_migration_without_rollback_names_it(cli, mig, workdir):
    db = workdir / "aura.db"
    write(mig, f"{NEXT:03d}_index_title", NO_ROLLBACK)
    assert cli("migrate").exit_code == 0
    r = cli("rollback", "--yes", "--no-backup")
    assert r.exit_code == 1
    assert f"{NEXT:03d}_index_title" in r.stderr and "rollback()" in r.stderr
    assert history(db) == [*SHIPPED, f"{NEXT:03d}_index_title"]


def test_rollback_with_nothing_applied_is_nothing_to_do(cli, workdir):
    """cli.md: exit 0 is also "nothing to do"."""
    assert cli("migrate").exit_code == 0
    assert cli("rollback", "--all", "--yes", "--no-backup").exit_code == 0
    r = cli("rollback", "--yes")
    assert r.exit_code == 0, r
    assert r.stdout == "nothing to do (head: nothing applied)\n"
    r = cli("rollback", "--json")  # nothing to confirm either
    assert r.exit_code == 0 and json.loads(r.stdout)["nothing_to_do"] is True
    r = cli("rollback", "999", "--yes")  # an unknown target is still a usage error
    assert r.exit_code == 2 and "unknown migration target" in r.stderr


def test_rollback_dry_run_changes_nothing(cli, mig, workdir):
    db = workdir / "aura.db"
    write(mig, f"{NEXT:03d}_add_tags", ADD_TAGS)
    assert cli("migrate").exit_code == 0
    before = db.read_bytes()
    r = cli("rollback", "--dry-run")
    assert r.exit_code == 0, r
    assert f"-- rollback {NEXT:03d}_add_tags" in r.stdout and "DROP COLUMN" in r.stdout
    assert db.read_bytes() == before


def test_audit_log_records_who_when_what_and_outcome(cli, mig, workdir):
    db = workdir / "aura.db"
    write(mig, f"{NEXT:03d}_add_tags", ADD_TAGS)
    assert cli("migrate").exit_code == 0
    assert cli("rollback", "--yes", "--no-backup").exit_code == 0
    rows = sql(db, "SELECT command, actor, from_head, to_head, migrations, outcome, duration_ms, started_at "
                   "FROM aura_migration_log ORDER BY id")
    assert rows[0][:6] == ("migrate", "tester", None, f"{NEXT:03d}_add_tags", ",".join([*SHIPPED, f"{NEXT:03d}_add_tags"]), "success")
    assert rows[1][:6] == ("rollback", "tester", f"{NEXT:03d}_add_tags", HEAD, f"{NEXT:03d}_add_tags", "success")
    assert all(r[6] >= 0 and r[7] for r in rows)


# --------------------------------------------------------------------------
# status and drift


def test_status_reports_pending_and_check_exits_3(cli, mig, workdir):
    assert cli("migrate").exit_code == 0
    assert cli("status", "--check").exit_code == 0
    write(mig, f"{NEXT:03d}_add_tags", ADD_TAGS)
    r = cli("status", "--check")
    assert r.exit_code == 3
    assert f"{NEXT:03d}_add_tags" in r.stdout
    assert "1 pending" in r.stderr


def test_editing_an_applied_migration_is_drift(cli, mig, workdir):
    import json

    assert cli("migrate").exit_code == 0
    path = mig / f"{FIRST}.py"
    path.write_text(path.read_text() + "\n# edited after it was applied\n")
    r = cli("status", "--check", "--json")
    assert r.exit_code == 3
    doc = json.loads(r.stdout)
    assert doc["changed"] == [FIRST] and doc["drift"] is True
    r = cli("migrate", "list", "--json")
    assert json.loads(r.stdout)[0]["checksum_state"] == "changed"
    r = cli("migrate")
    assert r.exit_code == 0
    assert f"warning: {FIRST} was edited after it was applied" in r.stderr


def test_a_missing_applied_file_is_drift(cli, mig, workdir):
    import json

    write(mig, f"{NEXT:03d}_add_tags", ADD_TAGS)
    assert cli("migrate").exit_code == 0
    (mig / f"{NEXT:03d}_add_tags.py").unlink()
    r = cli("status", "--check", "--json")
    assert r.exit_code == 3
    assert json.loads(r.stdout)["missing"] == [f"{NEXT:03d}_add_tags"]
    r = cli("migrate", "list")
    assert "missing" in r.stdout


def test_status_shows_engine_and_redacted_url(cli, workdir):
    import json

    assert cli("migrate").exit_code == 0
    r = cli("status", "--json")
    doc = json.loads(r.stdout)
    assert doc["engine"] == "sqlite" and doc["head"] == HEAD and doc["reachable"] is True


# --------------------------------------------------------------------------
# bad input: one line, the documented code, nothing created or changed


def test_read_only_commands_never_create_the_database(cli, workdir):
    for args in (["status"], ["migrate", "list"], ["migrate", "--dry-run"], ["rollback", "--dry-run"]):
        r = cli(*args)
        assert r.exit_code == 4, (args, r)
        assert r.stderr.startswith("error: database ") and "does not exist" in r.stderr
        assert not (workdir / "aura.db").exists()


def test_a_file_that_is_not_a_database(cli, workdir):
    (workdir / "notes.txt").write_text("these are not the tables you are looking for\n" * 50)
    r = cli("--db", "notes.txt", "status")
    assert r.exit_code == 4
    assert "not a SQLite database" in r.stderr and "Traceback" not in r.stderr
    r = cli("--db", "notes.txt", "migrate")
    assert r.exit_code == 4


def test_unknown_url_scheme(cli, workdir):
    r = cli("--db", "oracle://scott:tiger@db/orcl", "status")
    assert r.exit_code == 2
    assert "unknown URL scheme 'oracle'" in r.stderr
    assert "tiger" not in r.stderr


def test_unknown_target(cli, workdir):
    r = cli("migrate", "--to", "999")
    assert r.exit_code == 2
    assert "unknown migration target '999'" in r.stderr
    assert cli("migrate").exit_code == 0
    r = cli("rollback", "nope", "--yes")
    assert r.exit_code == 2


def test_missing_migrations_folder(cli, workdir):
    r = cli("--migrations", "no/such/dir", "migrate")
    assert r.exit_code == 2
    assert "migrations folder" in r.stderr and "does not exist" in r.stderr
    assert not (workdir / "aura.db").exists()
    (workdir / "notes.txt").write_text("not a folder\n")
    r = cli("--migrations", "notes.txt", "migrate")
    assert r.exit_code == 2
    assert f"migrations folder {workdir / 'notes.txt'} is not a folder" in r.stderr


def test_a_migration_with_a_syntax_error_is_named(cli, mig, workdir):
    db = workdir / "aura.db"
    assert cli("migrate").exit_code == 0
    write(mig, f"{NEXT:03d}_broken", "def migrate(migrator, database, *, fake=False)\n    pass\n")
    before = db.read_bytes()
    r = cli("migrate", "--no-backup")
    assert r.exit_code == 1
    assert f"{NEXT:03d}_broken.py" in r.stderr and "syntax error at line 1" in r.stderr
    assert "Traceback" not in r.stderr
    assert history(db) == SHIPPED
    assert db.read_bytes() == before or history(db) == SHIPPED


def test_unknown_option_is_exit_2_on_one_line(cli, workdir):
    r = cli("migrate", "--frobnicate")
    assert r.exit_code == 2
    assert r.stderr.splitlines()[0] == "error: No such option: --frobnicate"


def test_password_never_printed(cli, workdir):
    r = cli("--db", "postgresql://aura:s3cret-pw@127.0.0.1:1/nodb", "status")
    assert r.exit_code == 4
    assert "s3cret-pw" not in r.stderr + r.stdout
    assert "***" in r.stderr


def test_gap_below_the_head_is_refused(cli, mig, workdir):
    write(mig, f"{NEXT + 1:03d}_add_tags", ADD_TAGS)
    assert cli("migrate").exit_code == 0
    write(mig, f"{NEXT:03d}_widen_title", REBUILD_PROJECTS)
    r = cli("migrate", "--no-backup")
    assert r.exit_code == 1
    assert f"{NEXT:03d}_widen_title" in r.stderr and "below the applied head" in r.stderr


def test_duplicate_numbers_are_refused(cli, mig, workdir):
    write(mig, f"{NEXT:03d}_add_tags", ADD_TAGS)
    write(mig, f"{NEXT:03d}_widen_title", REBUILD_PROJECTS)
    r = cli("migrate")
    assert r.exit_code == 2 and f"share number {NEXT:03d}" in r.stderr


DROP_STATUS_INDEX = '''
"""Drop the single-column status index (the composite one stays)."""


def migrate(migrator, database, *, fake=False):
    migrator.drop_index("ProjectStates", "status")


def rollback(migrator, database, *, fake=False):
    migrator.add_index("ProjectStates", "status")
'''


def test_drop_index_by_columns_finds_the_named_index(cli, mig, workdir):
    db = workdir / "aura.db"
    write(mig, f"{NEXT:03d}_drop_status_index", DROP_STATUS_INDEX)
    r = cli("migrate", "--no-backup")
    assert r.exit_code == 0, r
    names = {row[0] for row in sql(db, "SELECT name FROM sqlite_master WHERE type='index'")}
    assert "IX_ProjectStates_Status" not in names
    assert "IX_ProjectStates_Status_UpdatedAt" in names
    r = cli("rollback", "--yes", "--no-backup")
    assert r.exit_code == 0, r
    cols = sql(db, "PRAGMA index_list(ProjectStates)")
    assert any(row[1] != "IX_ProjectStates_Status_UpdatedAt" and
               sql(db, f"PRAGMA index_info('{row[1]}')") and
               [c[2] for c in sql(db, f"PRAGMA index_info('{row[1]}')")] == ["Status"] for row in cols)


def test_sqlite_urls_parse_like_playhouse(workdir):
    from aura_db.db import parse_url

    assert parse_url("sqlite:///aura.db").path == str(workdir / "aura.db")
    assert parse_url("sqlite:////tmp/x/aura.db").path == "/tmp/x/aura.db"
    assert parse_url("sqlite:///:memory:").path is None
    assert parse_url("sqlite:///a%20b.db?timeout=2.5&uri=true").params == {"timeout": 2.5, "uri": True}
    assert parse_url("aura.db").path == str(workdir / "aura.db")


def test_two_slash_sqlite_url_is_a_usage_error(cli, workdir):
    r = cli("--db", "sqlite://aura.db", "status")
    assert r.exit_code == 2
    assert "three slashes" in r.stderr and "sqlite:///aura.db" in r.stderr


def test_password_in_query_string_is_masked(cli, workdir):
    from aura_db.db import redact

    assert redact("postgresql://u@h/db?password=hunter2&sslmode=require") == \
        "postgresql://u@h/db?password=***&sslmode=require"
    r = cli("--db", "postgresql://aura@127.0.0.1:9/aura?password=hunter2", "status")
    assert r.exit_code == 4
    assert "hunter2" not in r.stdout + r.stderr
