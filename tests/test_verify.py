"""aura-db verify: every check passes on a good database and is proven able to fail."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from aura_db.db import engine_for
from aura_db.migrations import default_migrations_dir, migrate
from conftest import FIRST, NEXT

CHECKS = ["connection", "server settings", "migrations", "schema: tables", "schema: columns", "schema: indexes",
          "schema: foreign keys", "integrity", "foreign key integrity", "single system_configuration row",
          "blob reference counts", "soft-deleted rows have DeletedAt", "unique user_setup.user_id", "query plans"]


@pytest.fixture(scope="session")
def _seeded_template(tmp_path_factory) -> Path:
    from aura_db.seed import SyntheticSpec, seed_dev, seed_synthetic

    path = tmp_path_factory.mktemp("verify") / "aura.db"
    engine = engine_for(f"sqlite:///{path}")
    migrate(engine, default_migrations_dir())
    seed_dev(engine, default_migrations_dir())
    seed_synthetic(engine, default_migrations_dir(), SyntheticSpec(projects=20))
    return path


@pytest.fixture
def db_path(_seeded_template, workdir) -> Path:
    path = workdir / "aura.db"
    shutil.copy(_seeded_template, path)
    return path


def sql(path: Path, *statements: str) -> None:
    con = sqlite3.connect(path, isolation_level=None)
    try:
        for s in statements:
            con.execute(s)
    finally:
        con.close()


def run_verify(cli, path: Path, *extra: str) -> tuple[int, dict, str]:
    r = cli("--db", path, *extra, "verify", "--json")
    assert r.stdout.count("\n{") == 0 or r.stdout.strip().startswith("{")
    return r.exit_code, json.loads(r.stdout) if r.stdout.strip() else {}, r.stderr


def by_name(doc: dict) -> dict[str, dict]:
    return {c["check"]: c for c in doc["checks"]}


def test_a_good_database_passes_every_check(cli, db_path):
    code, doc, err = run_verify(cli, db_path)
    assert code == 0, (doc, err)
    assert [c["check"] for c in doc["checks"]] == CHECKS
    assert {c["status"] for c in doc["checks"]} == {"pass"}
    assert doc["ok"] is True and doc["failed"] == []


def test_text_output_has_one_row_per_check_and_verify_changes_nothing(cli, db_path):
    digest = hashlib.sha256(db_path.read_bytes()).hexdigest()
    r = cli("--db", db_path, "verify")
    assert r.exit_code == 0, r
    for name in CHECKS:
        assert name in r.stdout
    assert "0 failed" in r.stdout
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == digest


def expect_failure(cli, path: Path, check: str, *needles: str, extra: tuple[str, ...] = ()) -> dict:
    code, doc, err = run_verify(cli, path, *extra)
    assert code == 3, (doc, err)
    got = by_name(doc)[check]
    assert got["status"] == "fail", got
    text = got["detail"] + " " + " ".join(got["problems"])
    for needle in needles:
        assert needle in text, (needle, got)
    assert check in err and err.startswith("error:")
    return doc


def test_dropped_index_fails_and_is_named(cli, db_path):
    sql(db_path, 'DROP INDEX "IX_ProjectStates_JobId"')
    expect_failure(cli, db_path, "schema: indexes", "IX_ProjectStates_JobId")


def test_index_that_lost_uniqueness_fails(cli, db_path):
    sql(db_path, 'DROP INDEX "IX_ProjectVersions_ProjectId_VersionNumber"',
        'CREATE INDEX "IX_ProjectVersions_ProjectId_VersionNumber" ON "ProjectVersions" ("ProjectId", "VersionNumber")')
    expect_failure(cli, db_path, "schema: indexes", "IX_ProjectVersions_ProjectId_VersionNumber", "unique")


def test_missing_table_fails_and_extra_objects_warn(cli, db_path):
    sql(db_path, 'DROP TABLE "ActionLogs"')
    doc = expect_failure(cli, db_path, "schema: tables", "ActionLogs")
    assert by_name(doc)["schema: indexes"]["status"] == "pass"  # a missing table is reported once


def test_extra_table_column_and_index_only_warn(cli, db_path):
    sql(db_path, 'CREATE TABLE "Scratch" (x INTEGER)',
        'ALTER TABLE "templates" ADD COLUMN "Notes" TEXT',
        'CREATE INDEX "IX_templates_author" ON "templates" ("author")')
    code, doc, err = run_verify(cli, db_path)
    assert code == 0, (doc, err)
    checks = by_name(doc)
    assert checks["schema: tables"]["status"] == "warn" and "Scratch" in checks["schema: tables"]["detail"]
    assert checks["schema: columns"]["status"] == "warn" and "templates.Notes" in checks["schema: columns"]["detail"]
    assert checks["schema: indexes"]["status"] == "warn" and "IX_templates_author" in checks["schema: indexes"]["detail"]


def test_missing_column_fails_and_is_named(cli, db_path):
    sql(db_path, 'DROP INDEX "IX_ActionLogs_CorrelationId"', 'ALTER TABLE "ActionLogs" DROP COLUMN "CorrelationId"')
    expect_failure(cli, db_path, "schema: columns", "ActionLogs.CorrelationId")


def _rebuild(path: Path, table: str, edit) -> None:
    """Rebuild ``table`` from its own DDL passed through ``edit`` (SQLite cannot alter constraints)."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        ddl = con.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone()[0]
        indexes = [r[0] for r in con.execute(
            "SELECT sql FROM sqlite_master WHERE type='index' AND tbl_name=? AND sql IS NOT NULL", (table,))]
        con.execute("PRAGMA foreign_keys = OFF")
        con.execute("BEGIN")
        con.execute(f'ALTER TABLE "{table}" RENAME TO "old_{table}"')
        con.execute(edit(ddl))
        con.execute(f'INSERT INTO "{table}" SELECT * FROM "old_{table}"')
        con.execute(f'DROP TABLE "old_{table}"')
        for s in indexes:
            con.execute(s)
        con.execute("COMMIT")
    finally:
        con.close()


