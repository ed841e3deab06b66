"""aura-db seed: the development data set, synthetic data, and their failure modes."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from aura_db.db import engine_for
from aura_db.migrations import default_migrations_dir, migrate

from aura_db.models import TABLES as DATA_TABLES
from conftest import NEXT


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory) -> Path:
    # Migrating takes a while; copying a migrated file does not.
    path = tmp_path_factory.mktemp("template") / "aura.db"
    migrate(engine_for(f"sqlite:///{path}"), default_migrations_dir())
    return path


@pytest.fixture
def db_path(_migrated_template, workdir) -> Path:
    path = workdir / "aura.db"
    shutil.copy(_migrated_template, path)
    return path


def dump(path: Path) -> dict[str, list[tuple]]:
    """Every row of every Aura table, in a stable order."""
    con = sqlite3.connect(path)
    try:
        return {t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in DATA_TABLES}
    finally:
        con.close()


def count(path: Path, table: str, where: str = "1") -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute(f'SELECT COUNT(*) FROM "{table}" WHERE {where}').fetchone()[0]
    finally:
        con.close()


# --------------------------------------------------------------------------
# seed dev


def test_dev_seed_writes_the_development_data_set(cli, db_path):
    r = cli("--db", db_path, "seed", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["created"] == {"user_setup": 1, "ProjectStates": 6, "templates": 3, "export_history": 2,
                              "Configurations": 4}
    con = sqlite3.connect(db_path)
    setup = con.execute('SELECT "user_id", "completed", "version" FROM "user_setup"').fetchall()
    assert setup == [("default", 1, "1.0.0")]  # as the app's seed: the wizard was completed
    # The app's own three sample projects (its SeedData.cs), drafts with a category and tags.
    samples = con.execute('SELECT "Title", "Category", "DurationSeconds", "Tags" FROM "ProjectStates" '
                          'WHERE "BriefJson" IS NULL ORDER BY "DurationSeconds"').fetchall()
    assert samples == [("Welcome to Aura - Sample Project", "Technology", 60.0, "sample,tutorial,getting-started"),
                       ("Quick Start Tutorial", "Education", 90.0, "tutorial,beginner,guided-mode"),
                       ("Advanced Features Demo", "Technology", 120.0, "advanced,ml-lab,power-user")]
    projects = con.execute('SELECT "Status", "ProgressPercent", "BriefJson", "PlanSpecJson", "CreatedBy", "Id" '
                           'FROM "ProjectStates" WHERE "BriefJson" IS NOT NULL ORDER BY "ProgressPercent"').fetchall()
    assert [p[0] for p in projects] == ["Draft", "InProgress", "Completed"]
    assert [p[1] for p in projects] == [10, 55, 100]
    assert all(json.loads(p[2])["topic"] for p in projects)
    assert json.loads(projects[2][3])["sceneCount"] == 9
    assert {p[4] for p in projects} == {"tester"}  # audit fields filled by the model layer
    assert all(p[5] == p[5].upper() for p in projects)  # GUIDs as EF writes them
    templates = con.execute('SELECT "name", "is_system_template", "usage_count", "rating" FROM "templates"').fetchall()
    assert {t[0] for t in templates} == {"Social Media Short", "Educational Explainer", "Product Showcase"}
    assert all(t[1] == 1 and t[2] > 0 and 0 < t[3] <= 5 for t in templates)
    exports = con.execute('SELECT "platform", "status", "file_size", "started_at" < "completed_at" '
                          'FROM "export_history" ORDER BY "platform"').fetchall()
    assert exports == [("Instagram", "Completed", 42_117_000, 1), ("YouTube", "Completed", 248_512_000, 1)]


def test_dev_seed_twice_changes_nothing(cli, db_path):
    assert cli("--db", db_path, "seed").exit_code == 0
    before = dump(db_path)
    r = cli("--db", db_path, "seed", "dev", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["changed"] is False and doc["created"] == {}
    assert doc["existing"]["ProjectStates"] == 6
    assert dump(db_path) == before


def test_dev_seed_leaves_a_soft_deleted_sample_project_alone(cli, db_path):
    assert cli("--db", db_path, "seed").exit_code == 0
    con = sqlite3.connect(db_path)
    con.execute('UPDATE "ProjectStates" SET "IsDeleted" = 1, "DeletedAt" = \'2026-01-01\' WHERE "Status" = \'Draft\'')
    con.commit()
    con.close()
    r = cli("--db", db_path, "seed")
    assert r.exit_code == 0, r  # no duplicate-key error: deleted rows still count as present
    assert count(db_path, "ProjectStates") == 6


def test_reset_without_terminal_is_refused_and_changes_nothing(cli, db_path):
    assert cli("--db", db_path, "seed", "synthetic", "--projects", "3").exit_code == 0
    before = dump(db_path)
    r = cli("--db", db_path, "seed", "--reset")
    assert r.exit_code == 6, r
    assert "--yes" in r.stderr
    assert dump(db_path) == before


def test_reset_with_yes_empties_data_tables_and_reseeds(cli, db_path):
    assert cli("--db", db_path, "seed", "synthetic", "--projects", "3").exit_code == 0
    r = cli("--db", db_path, "seed", "--reset", "--yes", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["deleted"]["ProjectStates"] == 3
    assert count(db_path, "ProjectStates") == 6 and count(db_path, "SceneStates") == 0
    # The rows the app's migrations insert survive.
    assert count(db_path, "system_configuration") == 1
    assert count(db_path, "roles") == 3
    assert count(db_path, "QueueConfiguration") == 1 and count(db_path, "AnalyticsRetentionSettings") == 1


def test_seed_on_a_database_that_is_not_migrated(cli, workdir):
    path = workdir / "empty.db"
    sqlite3.connect(path).close()
    r = cli("--db", path, "seed")
    assert r.exit_code == 1, r
    assert "not migrated" in r.stderr and "aura-db migrate" in r.stderr
    assert "Traceback" not in r.stderr
    con = sqlite3.connect(path)
    assert con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0  # nothing created
    con.close()


def test_seed_with_pending_migrations_is_refused(cli, db_path, migrations_copy):
    (migrations_copy / f"{NEXT:03d}_later.py").write_text(
        '"""Nothing."""\n\ndef migrate(migrator, database, *, fake=False):\n    pass\n')
    r = cli("--db", db_path, "--migrations", migrations_copy, "seed")
    assert r.exit_code == 1, r
    assert f"{NEXT:03d}_later" in r.stderr and "aura-db migrate" in r.stderr
    assert count(db_path, "ProjectStates") == 0


def test_seed_on_a_missing_file_exits_4_and_creates_nothing(cli, workdir):
    r = cli("--db", workdir / "nope.db", "seed")
    assert r.exit_code == 4, r
    assert not (workdir / "nope.db").exists()


# --------------------------------------------------------------------------
# seed synthetic


def test_synthetic_data_is_complete_and_passes_verify(cli, db_path):
    r = cli("--db", db_path, "seed", "synthetic", "--projects", "40", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["created"]["ProjectStates"] == 40
    for table in ("SceneStates", "AssetStates", "ProjectVersions", "ContentBlobs", "export_history",
                  "ActionLogs", "templates", "custom_templates", "Configurations", "user_setup"):
        assert doc["created"].get(table, 0) > 0, table
    assert doc["rows_created"] == sum(doc["created"].values())
    # Deduplicated: fewer blobs than hash references.
    refs = count(db_path, "ProjectVersions") * 5
    assert count(db_path, "ContentBlobs") < refs
    v = cli("--db", db_path, "verify", "--json")
    assert v.exit_code == 0, v
    assert json.loads(v.stdout)["failed"] == []


def test_synthetic_fills_every_table_with_consistent_rows(cli, db_path):
    r = cli("--db", db_path, "seed", "synthetic", "--projects", "20", "--json")
    assert r.exit_code == 0, r
    empty = [t for t in DATA_TABLES if count(db_path, t) == 0]
    assert empty == []
    con = sqlite3.connect(db_path)
    try:
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        # The rows the migrations insert are referenced, not duplicated.
        assert con.execute('SELECT COUNT(*) FROM "roles"').fetchone()[0] == 3
        assert con.execute('SELECT COUNT(*) FROM "QueueConfiguration"').fetchone()[0] == 1
        assert con.execute('SELECT COUNT(*) FROM "AnalyticsRetentionSettings"').fetchone()[0] == 1
        assert con.execute('SELECT COUNT(*) FROM "system_configuration"').fetchone()[0] == 1
        assert con.execute('SELECT COUNT(*) FROM "user_roles" WHERE "role_id" NOT IN '
                           '(SELECT "id" FROM "roles" WHERE "is_system_role")').fetchone()[0] == 0
        # Jobs belong to the synthetic projects; action-log users are real users.
        assert con.execute('SELECT COUNT(*) FROM "UsageStatistics" WHERE "ProjectId" NOT IN '
                           '(SELECT "Id" FROM "ProjectStates")').fetchone()[0] == 0
        assert con.execute('SELECT COUNT(*) FROM "ActionLogs" WHERE "UserId" NOT IN '
                           '(SELECT "id" FROM "users")').fetchone()[0] == 0
        # Every cost row points at the usage row of the same job.
        assert con.execute('SELECT COUNT(*) FROM "CostTracking" c LEFT JOIN "UsageStatistics" u '
                           'ON u."Id" = c."UsageStatisticsId" AND u."JobId" = c."JobId" '
                           'WHERE u."Id" IS NULL').fetchone()[0] == 0
    finally:
        con.close()
    v = cli("--db", db_path, "verify", "--json")
    assert v.exit_code == 0, v


def test_synthetic_is_deterministic_for_a_random_seed(cli, db_path, _migrated_template, workdir):
    other = workdir / "other.db"
    shutil.copy(_migrated_template, other)
    third = workdir / "third.db"
    shutil.copy(_migrated_template, third)
    for path, seed in ((db_path, "7"), (other, "7"), (third, "8")):
        r = cli("--db", path, "seed", "synthetic", "--projects", "10", "--random-seed", seed)
        assert r.exit_code == 0, r
    assert dump(db_path) == dump(other)
    assert dump(db_path)["ProjectStates"] != dump(third)["ProjectStates"]


def test_synthetic_sets_share_preset_blobs_with_correct_counts(cli, db_path):
    assert cli("--db", db_path, "seed").exit_code == 0
    for seed in ("1", "2"):
        r = cli("--db", db_path, "seed", "synthetic", "--projects", "15", "--random-seed", seed)
        assert r.exit_code == 0, r
    v = cli("--db", db_path, "verify", "--json")
    assert v.exit_code == 0, v


def test_same_random_seed_twice_fails_cleanly(cli, db_path):
    assert cli("--db", db_path, "seed", "synthetic", "--projects", "5").exit_code == 0
    before = dump(db_path)
    r = cli("--db", db_path, "seed", "synthetic", "--projects", "5")
    assert r.exit_code == 1, r
    assert "--random-seed" in r.stderr and "Traceback" not in r.stderr
    assert dump(db_path) == before


def test_scene_range_is_respected(cli, db_path):
    r = cli("--db", db_path, "seed", "synthetic", "--projects", "12", "--scenes-per-project", "3-4",
            "--versions-per-project", "2")
    assert r.exit_code == 0, r
    con = sqlite3.connect(db_path)
    per_project = [n for (n,) in con.execute('SELECT COUNT(*) FROM "SceneStates" GROUP BY "ProjectId"')]
    versions = {n for (n,) in con.execute('SELECT COUNT(*) FROM "ProjectVersions" GROUP BY "ProjectId"')}
    assert len(per_project) == 12 and set(per_project) <= {3, 4}
    assert versions == {2}


@pytest.mark.parametrize("args, needle", [
    (["--projects", "0"], "--projects"),
    (["--projects", "many"], "--projects"),
    (["--scenes-per-project", "x"], "--scenes-per-project"),
    (["--scenes-per-project", "9-2"], "--scenes-per-project"),
    (["--versions-per-project", "0"], "--versions-per-project"),
])
def test_bad_synthetic_options_exit_2(cli, db_path, args, needle):
    before = dump(db_path)
    r = cli("--db", db_path, "seed", "synthetic", *args)
    assert r.exit_code == 2, r
    assert needle in r.stderr
    assert dump(db_path) == before


def test_progress_callback_reaches_the_total(db_path):
    from aura_db.seed import SyntheticSpec, seed_synthetic

    seen = []
    spec = SyntheticSpec(projects=7, flush_every=3)
    seed_synthetic(engine_for(f"sqlite:///{db_path}"), default_migrations_dir(), spec,
                   on_progress=lambda done, total: seen.append((done, total)))
    assert seen == [(3, 7), (6, 7), (7, 7)]


def test_synthetic_text_output_names_rows_per_second(cli, db_path):
    r = cli("--db", db_path, "seed", "synthetic", "--projects", "3")
    assert r.exit_code == 0, r
    assert "rows/s" in r.stdout and "ProjectStates" in r.stdout
