"""seed and verify on the server engines (PostgreSQL, MySQL/MariaDB), against real servers.

Skipped unless AURA_DB_TEST_POSTGRES_URL / AURA_DB_TEST_MYSQL_URL name a server
(see conftest.py); each test gets a brand-new database.
"""

from __future__ import annotations

import json

import pytest

from aura_db.db import engine_for, parse_url

SERVERS = ["postgresql", "mysql"]


def execute(url: str, *statements: str) -> None:
    engine = engine_for(parse_url(url))
    db = engine.open()
    try:
        for s in statements:
            if engine.name == "mysql":
                s = s.replace('"', "`")
            db.execute_sql(s)
        if db.in_transaction():
            db.commit()
    finally:
        db.close()


def scalar(url: str, sql: str):
    engine = engine_for(parse_url(url))
    db = engine.open()
    try:
        return db.execute_sql(sql.replace('"', "`") if engine.name == "mysql" else sql).fetchone()[0]
    finally:
        db.close()


@pytest.fixture
def seeded(cli, server_url, request):
    url = server_url(request.param)
    r = cli("--db", url, "migrate", "--no-backup")
    if r.exit_code != 0:
        pytest.fail(f"migrate failed on {request.param} (not part of seed/verify): {r.stderr}")
    assert cli("--db", url, "seed").exit_code == 0
    r = cli("--db", url, "seed", "synthetic", "--projects", "25", "--json")
    assert r.exit_code == 0, r
    return url


@pytest.mark.parametrize("seeded", SERVERS, indirect=True)
def test_seeded_server_database_passes_every_check(cli, seeded):
    url = seeded
    before = scalar(url, 'SELECT COUNT(*) FROM "ProjectStates"')
    r = cli("--db", url, "seed", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["changed"] is False
    assert scalar(url, 'SELECT COUNT(*) FROM "ProjectStates"') == before == 31
    r = cli("--db", url, "verify", "--full", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert {c["status"] for c in doc["checks"]} == {"pass"}, doc
    assert len(doc["checks"]) == 14


@pytest.mark.parametrize("seeded", SERVERS, indirect=True)
def test_server_checks_fail_when_the_database_is_damaged(cli, seeded):
    url = seeded
    execute(url,
            'DROP INDEX "IX_export_history_status" ON "export_history"' if url.startswith("mysql")
            else 'DROP INDEX "IX_export_history_status"',
            'DROP INDEX "IX_export_history_status_created_at" ON "export_history"' if url.startswith("mysql")
            else 'DROP INDEX "IX_export_history_status_created_at"',
            'UPDATE "ContentBlobs" SET "ReferenceCount" = "ReferenceCount" + 3',
            'DELETE FROM "system_configuration"',
            "UPDATE \"ProjectStates\" SET \"DeletedAt\" = NULL WHERE \"IsDeleted\" = TRUE")
    r = cli("--db", url, "verify", "--json")
    assert r.exit_code == 3, r
    checks = {c["check"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["schema: indexes"]["status"] == "fail"
    assert "IX_export_history_status" in checks["schema: indexes"]["detail"]
    assert checks["query plans"]["status"] == "fail" and "exports by status" in checks["query plans"]["detail"]
    assert checks["blob reference counts"]["status"] == "fail"
    assert checks["single system_configuration row"]["status"] == "fail"
    assert checks["soft-deleted rows have DeletedAt"]["status"] == "fail"


@pytest.mark.parametrize("seeded", SERVERS, indirect=True)
def test_server_orphans_are_found(cli, seeded):
    url = seeded
    orphan = ("INSERT INTO \"SceneStates\" VALUES ('11111111-1111-4111-8111-111111111111', "
              "'22222222-2222-4222-8222-222222222222', 0, 'lost', NULL, NULL, 1.0, FALSE, '2026-01-01 00:00:00')")
    if url.startswith("mysql"):
        # Without its constraint the orphan can be written; verify must still find it.
        name = scalar(url, "SELECT CONSTRAINT_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS "
                           "WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = 'SceneStates'")
        execute(url, f'ALTER TABLE "SceneStates" DROP FOREIGN KEY "{name}"', orphan)
    else:
        execute(url, 'ALTER TABLE "SceneStates" DROP CONSTRAINT "SceneStates_ProjectId_fkey"', orphan)
    r = cli("--db", url, "verify", "--json")
    assert r.exit_code == 3, r
    checks = {c["check"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["foreign key integrity"]["status"] == "fail"
    assert "SceneStates" in checks["foreign key integrity"]["detail"]
    assert checks["schema: foreign keys"]["status"] == "fail"
    assert "SceneStates.ProjectId" in checks["schema: foreign keys"]["detail"]


@pytest.mark.parametrize("engine", SERVERS)
def test_server_seed_on_unmigrated_database(cli, server_url, engine):
    url = server_url(engine)
    r = cli("--db", url, "seed")
    assert r.exit_code == 1, r
    assert "aura-db migrate" in r.stderr
    r = cli("--db", url, "verify", "--json")
    assert r.exit_code == 3, r


@pytest.mark.parametrize("seeded", ["postgresql"], indirect=True)
def test_password_in_the_url_is_never_printed(cli, seeded):
    # The test server trusts local connections, so any password is accepted.
    url = seeded.replace("://postgres@", "://postgres:s3cr3t-pw@", 1)
    assert "s3cr3t-pw" in url
    for args in (("verify", "--json"), ("verify",), ("inspect", "--json"), ("inspect",),
                 ("seed", "--json"), ("inspect", "table", "Nope")):
        r = cli("--db", url, *args)
        assert r.exit_code in (0, 2), r
        assert "s3cr3t-pw" not in r.stdout + r.stderr, args