def test_foreign_key_without_cascade_fails(cli, db_path):
    _rebuild(db_path, "AssetStates", lambda ddl: ddl.replace("ON DELETE CASCADE", ""))
    expect_failure(cli, db_path, "schema: foreign keys", "AssetStates.ProjectId", "ON DELETE")


def test_column_type_and_nullability_changes_fail(cli, db_path):
    _rebuild(db_path, "templates", lambda ddl: ddl.replace('"rating" REAL NOT NULL', '"rating" TEXT NOT NULL')
             .replace('"author" TEXT NOT NULL', '"author" TEXT'))
    expect_failure(cli, db_path, "schema: columns", "templates.rating is TEXT", "templates.author is NULL")


def test_orphan_rows_fail_named_by_table(cli, db_path):
    sql(db_path, "PRAGMA foreign_keys = OFF",
        "INSERT INTO \"SceneStates\" VALUES ('11111111-1111-4111-8111-111111111111', "
        "'22222222-2222-4222-8222-222222222222', 0, 'lost', NULL, NULL, 1.0, 0, '2026-01-01 00:00:00')")
    expect_failure(cli, db_path, "foreign key integrity", "SceneStates")


def test_full_finds_orphans_with_foreign_key_check(cli, db_path):
    sql(db_path, "PRAGMA foreign_keys = OFF",
        "INSERT INTO \"AssetStates\" VALUES ('11111111-1111-4111-8111-111111111111', "
        "'22222222-2222-4222-8222-222222222222', 'Image', '/x.png', 1, 'image/png', 0, '2026-01-01 00:00:00')")
    expect_failure(cli, db_path, "foreign key integrity", "AssetStates")
    r = cli("--db", db_path, "verify", "--full", "--json")
    assert r.exit_code == 3, r
    got = by_name(json.loads(r.stdout))["foreign key integrity"]
    assert got["status"] == "fail" and "AssetStates: 1 row(s)" in got["problems"][0]


def test_damaged_page_fails_the_integrity_check(cli, db_path):
    con = sqlite3.connect(db_path)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'IX_ActionLogs_UserId'").fetchone()[0]
    con.close()
    with open(db_path, "r+b") as f:  # an invalid b-tree page type
        f.seek((root - 1) * page_size)
        f.write(b"\xff")
    expect_failure(cli, db_path, "integrity", "quick_check")


