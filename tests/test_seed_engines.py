"""seed on the server engines: a clash leaves nothing half-written; --reset works."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from aura_db.db import engine_for, parse_url
from aura_db.models import TABLES as ALL_TABLES

TABLES = ["ProjectStates", "SceneStates", "ProjectVersions", "ContentBlobs", "ActionLogs"]


def counts(url: str, tables: list[str] = TABLES) -> dict[str, int]:
    engine = engine_for(parse_url(url))
    db = engine.open()
    q = (lambda t: f"`{t}`") if engine.name == "mysql" else (lambda t: f'"{t}"')
    try:
        return {t: db.execute_sql(f"SELECT COUNT(*) FROM {q(t)}").fetchone()[0] for t in tables}
    finally:
        db.close()


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_server_seed_clash_and_reset(cli, server_url, engine):
    url = server_url(engine)
    r = cli("--db", url, "migrate", "--no-backup")
    if r.exit_code != 0:
        pytest.fail(f"migrate failed on {engine} (not part of seed): {r.stderr}")
    assert cli("--db", url, "seed", "synthetic", "--projects", "8").exit_code == 0
    before = counts(url)
    assert before["ProjectStates"] == 8 and before["ContentBlobs"] > 0

    r = cli("--db", url, "seed", "synthetic", "--projects", "8")  # same random seed: keys clash
    assert r.exit_code == 1, r
    assert "--random-seed" in r.stderr and "Traceback" not in r.stderr
    assert counts(url) == before  # rolled back whole

    r = cli("--db", url, "seed", "--reset")
    assert r.exit_code == 6 and counts(url) == before  # no terminal, no --yes
    r = cli("--db", url, "seed", "--reset", "--yes", "--json")
    assert r.exit_code == 0, r
    assert json.loads(r.stdout)["deleted"]["ProjectStates"] == 8
    after = counts(url)
    assert after["ProjectStates"] == 6 and after["SceneStates"] == 0 and after["ContentBlobs"] == 0


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_server_synthetic_fills_every_table(cli, server_url, engine):
    # The servers enforce every foreign key on insert: a row that broke one would fail the seed.
    url = server_url(engine)
    r = cli("--db", url, "migrate", "--no-backup")
    if r.exit_code != 0:
        pytest.fail(f"migrate failed on {engine} (not part of seed): {r.stderr}")
    r = cli("--db", url, "seed", "synthetic", "--projects", "20")
    assert r.exit_code == 0, r
    got = counts(url, ALL_TABLES)
    assert [t for t, n in got.items() if n == 0] == []
    assert got["roles"] == 3 and got["QueueConfiguration"] == 1 and got["AnalyticsRetentionSettings"] == 1
    r = cli("--db", url, "seed", "synthetic", "--projects", "20", "--random-seed", "43")
    assert r.exit_code == 0, r  # a second data set: shared rows (roles, analytics periods) are not duplicated
    v = cli("--db", url, "verify", "--json")
    assert v.exit_code == 0, v
    # UsageStatistics ids were given (CostTracking points at them): the app's next row still gets a fresh one.
    from aura_db.models import UsageStatistic, bind

    db = engine_for(parse_url(url)).open()
    try:
        bind(db)
        row = UsageStatistic.create(generation_type="Script", provider="OpenAI", timestamp=dt.datetime(2026, 1, 2))
        assert row.id > counts(url, ["UsageStatistics"])["UsageStatistics"] - 1
    finally:
        db.close()
