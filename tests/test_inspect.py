"""aura-db inspect: overview, one table, configuration rows, and masking on every path."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from aura_db.db import engine_for
from aura_db.migrations import default_migrations_dir, migrate
from conftest import HEAD

# Wide enough that no value is folded across lines, so a substring test sees it whole.
WIDE = {"COLUMNS": "250"}
SECRET = "sk-dev-placeholder-not-a-real-key"  # the dev data set's sensitive value


@pytest.fixture(scope="session")
def _dev_template(tmp_path_factory) -> Path:
    from aura_db.seed import seed_dev

    path = tmp_path_factory.mktemp("inspect") / "aura.db"
    engine = engine_for(f"sqlite:///{path}")
    migrate(engine, default_migrations_dir())
    seed_dev(engine, default_migrations_dir())
    return path


@pytest.fixture
def db_path(_dev_template, workdir) -> Path:
    path = workdir / "aura.db"
    shutil.copy(_dev_template, path)
    return path


def test_overview_reports_engine_facts_and_every_table(cli, db_path):
    r = cli("--db", db_path, "inspect", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["engine"] == "sqlite" and doc["head"] == HEAD
    assert doc["facts"]["page_size"] > 0 and doc["facts"]["journal_mode"]
    assert doc["facts"]["file_size_bytes"] == db_path.stat().st_size
    assert doc["health"]["latency_ms"] >= 0
    tables = {t["name"]: t for t in doc["tables"]}
    assert tables["ProjectStates"]["rows"] == 6 and tables["ProjectStates"]["indexes"] == 11
    assert tables["ProjectVersions"]["indexes"] == 8
    assert tables["ProjectStates"]["size_exact"] is True and tables["ProjectStates"]["data_bytes"] > 0
    assert sum(t["indexes"] for n, t in tables.items() if not n.startswith("aura_")) == 146


def test_overview_text(cli, db_path):
    r = cli("--db", db_path, "inspect")
    assert r.exit_code == 0, r
    for needle in ("sqlite", "page size", "journal mode", HEAD, "ProjectStates", "export_history"):
        assert needle in r.stdout


def test_sizes_without_dbstat_are_estimates_and_say_so(cli, db_path, monkeypatch):
    from aura_db.engines.sqlite.catalog import SqliteCatalog

    real_rows = SqliteCatalog.rows

    def no_dbstat(self, sql, params=()):
        if "dbstat" in sql:
            raise sqlite3.OperationalError("no such table: dbstat")
        return real_rows(self, sql, params)

    monkeypatch.setattr(SqliteCatalog, "rows", no_dbstat)
    r = cli("--db", db_path, "inspect", "--json")
    assert r.exit_code == 0, r
    t = {t["name"]: t for t in json.loads(r.stdout)["tables"]}["ProjectStates"]
    assert t["size_exact"] is False and "estimate" in t["size_source"] and t["data_bytes"] > 0
    text = cli("--db", db_path, "inspect")
    assert "~" in text.stdout and "estimate" in text.stderr


def test_table_detail(cli, db_path):
    r = cli("--db", db_path, "inspect", "table", "ProjectStates", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["rows"] == 6 and doc["primary_key"] == ["Id"]
    cols = {c["name"]: c for c in doc["columns"]}
    assert cols["Title"]["type"] == "TEXT" and cols["Title"]["nullable"] is False  # as EF declares it
    assert cols["Description"]["nullable"] is True
    assert "IX_ProjectStates_Status_UpdatedAt" in {i["name"] for i in doc["indexes"]}
    assert {fk["table"] for fk in doc["foreign_keys_in"]} == {"SceneStates", "AssetStates", "RenderCheckpoints",
                                                             "ProjectVersions"}
    assert doc["foreign_keys_out"] == [] and doc["sample_rows"] == []


def test_table_detail_text_with_sample_rows(cli, db_path):
    r = cli("--db", db_path, "inspect", "table", "scenestates")  # any letter case
    assert r.exit_code == 0, r
    assert "SceneStates.ProjectId" in r.stdout and "CASCADE" in r.stdout
    r = cli("--db", db_path, "inspect", "table", "Templates", "--rows", "2")  # the app's templates, any case
    assert r.exit_code == 0, r
    assert "Row 2 of 2" in r.stdout and "Row 3" not in r.stdout


def test_unknown_table_exits_2_naming_the_tables(cli, db_path):
    r = cli("--db", db_path, "inspect", "table", "Projects")
    assert r.exit_code == 2, r
    assert "Projects" in r.stderr and "ProjectStates" in r.stderr and "ActionLogs" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_negative_row_count_exits_2(cli, db_path):
    r = cli("--db", db_path, "inspect", "table", "Templates", "--rows", "-1")
    assert r.exit_code == 2, r
    assert "--rows" in r.stderr


def test_config_masks_sensitive_values(cli, db_path):
    r = cli("--db", db_path, "inspect", "config", "--json")
    assert r.exit_code == 0, r
    assert SECRET not in r.stdout and SECRET not in r.stderr
    doc = json.loads(r.stdout)
    rows = {row["Key"]: row for row in doc["rows"]}
    assert rows["Providers.OpenAI.ApiKey"]["Value"] == "********"
    assert rows["General.Theme"]["Value"] == "Dark"  # only sensitive values are masked
    assert doc["masked"] == 1
    text = cli("--db", db_path, "inspect", "config", env=WIDE)
    assert text.exit_code == 0 and SECRET not in text.stdout + text.stderr
    assert "Providers.OpenAI.ApiKey" in text.stdout and "masked" in text.stderr


def test_config_show_sensitive(cli, db_path):
    for extra in ((), ("--json",)):
        r = cli("--db", db_path, "inspect", "config", "--show-sensitive", *extra, env=WIDE)
        assert r.exit_code == 0, r
        assert SECRET in r.stdout


@pytest.mark.parametrize("extra", [(), ("--json",)])
def test_sample_rows_mask_sensitive_values(cli, db_path, extra):
    r = cli("--db", db_path, "inspect", "table", "Configurations", "--rows", "50", *extra, env=WIDE)
    assert r.exit_code == 0, r
    assert SECRET not in r.stdout + r.stderr
    assert "********" in r.stdout
    shown = cli("--db", db_path, "inspect", "table", "Configurations", "--rows", "50", "--show-sensitive", *extra,
                env=WIDE)
    assert SECRET in shown.stdout


def test_masking_survives_other_spellings_of_true(cli, db_path):
    con = sqlite3.connect(db_path)
    con.execute("UPDATE \"Configurations\" SET \"IsSensitive\" = 'true' WHERE \"Key\" = 'Providers.OpenAI.ApiKey'")
    con.commit()
    con.close()
    r = cli("--db", db_path, "inspect", "config", "--json")
    assert SECRET not in r.stdout


def test_config_on_unmigrated_database(cli, workdir):
    path = workdir / "empty.db"
    sqlite3.connect(path).close()
    r = cli("--db", path, "inspect", "config")
    assert r.exit_code == 1, r
    assert "aura-db migrate" in r.stderr


def test_inspect_missing_database_exits_4(cli, workdir):
    r = cli("--db", workdir / "nope.db", "inspect")
    assert r.exit_code == 4, r
    assert not (workdir / "nope.db").exists()


def test_inspect_unmigrated_database_says_so(cli, workdir):
    path = workdir / "empty.db"
    sqlite3.connect(path).close()
    r = cli("--db", path, "inspect", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["head"] is None and doc["tables"] == []


@pytest.mark.parametrize("command", [
    ["seed"], ["seed", "dev"], ["seed", "synthetic"], ["verify"], ["inspect"], ["inspect", "table"],
    ["inspect", "config"],
])
def test_every_command_has_help_with_an_example(cli, command):
    r = cli(*command, "--help")
    assert r.exit_code == 0, r
    assert "Example:" in r.stdout and "--json" in r.stdout


def test_health_figures_for_sqlite(db_path):
    from aura_db.inspection import health

    got = health(engine_for(f"sqlite:///{db_path}"))
    assert got["latency_ms"] >= 0 and got["connections"] is None