def test_damaged_table_page_fails_checks_instead_of_crashing(cli, db_path):
    con = sqlite3.connect(db_path)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'ContentBlobs'").fetchone()[0]
    con.close()
    with open(db_path, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xff")
    code, doc, err = run_verify(cli, db_path)
    assert code == 3, (doc, err)
    checks = by_name(doc)
    assert checks["integrity"]["status"] == "fail"
    assert checks["blob reference counts"]["status"] == "fail"
    assert "could not run" in checks["blob reference counts"]["detail"]
    assert "Traceback" not in err


def test_full_runs_integrity_check(cli, db_path):
    code, doc, _ = run_verify(cli, db_path, )
    assert "quick_check" in by_name(doc)["integrity"]["detail"]
    r = cli("--db", db_path, "verify", "--full", "--json")
    assert r.exit_code == 0, r
    assert "integrity_check" in by_name(json.loads(r.stdout))["integrity"]["detail"]
    assert "foreign_key_check" in by_name(json.loads(r.stdout))["foreign key integrity"]["detail"]
    assert json.loads(r.stdout)["full"] is True


def test_wrong_reference_count_fails(cli, db_path):
    con = sqlite3.connect(db_path)
    key = con.execute('SELECT "ContentHash" FROM "ContentBlobs" ORDER BY "ContentHash" LIMIT 1').fetchone()[0]
    con.close()
    sql(db_path, f'UPDATE "ContentBlobs" SET "ReferenceCount" = "ReferenceCount" + 1 WHERE "ContentHash" = \'{key}\'')
    expect_failure(cli, db_path, "blob reference counts", key[:16], "wrong ReferenceCount")


def test_version_hash_without_blob_fails(cli, db_path):
    sql(db_path, "UPDATE \"ProjectVersions\" SET \"BriefHash\" = 'feedfacefeedfacefeedface' WHERE rowid = 1")
    expect_failure(cli, db_path, "blob reference counts", "feedfacefeedface", "no ContentBlobs row")


@pytest.mark.parametrize("statement, needle", [
    ('DELETE FROM "system_configuration"', "found 0 rows"),
    ("INSERT INTO \"system_configuration\" VALUES (2, 0, NULL, '/out', '2026-01-01', '2026-01-01')", "found 2 rows"),
])
def test_system_configuration_must_have_exactly_one_row(cli, db_path, statement, needle):
    sql(db_path, statement)
    expect_failure(cli, db_path, "single system_configuration row", needle)


def test_soft_deleted_row_without_deleted_at_fails(cli, db_path):
    sql(db_path, 'UPDATE "custom_templates" SET "is_deleted" = 1, "deleted_at" = NULL WHERE rowid = 1')
    expect_failure(cli, db_path, "soft-deleted rows have DeletedAt", "custom_templates")


def test_duplicate_user_setup_fails(cli, db_path):
    sql(db_path, 'DROP INDEX "IX_user_setup_user_id"',
        "INSERT INTO \"user_setup\" (\"id\", \"user_id\", \"completed\", \"last_step\", \"updated_at\") "
        "VALUES ('second', 'default', 0, 0, '2026-01-01')")
    doc = expect_failure(cli, db_path, "unique user_setup.user_id", "'default'")
    assert by_name(doc)["schema: indexes"]["status"] == "fail"


def test_lookup_without_an_index_fails_the_query_plan_check(cli, db_path):
    sql(db_path, 'DROP INDEX "IX_export_history_status"', 'DROP INDEX "IX_export_history_status_created_at"')
    expect_failure(cli, db_path, "query plans", "exports by status", "full scan")


def test_edited_applied_migration_fails(cli, workdir, migrations_copy):
    path = workdir / "edited.db"
    assert cli("--db", path, "--migrations", migrations_copy, "migrate", "--no-backup").exit_code == 0
    with open(migrations_copy / f"{FIRST}.py", "a") as f:
        f.write("\n# edited after it was applied\n")
    expect_failure(cli, path, "migrations", FIRST, "changed", extra=("--migrations", str(migrations_copy)))


def test_missing_migration_file_fails(cli, workdir, migrations_copy):
    path = workdir / "missing.db"
    assert cli("--db", path, "--migrations", migrations_copy, "migrate", "--no-backup").exit_code == 0
    (migrations_copy / f"{FIRST}.py").rename(migrations_copy / "attic.txt")
    expect_failure(cli, path, "migrations", FIRST, "missing", extra=("--migrations", str(migrations_copy)))


def test_pending_migration_is_a_warning(cli, workdir, migrations_copy):
    path = workdir / "pending.db"
    assert cli("--db", path, "--migrations", migrations_copy, "migrate", "--no-backup").exit_code == 0
    (migrations_copy / f"{NEXT:03d}_later.py").write_text('"""Later."""\n\ndef migrate(migrator, database, *, fake=False):\n    pass\n')
    code, doc, err = run_verify(cli, path, "--migrations", str(migrations_copy))
    assert code == 0, (doc, err)
    got = by_name(doc)["migrations"]
    assert got["status"] == "warn" and f"{NEXT:03d}_later" in got["detail"]


def test_unmigrated_database_fails(cli, workdir):
    path = workdir / "empty.db"
    sqlite3.connect(path).close()
    doc = expect_failure(cli, path, "migrations", "aura-db migrate")
    assert by_name(doc)["schema: tables"]["status"] == "fail"
    assert by_name(doc)["query plans"]["status"] == "warn"  # skipped, and says so
    assert "skipped" in by_name(doc)["query plans"]["detail"]


def test_missing_database_exits_4_without_creating_it(cli, workdir):
    r = cli("--db", workdir / "nope.db", "verify")
    assert r.exit_code == 4, r
    assert r.stderr.startswith("error:") and "Traceback" not in r.stderr
    assert not (workdir / "nope.db").exists()


def test_failing_json_is_still_one_document(cli, db_path):
    sql(db_path, 'DROP INDEX "IX_ProjectStates_JobId"')
    r = cli("--db", db_path, "verify", "--json")
    assert r.exit_code == 3
    doc = json.loads(r.stdout)  # raises if stdout held more than one document
    assert doc["status"] == "fail" and doc["failed"] == ["schema: indexes"]
