"""inspect on the server engines (PostgreSQL, MySQL/MariaDB), against real servers."""

from __future__ import annotations

import json

import pytest

from conftest import HEAD

WIDE = {"COLUMNS": "250"}
SECRET = "sk-dev-placeholder-not-a-real-key"


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_inspect_on_a_server(cli, server_url, engine):
    url = server_url(engine)
    r = cli("--db", url, "migrate", "--no-backup")
    if r.exit_code != 0:
        pytest.fail(f"migrate failed on {engine} (not part of inspect): {r.stderr}")
    assert cli("--db", url, "seed").exit_code == 0

    r = cli("--db", url, "inspect", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["engine"] == engine and doc["head"] == HEAD
    assert doc["facts"]["page_size"] > 0 and doc["facts"]["database_size_bytes"] > 0
    assert doc["health"]["connections"] >= 1 and doc["health"]["max_connections"] >= 1
    tables = {t["name"]: t for t in doc["tables"]}
    assert tables["ProjectStates"]["rows"] == 6 and tables["ProjectStates"]["indexes"] == 11
    assert tables["ProjectStates"]["data_bytes"] is not None

    r = cli("--db", url, "inspect", "table", "ProjectStates", "--json")
    assert r.exit_code == 0, r
    d = json.loads(r.stdout)
    assert d["primary_key"] == ["Id"]
    assert {fk["table"] for fk in d["foreign_keys_in"]} == {"SceneStates", "AssetStates", "RenderCheckpoints",
                                                           "ProjectVersions"}
    assert all(fk["on_delete"] == "CASCADE" for fk in d["foreign_keys_in"])

    # JSON columns (jsonb on PostgreSQL) come back as their text in sample rows.
    r = cli("--db", url, "inspect", "table", "ProjectStates", "--rows", "6", "--json")
    assert r.exit_code == 0, r
    briefs = [json.loads(row["BriefJson"]) for row in json.loads(r.stdout)["sample_rows"] if row["BriefJson"]]
    assert len(briefs) == 3 and all(b["topic"] for b in briefs)

    r = cli("--db", url, "inspect", "table", "Nope")
    assert r.exit_code == 2 and "ProjectStates" in r.stderr

    for args in (("inspect", "config"), ("inspect", "config", "--json"),
                 ("inspect", "table", "Configurations", "--rows", "10"),
                 ("inspect", "table", "Configurations", "--rows", "10", "--json")):
        r = cli("--db", url, *args, env=WIDE)
        assert r.exit_code == 0, r
        assert SECRET not in r.stdout + r.stderr, args
        shown = cli("--db", url, *args, "--show-sensitive", env=WIDE)
        assert SECRET in shown.stdout, args


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_health_figures_on_a_server(server_url, engine):
    from aura_db.db import engine_for
    from aura_db.inspection import health

    got = health(engine_for(server_url(engine)))
    assert 0 <= got["latency_ms"] < 1000
    assert 1 <= got["connections"] <= got["max_connections"]
