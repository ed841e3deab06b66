"""Retention by age (issue 15, item 4): --keep-hourly/--keep-daily/--keep-weekly with restic semantics.

Real backups of a real SQLite database, whose manifests are then given the
times of a schedule (``created_at`` is what retention reads); the kept set is
written out by hand for each case, from the rule: keep the newest good backup
of each of the last N hours/days/ISO weeks (UTC) that have one, and the
newest N; a backup kept by any rule is kept.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_subprocess
from tests.test_backup import add_notes, backup_json, flip_byte

AGE_VARS = ("AURA_DB_KEEP_HOURLY", "AURA_DB_KEEP_DAILY", "AURA_DB_KEEP_WEEKLY", "AURA_DB_KEEP_SAFETY")


@pytest.fixture(autouse=True)
def _no_retention_env(monkeypatch):
    for name in AGE_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def live(cli, workdir) -> Path:
    r = cli("migrate")
    assert r.exit_code == 0, r
    db = workdir / "aura.db"
    add_notes(db, 10, "original")
    return db


def set_time(folder: Path, name: str, created_at: str) -> None:
    mpath = folder / f"{name}.json"
    m = json.loads(mpath.read_text())
    m["created_at"] = created_at
    mpath.write_text(json.dumps(m))


def backups_at(cli, live: Path, times: dict[str, str]) -> dict[str, str]:
    """A real backup per entry of ``times`` (tag -> created_at), each of different content; tag -> file name."""
    folder = live.parent / "backups"
    names = {}
    for tag, when in times.items():
        add_notes(live, 1, tag)
        names[tag] = backup_json(cli, "--keep", "1000", "--label", tag.replace("_", "-"))["file"]
        set_time(folder, names[tag], when)
    return names


def prune_json(cli, *args: str) -> dict:
    r = cli("backup", "prune", *args, "--yes", "--json")
    assert r.exit_code == 0, r
    return json.loads(r.stdout)


def on_disk(workdir: Path) -> set[str]:
    return {p.name for p in (workdir / "backups").iterdir() if not p.name.endswith(".json")}


def kept_by(doc: dict, names: dict[str, str]) -> dict[str, list[str]]:
    """tag -> the rules that keep it, for the kept ones."""
    tag_of = {v: k for k, v in names.items()}
    return {tag_of[d["file"]]: d["kept_by"] for d in doc["decisions"] if d["action"] == "keep" and d["file"] in tag_of}


# Newest first.  2026-11-30 is a Monday: ISO week 49; 23-29 Nov is week 48,
# 16-22 Nov week 47, 9-15 Nov week 46, 1 Nov (a Sunday) week 44.
SCHEDULE = {
    "t01": "2026-11-30T09:40:00Z",
    "t02": "2026-11-30T09:10:00Z",  # the same hour as t01
    "t03": "2026-11-30T08:55:00Z",
    "t04": "2026-11-30T01:00:00Z",
    "t05": "2026-11-29T23:30:00Z",  # Sunday: the last of week 48
    "t06": "2026-11-29T12:00:00Z",
    "t07": "2026-11-28T18:00:00Z",
    "t08": "2026-11-25T06:00:00Z",
    "t09": "2026-11-22T06:00:00Z",  # Sunday: the last of week 47
    "t10": "2026-11-16T06:00:00Z",
    "t11": "2026-11-10T06:00:00Z",
    "t12": "2026-11-01T06:00:00Z",
}


@pytest.mark.parametrize(("rules", "expected"), [
    # Every rule together: a backup kept by any rule is kept, and says which.
    (("--keep", "2", "--keep-hourly", "3", "--keep-daily", "3", "--keep-weekly", "3"),
     {"t01": ["last", "hourly", "daily", "weekly"], "t02": ["last"], "t03": ["hourly"], "t04": ["hourly"],
      "t05": ["daily", "weekly"], "t07": ["daily"], "t09": ["weekly"]}),
    # Hours with a backup, not hours on the calendar: 09h, 08h, 01h, then 23h the day before.
    (("--keep", "1", "--keep-hourly", "4"),
     {"t01": ["last", "hourly"], "t03": ["hourly"], "t04": ["hourly"], "t05": ["hourly"]}),
    # Days: the newest of each of the last 5 days that have one (30, 29, 28, 25, 22 Nov).
    (("--keep", "1", "--keep-daily", "5"),
     {"t01": ["last", "daily"], "t05": ["daily"], "t07": ["daily"], "t08": ["daily"], "t09": ["daily"]}),
    # ISO weeks 49, 48, 47, 46, 44: fewer weeks have a backup than asked for - all five kept.
    (("--keep", "1", "--keep-weekly", "10"),
     {"t01": ["last", "weekly"], "t05": ["weekly"], "t09": ["weekly"], "t11": ["weekly"], "t12": ["weekly"]}),
    # Only the count: the newest 3.
    (("--keep", "3"), {"t01": ["last"], "t02": ["last"], "t03": ["last"]}),
])
def test_exactly_the_restic_set_is_kept(cli, live, workdir, rules, expected):
    names = backups_at(cli, live, SCHEDULE)
    doc = prune_json(cli, *rules)
    assert kept_by(doc, names) == expected
    assert sorted(doc["deleted"]) == sorted(names[t] for t in SCHEDULE if t not in expected)
    assert doc["left"] == []
    assert on_disk(workdir) == {names[t] for t in expected}
    # Each deleted one says which kept backup stands for its hour/day/week (None: that rule kept its N).
    for d in doc["decisions"]:
        if d["action"] == "delete":
            assert d["kept_by"] == []
            for rule, instead in d["superseded_by"].items():
                assert instead is None or instead in doc["kept"], (rule, instead)


def test_deleted_backups_name_the_backup_that_stands_for_their_bucket(cli, live, workdir):
    names = backups_at(cli, live, SCHEDULE)
    doc = prune_json(cli, "--keep", "1", "--keep-hourly", "2", "--keep-daily", "2")
    d = {x["file"]: x for x in doc["decisions"]}
    # t02 shares 09h and 30 Nov with t01: both its rules are served by t01.
    assert d[names["t02"]]["superseded_by"] == {"hourly": names["t01"], "daily": names["t01"]}
    # t06 is on 29 Nov, whose newest is t05 (kept by daily); the hourly rule had kept its 2 (09h, 08h).
    assert d[names["t06"]]["superseded_by"] == {"hourly": None, "daily": names["t05"]}
    assert f"day 2026-11-29 kept as {names['t05']}" in d[names["t06"]]["reason"]
    assert doc["rules"] == {"keep": 1, "keep_hourly": 2, "keep_daily": 2, "keep_weekly": 0, "keep_safety": 5}
    assert doc["buckets"] == "UTC"


def test_iso_weeks_cross_the_new_year(cli, live, workdir):
    # 29 Dec 2025 (a Monday) and 4 Jan 2026 are both ISO week 2026-W01; 28 Dec 2025 is 2025-W52.
    names = backups_at(cli, live, {"jan04": "2026-01-04T10:00:00Z", "dec29": "2025-12-29T10:00:00Z",
                                   "dec28": "2025-12-28T10:00:00Z", "dec21": "2025-12-21T10:00:00Z"})
    doc = prune_json(cli, "--keep", "1", "--keep-weekly", "2")
    assert kept_by(doc, names) == {"jan04": ["last", "weekly"], "dec28": ["weekly"]}
    assert sorted(doc["deleted"]) == sorted([names["dec29"], names["dec21"]])
    dec29 = next(x for x in doc["decisions"] if x["file"] == names["dec29"])
    assert dec29["superseded_by"] == {"weekly": names["jan04"]}
    assert "week 2026-W01" in dec29["reason"]


def test_buckets_are_utc_whatever_the_manifest_offset_or_the_local_zone(cli, live, workdir):
    # All of late, mid and early fall on 29 Nov in UTC (00:30 at +02:00 is 22:30 UTC the day before).
    # Local days at UTC+14 would keep "late" and "early"; the dates as written would keep "late" and "mid".
    names = backups_at(cli, live, {"late": "2026-11-30T00:30:00+02:00", "mid": "2026-11-29T11:00:00Z",
                                   "early": "2026-11-29T09:00:00Z", "before": "2026-11-28T09:00:00Z"})
    r = run_subprocess("backup", "prune", "--keep", "1", "--keep-daily", "2", "--yes", "--json", cwd=workdir,
                       env={"TZ": "Pacific/Kiritimati"})  # a real process whose local zone is UTC+14
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert kept_by(doc, names) == {"late": ["last", "daily"], "before": ["daily"]}
    assert sorted(doc["deleted"]) == sorted([names["mid"], names["early"]])


@pytest.mark.parametrize("damage", ["checksum", "truncated"])
def test_a_damaged_backup_never_counts_as_the_kept_one_of_its_bucket(cli, live, workdir, damage):
    names = backups_at(cli, live, {"d1": "2026-11-30T10:00:00Z", "d2": "2026-11-30T08:00:00Z",
                                   "d3": "2026-11-29T10:00:00Z", "d4": "2026-11-29T08:00:00Z",
                                   "d5": "2026-11-28T08:00:00Z"})
    bad = workdir / "backups" / names["d3"]
    if damage == "checksum":
        flip_byte(bad)
    else:
        with open(bad, "r+b") as f:
            f.truncate(bad.stat().st_size // 2)
    doc = prune_json(cli, "--keep", "1", "--keep-daily", "2")
    # d3 is the newest of 29 Nov, but damaged: left alone (not kept, not deleted); d4 stands for the day.
    assert kept_by(doc, names) == {"d1": ["last", "daily"], "d4": ["daily"]}
    assert doc["left"] == [names["d3"]]
    assert sorted(doc["deleted"]) == sorted([names["d2"], names["d5"]])
    assert on_disk(workdir) == {names["d1"], names["d3"], names["d4"]}
    left = next(d for d in doc["decisions"] if d["file"] == names["d3"])
    assert left["action"] == "leave" and "damaged" in left["reason"] and left["kept_by"] == []


def test_a_damaged_newest_backup_leaves_the_newest_good_one_kept_by_every_rule(cli, live, workdir):
    names = backups_at(cli, live, {"n1": "2026-11-30T10:00:00Z", "n2": "2026-11-30T09:00:00Z",
                                   "n3": "2026-11-29T10:00:00Z", "n4": "2026-11-22T10:00:00Z"})
    flip_byte(workdir / "backups" / names["n1"])
    doc = prune_json(cli, "--keep", "1", "--keep-hourly", "1", "--keep-daily", "1", "--keep-weekly", "1")
    assert kept_by(doc, names) == {"n2": ["last", "hourly", "daily", "weekly"]}
    assert doc["left"] == [names["n1"]]
    assert sorted(doc["deleted"]) == sorted([names["n3"], names["n4"]])
    # restore latest still has the good one to put back.
    r = cli("restore", "latest", "--yes", "--no-safety-backup", "--json")
    assert r.exit_code == 0, r
    assert Path(json.loads(r.stdout)["backup"]).name == names["n2"]


def test_safety_backups_are_unaffected_by_the_time_rules(cli, live, workdir):
    from aura_db import backup as core
    from aura_db.db import engine_for

    folder = workdir / "backups"
    names = backups_at(cli, live, {"r1": "2026-11-30T10:05:00Z", "r2": "2026-11-30T09:10:00Z"})
    safety = {}
    for tag, when in {"s1": "2026-11-30T09:30:00Z", "s2": "2026-11-29T09:30:00Z",
                      "s3": "2026-11-20T09:30:00Z"}.items():
        add_notes(live, 1, tag)
        made = core.take_safety_backup(engine_for(str(live)), folder, label="pre-migrate", keep_safety=100)
        assert not made.reused
        safety[tag] = made.path.name
        set_time(folder, made.path.name, when)
    doc = prune_json(cli, "--keep", "1", "--keep-hourly", "24", "--keep-daily", "7", "--keep-weekly", "4",
                     "--keep-safety", "1")
    # s1 is the newest backup of 09h, but a safety one: 09h's regular backup r2 is the one kept for it.
    assert kept_by(doc, names) == {"r1": ["last", "hourly", "daily", "weekly"], "r2": ["hourly"]}
    # Safety backups: their own newest 1, whatever their hours, days and weeks.
    assert kept_by(doc, safety) == {"s1": ["safety"]}
    assert sorted(doc["deleted"]) == sorted([safety["s2"], safety["s3"]])
    for d in doc["decisions"]:
        if d["file"] in safety.values():
            assert d["kind"] == "safety" and d["superseded_by"] == {}


def test_backup_applies_the_time_rules_after_the_new_backup(cli, live, workdir):
    names = backups_at(cli, live, {"a": "2020-06-02T10:00:00Z", "b": "2020-06-02T08:00:00Z",
                                   "c": "2020-06-01T08:00:00Z", "d": "2020-05-31T08:00:00Z"})
    add_notes(live, 1, "now")
    doc = backup_json(cli, "--keep", "1", "--keep-daily", "3")
    # The new one (today) is kept by both rules; then the newest of 2 and 1 June.
    rules = {d["file"]: d["kept_by"] for d in doc["retention"] if d["action"] == "keep"}
    assert rules == {doc["file"]: ["last", "daily"], names["a"]: ["daily"], names["c"]: ["daily"]}
    assert sorted(doc["pruned"]) == sorted([names["b"], names["d"]])
    assert on_disk(workdir) == {doc["file"], names["a"], names["c"]}


def test_backup_never_deletes_the_one_just_taken(cli, live, workdir):
    # Backups dated in the future (a clock set wrong once): every rule prefers them to the new one.
    names = backups_at(cli, live, {"f1": "2099-01-02T10:00:00Z", "f2": "2099-01-01T10:00:00Z"})
    add_notes(live, 1, "now")
    doc = backup_json(cli, "--keep", "1", "--keep-daily", "1")
    decisions = {d["file"]: d for d in doc["retention"]}
    assert decisions[doc["file"]]["action"] == "keep" and decisions[doc["file"]]["kept_by"] == ["new"]
    assert decisions[names["f1"]]["kept_by"] == ["last", "daily"]
    assert doc["pruned"] == [names["f2"]]
    assert (workdir / "backups" / doc["file"]).is_file()


def test_prune_human_output_is_a_table_of_rules_within_80_columns(cli, live, workdir):
    names = backups_at(cli, live, SCHEDULE)
    r = cli("backup", "prune", "--keep", "2", "--keep-hourly", "3", "--keep-daily", "3", "--keep-weekly", "3",
            "--yes", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    assert lines[0].split() == ["created", "(UTC)", "kind", "action", "kept", "by"]
    row = lines[lines.index(f"    {names['t01']}") - 1]
    assert row.split()[-6:] == ["regular", "keep", "last", "hourly", "daily", "weekly"]
    row = lines[lines.index(f"    {names['t06']}") - 1]
    assert row.split()[-2:] == ["regular", "deleted"]
    assert lines[-1] == "5 deleted, 7 kept, 0 left alone"


def test_prune_asks_before_deleting_and_shows_the_plan_on_stderr(cli, live, workdir):
    names = backups_at(cli, live, {"a": "2026-11-29T10:00:00Z", "b": "2026-11-29T08:00:00Z"})
    r = cli("backup", "prune", "--keep", "1", "--keep-daily", "1")
    assert r.exit_code == 6, r
    assert on_disk(workdir) == set(names.values())
    assert "kept by" in r.stderr and names["b"] in r.stderr


@pytest.mark.parametrize("args", [
    ("backup", "prune", "--keep-hourly", "-1", "--yes"),
    ("backup", "prune", "--keep-daily", "many", "--yes"),
    ("backup", "--keep-weekly", "-2"),
    ("backup", "create", "--keep-daily", "1.5"),
])
def test_bad_values_exit_2_in_one_line(cli, live, workdir, args):
    before = on_disk(workdir) if (workdir / "backups").exists() else set()
    r = cli(*args)
    assert r.exit_code == 2, r
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "--keep-" in errors[0], r.stderr
    assert r.exception is None
    assert (on_disk(workdir) if (workdir / "backups").exists() else set()) == before


@pytest.mark.parametrize(("where", "value"), [("env", "-1"), ("env", "two"), ("file", "-3"), ("file", "true"),
                                              ("file", "2.5")])
def test_bad_settings_values_exit_2_naming_the_key(cli, live, workdir, monkeypatch, where, value):
    if where == "env":
        monkeypatch.setenv("AURA_DB_KEEP_DAILY", value)
    else:
        (workdir / "aura-db.toml").write_text(f"keep_daily = {value}\n", encoding="utf-8")
    r = cli("backup", "prune", "--yes", "--json")
    assert r.exit_code == 2, r
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 2 and "keep_daily" in doc["error"]


def test_core_refuses_bad_counts():
    from aura_db.backup import plan_prune
    from aura_db.errors import UsageError

    for kwargs in ({"keep_hourly": -1}, {"keep_daily": True}, {"keep_weekly": 1.5}):
        with pytest.raises(UsageError) as info:
            plan_prune(Path("/nonexistent"), 1, **kwargs)
        assert info.value.exit_code == 2


def test_settings_keys_and_environment_set_the_rules(cli, live, workdir, monkeypatch):
    names = backups_at(cli, live, SCHEDULE)
    # The file (either spelling) and the environment; a flag beats both.
    (workdir / "aura-db.toml").write_text("keep = 1\nkeep_daily = 3\nkeep-weekly = 1\n", encoding="utf-8")
    monkeypatch.setenv("AURA_DB_KEEP_HOURLY", "2")
    r = cli("-v", "backup", "prune", "--yes", "--json")
    assert r.exit_code == 0, r
    explained = r.stderr.splitlines()
    assert f"keep_daily = 3  (file {workdir / 'aura-db.toml'})" in explained
    assert f"keep_weekly = 1  (file {workdir / 'aura-db.toml'})" in explained
    assert "keep_hourly = 2  (env AURA_DB_KEEP_HOURLY)" in explained
    doc = json.loads(r.stdout)
    assert doc["rules"] == {"keep": 1, "keep_hourly": 2, "keep_daily": 3, "keep_weekly": 1, "keep_safety": 5}
    assert kept_by(doc, names) == {"t01": ["last", "hourly", "daily", "weekly"], "t03": ["hourly"],
                                   "t05": ["daily"], "t07": ["daily"]}
    # 0 turns a rule off, from a flag too.
    doc = prune_json(cli, "--keep-daily", "0", "--keep-hourly", "0")
    assert kept_by(doc, names) == {"t01": ["last", "weekly"]}
    assert doc["rules"]["keep_daily"] == 0 and doc["rules"]["keep_hourly"] == 0


def test_settings_default_to_the_time_rules_off(tmp_path):
    from aura_db.config import load_settings

    s = load_settings({}, env={}, cwd=tmp_path)
    assert (s.keep_hourly, s.keep_daily, s.keep_weekly) == (0, 0, 0)
    s = load_settings({}, env={"AURA_DB_KEEP_HOURLY": "24", "AURA_DB_KEEP_DAILY": "7",
                               "AURA_DB_KEEP_WEEKLY": "4"}, cwd=tmp_path)
    assert (s.keep_hourly, s.keep_daily, s.keep_weekly) == (24, 7, 4)
    assert s.with_overrides(keep_daily=1).keep_daily == 1
    with pytest.raises(Exception) as info:
        s.with_overrides(keep_weekly=-1)
    assert getattr(info.value, "exit_code", None) == 2

