"""aura-db purge: exactly the rows the Aura data model marks as disposable go, after a safety backup, on every engine."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import sqlite3
import time
import uuid
from pathlib import Path

import peewee as pw
import pytest

from aura_db.db import engine_for, parse_url
from aura_db.fields import JsonField, TimestampField, utcnow

NOW = utcnow()
OLD = NOW - dt.timedelta(days=40)
RECENT = NOW - dt.timedelta(days=5)


def guid() -> str:
    return str(uuid.uuid4()).upper()


def sha(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def open_db(url: str):
    from aura_db.models import bind

    db = engine_for(parse_url(url)).open()
    bind(db)
    return db


def make(model, **values) -> None:
    """Insert one row, filling every required column the test does not care about."""
    row = {}
    for name, f in model._meta.fields.items():
        if name in values:
            row[name] = values[name]
        elif f.null or f.default is not None or isinstance(f, pw.AutoField):
            continue
        elif isinstance(f, TimestampField):
            row[name] = NOW
        elif isinstance(f, JsonField):
            row[name] = "{}"
        elif isinstance(f, pw.BooleanField):
            row[name] = False
        elif isinstance(f, (pw.IntegerField, pw.FloatField, pw.DecimalField)):
            row[name] = 0
        else:
            row[name] = f"{name}-{uuid.uuid4().hex[:8]}"
    model.insert(**row).execute()


def _norm(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def snapshot(url: str) -> dict[str, dict]:
    """Every row of every Aura table: {table: {key: {column: value}}}."""
    from aura_db.models import MODELS

    db = open_db(url)
    q = engine_for(parse_url(url)).dialect.quote
    out: dict[str, dict] = {}
    try:
        for model in MODELS:
            pk = model._meta.primary_key
            names = ([model._meta.fields[n].column_name for n in pk.field_names]
                     if isinstance(pk, pw.CompositeKey) else [pk.column_name])
            cur = db.execute_sql(f"SELECT * FROM {q(model._meta.table_name)}")
            cols = [d[0] for d in cur.description]
            rows = {}
            for r in cur.fetchall():
                rec = {c: _norm(v) for c, v in zip(cols, r)}
                rows[tuple(rec[n] for n in names)] = rec
            out[model._meta.table_name] = rows
    finally:
        db.close()
    return out


def key(value: str) -> tuple:
    return (value,)


def find(rows: dict, wanted: str):
    """The key of ``rows`` equal to ``wanted`` whatever the case (PostgreSQL's uuid is lower-case)."""
    for k in rows:
        if str(k[0]).upper() == wanted.upper():
            return k
    raise KeyError(wanted)


class Scenario:
    """The rows the tests add to a seeded database, and which of them purge must remove."""

    def __init__(self) -> None:
        from aura_db.models import (
            ActionLog, AssetState, ContentBlob, CustomTemplate, MediaCollection, MediaItem, MediaTag, MediaUsage,
            ProjectState, ProjectVersion, RenderCheckpoint, SceneState,
        )

        self.ids = {n: guid() for n in (
            "P_OLD", "P_RECENT", "P_LIVE", "P_NODATE", "S1", "S2", "S3", "A1", "A_TMP_OLD", "A_TMP_NEW",
            "A_KEEP_OLD", "R1", "V1", "V2", "V3", "L_EXP", "L_FUT", "L_NONE", "C_OLD", "M_LIVE", "M_OLD",
            "M_RECENT", "TAG1", "U1", "T_OLD", "T_RECENT")}
        i = self.ids
        self.hashes = {n: sha(n) for n in ("H_ORPHAN", "H1", "HS", "H2", "H3")}
        h = self.hashes
        self.inserts = [
            (ProjectState, dict(id=i["P_OLD"], is_deleted=True, deleted_at=OLD, created_at=OLD - dt.timedelta(days=9))),
            (ProjectState, dict(id=i["P_RECENT"], is_deleted=True, deleted_at=RECENT)),
            (ProjectState, dict(id=i["P_LIVE"])),
            (SceneState, dict(id=i["S1"], project=i["P_OLD"], scene_index=0)),
            (SceneState, dict(id=i["S2"], project=i["P_OLD"], scene_index=1)),
            (SceneState, dict(id=i["S3"], project=i["P_RECENT"], scene_index=0)),
            (AssetState, dict(id=i["A1"], project=i["P_OLD"], created_at=OLD)),
            (AssetState, dict(id=i["A_TMP_OLD"], project=i["P_LIVE"], is_temporary=True, created_at=OLD)),
            (AssetState, dict(id=i["A_TMP_NEW"], project=i["P_LIVE"], is_temporary=True, created_at=RECENT)),
            (AssetState, dict(id=i["A_KEEP_OLD"], project=i["P_LIVE"], is_temporary=False, created_at=OLD)),
            (RenderCheckpoint, dict(id=i["R1"], project=i["P_OLD"])),
            (ContentBlob, dict(content_hash=h["H_ORPHAN"], reference_count=0)),
            (ContentBlob, dict(content_hash=h["H1"], reference_count=1)),
            (ContentBlob, dict(content_hash=h["HS"], reference_count=2)),
            (ContentBlob, dict(content_hash=h["H2"], reference_count=1)),
            (ContentBlob, dict(content_hash=h["H3"], reference_count=1)),
            (ProjectVersion, dict(id=i["V1"], project=i["P_OLD"], version_number=1, brief_hash=h["H1"],
                                  plan_hash=h["HS"])),
            (ProjectVersion, dict(id=i["V2"], project=i["P_LIVE"], version_number=1, brief_hash=h["HS"],
                                  plan_hash=h["H2"])),
            (ProjectVersion, dict(id=i["V3"], project=i["P_LIVE"], version_number=2, timeline_hash=h["H3"],
                                  is_deleted=True, deleted_at=OLD)),
            (ActionLog, dict(id=i["L_EXP"], expires_at=NOW - dt.timedelta(days=1), timestamp=RECENT)),
            (ActionLog, dict(id=i["L_FUT"], expires_at=NOW + dt.timedelta(days=10))),
            (ActionLog, dict(id=i["L_NONE"], expires_at=None)),
            (MediaCollection, dict(id=i["C_OLD"], is_deleted=True, deleted_at=OLD)),
            (MediaItem, dict(id=i["M_LIVE"], collection=i["C_OLD"])),
            (MediaItem, dict(id=i["M_OLD"], is_deleted=True, deleted_at=OLD)),
            (MediaItem, dict(id=i["M_RECENT"], is_deleted=True, deleted_at=RECENT)),
            (MediaTag, dict(id=i["TAG1"], media=i["M_OLD"], tag="old")),
            (MediaUsage, dict(id=i["U1"], media=i["M_OLD"])),
            (CustomTemplate, dict(id=i["T_OLD"], is_deleted=True, deleted_at=OLD)),
            (CustomTemplate, dict(id=i["T_RECENT"], is_deleted=True, deleted_at=RECENT)),
        ]
        # What purge must remove, by table.
        self.removed = {
            "ProjectStates": ["P_OLD"], "SceneStates": ["S1", "S2"], "AssetStates": ["A1", "A_TMP_OLD"],
            "RenderCheckpoints": ["R1"], "ProjectVersions": ["V1", "V3"], "ActionLogs": ["L_EXP"],
            "MediaCollections": ["C_OLD"], "MediaItems": ["M_OLD"], "MediaTags": ["TAG1"], "MediaUsages": ["U1"],
            "custom_templates": ["T_OLD"],
        }
        self.removed_blobs = ["H_ORPHAN", "H1", "H3"]

    def insert(self, url: str) -> None:
        db = open_db(url)
        try:
            with db.atomic():
                for model, values in self.inserts:
                    make(model, **values)
        finally:
            db.close()

    def expected_after(self, before: dict) -> dict:
        after = copy.deepcopy(before)
        for table, names in self.removed.items():
            for n in names:
                del after[table][find(after[table], self.ids[n])]
        for n in self.removed_blobs:
            del after["ContentBlobs"][(self.hashes[n],)]
        # As the database would do it: the kept item loses its link, the shared blob one reference.
        after["MediaItems"][find(after["MediaItems"], self.ids["M_LIVE"])]["CollectionId"] = None
        after["ContentBlobs"][(self.hashes["HS"],)]["ReferenceCount"] -= 1
        return after


@pytest.fixture
def seeded(cli, any_engine_url, workdir):
    url = any_engine_url
    assert cli("--db", url, "migrate").exit_code == 0
    assert cli("--db", url, "seed", "dev").exit_code == 0
    scenario = Scenario()
    scenario.insert(url)
    return url, scenario


def backups(workdir: Path) -> list[Path]:
    folder = workdir / "backups"
    return sorted(p for p in folder.iterdir() if not p.name.endswith(".json")) if folder.is_dir() else []


def test_purge_removes_exactly_the_disposable_rows_after_a_safety_backup(cli, seeded, workdir):
    url, sc = seeded
    before = snapshot(url)
    counts_before = {t: len(rows) for t, rows in before.items()}

    # A dry run: the report per table, nothing changed, no backup.
    r = cli("--db", url, "purge", "--dry-run", "--json")
    assert r.exit_code == 0, r
    plan = json.loads(r.stdout)
    assert plan["dry_run"] is True and plan["safety_backup"] is None
    assert snapshot(url) == before
    assert backups(workdir) == []
    by_table = {t["table"]: t for t in plan["tables"]}
    for table, names in sc.removed.items():
        assert by_table[table]["rows"] == len(names), (table, by_table[table])
    assert by_table["ContentBlobs"]["rows"] == 3
    # Children counted before anything is deleted.
    assert by_table["SceneStates"]["cascaded"] == 2 and by_table["SceneStates"]["matched"] == 0
    assert (by_table["AssetStates"]["matched"], by_table["AssetStates"]["cascaded"]) == (1, 1)
    assert (by_table["ProjectVersions"]["matched"], by_table["ProjectVersions"]["cascaded"]) == (1, 1)
    assert by_table["MediaTags"]["cascaded"] == 1 and by_table["MediaUsages"]["cascaded"] == 1
    assert by_table["MediaItems"]["detached"] == 1
    assert by_table["ContentBlobs"]["recounted"] == 1
    total = sum(len(v) for v in sc.removed.values()) + 3
    assert plan["total_rows"] == total
    # The oldest purged row is P_OLD, made 49 days ago: backups since then may hold purged rows.
    oldest = dt.datetime.fromisoformat(plan["oldest_purged_created_at"].rstrip("Z"))
    assert abs(oldest - (OLD - dt.timedelta(days=9))) <= dt.timedelta(seconds=1)

    r = cli("--db", url, "purge", "--yes", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["ok"] is True and doc["dry_run"] is False
    assert doc["deleted_rows"] == total
    assert {t["table"]: t["deleted"] for t in doc["tables"] if t["rows"]} == \
        {**{t: len(n) for t, n in sc.removed.items()}, "ContentBlobs": 3}
    assert snapshot(url) == sc.expected_after(before)

    # The safety backup was taken before, and holds every purged row.
    safety = Path(doc["safety_backup"])
    assert safety.exists() and "pre-purge" in safety.name
    manifest = json.loads(Path(str(safety) + ".json").read_text())
    assert manifest["kind"] == "safety"
    assert {t: manifest["row_counts"][t] for t in counts_before} == counts_before
    held = [b["file"] for b in doc["backups_holding_purged_rows"]]
    assert safety.name in held and doc["erasure_complete"] is False

    # The app's invariants still hold (reference counts, foreign keys).
    r = cli("--db", url, "verify", "--json")
    assert r.exit_code == 0, r

    # Twice: nothing to do, no new backup.
    n = len(backups(workdir))
    r = cli("--db", url, "purge", "--yes", "--json")
    assert r.exit_code == 0, r
    assert json.loads(r.stdout)["total_rows"] == 0 and len(backups(workdir)) == n


def test_safety_backup_file_holds_the_purged_rows(cli, workdir):
    url = f"sqlite:///{workdir / 'aura.db'}"
    assert cli("--db", url, "migrate").exit_code == 0
    sc = Scenario()
    sc.insert(url)
    doc = json.loads(cli("--db", url, "purge", "--yes", "--json").stdout)
    con = sqlite3.connect(doc["safety_backup"])
    try:
        assert con.execute('SELECT count(*) FROM "ProjectStates" WHERE "Id" = ?', (sc.ids["P_OLD"],)).fetchone()[0] == 1
        assert con.execute('SELECT count(*) FROM "SceneStates" WHERE "ProjectId" = ?', (sc.ids["P_OLD"],)).fetchone()[0] == 2
    finally:
        con.close()
    live = sqlite3.connect(workdir / "aura.db")
    try:
        assert live.execute('SELECT count(*) FROM "SceneStates" WHERE "ProjectId" = ?', (sc.ids["P_OLD"],)).fetchone()[0] == 0
    finally:
        live.close()


def test_without_yes_and_without_a_terminal_exit_6_and_nothing_changes(cli, workdir):
    url = f"sqlite:///{workdir / 'aura.db'}"
    assert cli("--db", url, "migrate").exit_code == 0
    Scenario().insert(url)
    before = snapshot(url)
    r = cli("--db", url, "purge", "--json")
    assert r.exit_code == 6, r
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 6 and "--yes" in doc["hint"]
    assert doc["plan"]["total_rows"] > 0  # what it would have done
    assert snapshot(url) == before and backups(workdir) == []
    r = cli("--db", url, "purge")
    assert r.exit_code == 6 and "needs confirmation" in r.stderr


def test_no_answer_on_a_terminal_changes_nothing(cli, workdir, monkeypatch):
    url = f"sqlite:///{workdir / 'aura.db'}"
    assert cli("--db", url, "migrate").exit_code == 0
    Scenario().insert(url)
    before = snapshot(url)
    from aura_db.cli.common import AppState

    monkeypatch.setattr(AppState, "interactive", property(lambda self: True))
    r = cli("--db", url, "purge", input="n\n")
    assert r.exit_code == 6, r
    assert "Would purge" in r.stdout and "ProjectStates" in r.stdout  # the report came before the question
    assert snapshot(url) == before and backups(workdir) == []


def test_nothing_to_purge_exit_0_and_no_backup(cli, any_engine_url, workdir):
    url = any_engine_url
    assert cli("--db", url, "migrate").exit_code == 0
    assert cli("--db", url, "seed", "dev").exit_code == 0
    r = cli("--db", url, "purge", "--json")  # nothing to confirm either
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["total_rows"] == 0 and doc["safety_backup"] is None and backups(workdir) == []
    r = cli("--db", url, "purge")
    assert r.exit_code == 0 and "nothing to purge" in r.stdout


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", ""])
def test_older_than_must_be_a_whole_number_of_days(cli, workdir, value):
    url = f"sqlite:///{workdir / 'aura.db'}"
    assert cli("--db", url, "migrate").exit_code == 0
    r = cli("--db", url, "purge", "--older-than", value, "--json")
    assert r.exit_code == 2, r
    assert json.loads(r.stdout)["exit_code"] == 2 and "--older-than" in r.stderr
    assert "Traceback" not in r.stderr


def test_older_than_moves_the_line(cli, workdir):
    url = f"sqlite:///{workdir / 'aura.db'}"
    assert cli("--db", url, "migrate").exit_code == 0
    sc = Scenario()
    sc.insert(url)
    # 60 days: the rows deleted 40 days ago stay; only expired logs and orphaned blobs go.
    doc = json.loads(cli("--db", url, "purge", "--older-than", "60", "--dry-run", "--json").stdout)
    rows = {t["table"]: t["rows"] for t in doc["tables"]}
    assert rows.get("ProjectStates", 0) == 0 and rows["ActionLogs"] == 1 and rows["ContentBlobs"] == 1
    # 0 days: the recently deleted ones too.
    doc = json.loads(cli("--db", url, "purge", "--older-than", "0", "--dry-run", "--json").stdout)
    rows = {t["table"]: t["rows"] for t in doc["tables"]}
    assert rows["ProjectStates"] == 2 and rows["SceneStates"] == 3 and rows["AssetStates"] == 3
    assert rows["MediaItems"] == 2 and rows["custom_templates"] == 2


EF_OLD = ["2020-01-02 03:04:05", "2020-01-02 03:04:05.1234567", "2020-01-02T03:04:05",
          "2020-01-02T03:04:05.12Z", "2020-01-02T03:04:05+02:00", "2020-01-02"]
EF_NEW = ["2999-01-02 03:04:05", "2999-01-02 03:04:05.1234567", "2999-01-02T03:04:05Z"]


def test_dates_as_ef_core_writes_them_on_sqlite(cli, workdir):
    url = f"sqlite:///{workdir / 'aura.db'}"
    assert cli("--db", url, "migrate").exit_code == 0
    con = sqlite3.connect(workdir / "aura.db")
    old_ids, new_ids = [], []
    with con:
        for text in [*EF_OLD, *EF_NEW, "yesterday"]:
            pid = guid()
            (old_ids if text in EF_OLD else new_ids).append(pid)
            con.execute(
                'INSERT INTO "ProjectStates" ("Id", "Title", "Status", "CreatedAt", "UpdatedAt", "IsDeleted", '
                '"DeletedAt", "ProgressPercent", "CurrentWizardStep") VALUES (?, ?, ?, ?, ?, 1, ?, 0, 0)',
                (pid, "t", "Draft", text, text, text))
            con.execute(
                'INSERT INTO "ActionLogs" ("Id", "UserId", "ActionType", "Description", "Timestamp", "Status", '
                '"CanBatch", "IsPersistent", "ExpiresAt") VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?)',
                (pid, "u", "Edit", "d", text, "Applied", text))
    con.close()
    r = cli("--db", url, "purge", "--yes", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    by_table = {t["table"]: t for t in doc["tables"]}
    assert by_table["ProjectStates"]["deleted"] == len(EF_OLD)
    assert by_table["ProjectStates"]["undated"] == 1 and by_table["ActionLogs"]["undated"] == 1
    assert any("cannot be read" in w for w in doc["warnings"])
    con = sqlite3.connect(workdir / "aura.db")
    left = {r[0] for r in con.execute('SELECT "Id" FROM "ProjectStates"')}
    logs = {r[0] for r in con.execute('SELECT "Id" FROM "ActionLogs"')}
    con.close()
    assert left == set(new_ids) and logs == set(new_ids)


def test_as_utc_reads_every_format():
    from aura_db.purge import as_utc

    want = dt.datetime(2020, 1, 2, 3, 4, 5)
    assert as_utc("2020-01-02 03:04:05") == want
    assert as_utc("2020-01-02T03:04:05") == want
    assert as_utc("2020-01-02 03:04:05.1234567") == want.replace(microsecond=123456)
    assert as_utc("2020-01-02T05:04:05+02:00") == want
    assert as_utc("2020-01-02T01:04:05-0200") == want
    assert as_utc("2020-01-02T03:04:05Z") == want
    assert as_utc(want.replace(tzinfo=dt.timezone(dt.timedelta(hours=1))) ) == want - dt.timedelta(hours=1)
    assert as_utc(want) == want
    assert as_utc("2020-01-02") == dt.datetime(2020, 1, 2)
    assert as_utc("soon") is None and as_utc(None) is None and as_utc(12345) is None
    assert as_utc("2020-13-45 03:04:05") is None


def test_backups_holding_purged_rows_are_those_made_after_the_oldest_purged_row(cli, workdir):
    from aura_db.models import ActionLog

    url = f"sqlite:///{workdir / 'aura.db'}"
    assert cli("--db", url, "migrate").exit_code == 0
    before = json.loads(cli("--db", url, "backup", "--label", "before", "--json").stdout)["file"]
    time.sleep(1.1)
    db = open_db(url)
    try:
        make(ActionLog, id=guid(), timestamp=utcnow(), expires_at=utcnow() - dt.timedelta(seconds=1))
    finally:
        db.close()
    time.sleep(0.2)
    after = json.loads(cli("--db", url, "backup", "--label", "after", "--json").stdout)["file"]
    dry = json.loads(cli("--db", url, "purge", "--dry-run", "--json").stdout)
    assert [b["file"] for b in dry["backups_holding_purged_rows"]] == [after]
    r = cli("--db", url, "purge", "--yes", "--json")
    doc = json.loads(r.stdout)
    held = [b["file"] for b in doc["backups_holding_purged_rows"]]
    assert Path(doc["safety_backup"]).name in held and after in held and before not in held
    assert doc["erasure_complete"] is False
    r = cli("--db", url, "purge", "--yes")  # the human report says it too
    assert r.exit_code == 0
    r = cli("--db", url, "purge", "--dry-run")
    assert "nothing to purge" in r.stdout


def test_human_report_fits_80_columns_and_names_the_backups(cli, workdir):
    url = f"sqlite:///{workdir / 'aura.db'}"
    assert cli("--db", url, "migrate").exit_code == 0
    Scenario().insert(url)
    r = cli("--db", url, "purge", "--yes", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r
    # A path is printed whole, on a line of its own (cli.md, Output).
    assert all(len(line) <= 80 or line.strip().startswith("/") for line in r.stdout.splitlines()), r.stdout
    assert "Purged" in r.stdout and "pre-purge" in r.stdout and "erasure is complete only once" in r.stdout


def test_batches_recheck_rows_the_app_changed_after_the_report(workdir, monkeypatch):
    """A project restored between the report and the deletion stays; batches are short."""
    from aura_db import purge as core
    from aura_db.policy import SafetyBackup

    url = f"sqlite:///{workdir / 'aura.db'}"
    from typer.testing import CliRunner

    from aura_db.cli.app import app
    assert CliRunner().invoke(app, ["--db", url, "migrate"]).exit_code == 0
    sc = Scenario()
    sc.insert(url)
    engine = engine_for(parse_url(url))

    def app_restores_it(plan) -> None:
        con = sqlite3.connect(workdir / "aura.db")
        with con:
            con.execute('UPDATE "ProjectStates" SET "IsDeleted" = 0, "DeletedAt" = NULL WHERE "Id" = ?',
                        (sc.ids["P_OLD"],))
        con.close()

    from aura_db.migrations import default_migrations_dir

    result = core.purge(engine, default_migrations_dir(), confirm=app_restores_it,
                        safety=SafetyBackup(workdir / "backups", keep_safety=5), backup_dir=workdir / "backups",
                        batch_size=1)
    by_table = {t.table: t for t in result.tables}
    assert by_table["ProjectStates"].rows == 1 and by_table["ProjectStates"].deleted == 0
    assert by_table["SceneStates"].deleted == 0  # its children stay with it
    assert result.batches >= 6  # one matched row per transaction
    con = sqlite3.connect(workdir / "aura.db")
    assert con.execute('SELECT count(*) FROM "SceneStates" WHERE "ProjectId" = ?', (sc.ids["P_OLD"],)).fetchone()[0] == 2
    con.close()


def test_refuses_a_database_not_migrated_to_the_head(cli, workdir):
    url = f"sqlite:///{workdir / 'aura.db'}"
    assert cli("--db", url, "migrate", "--to", "004").exit_code == 0
    r = cli("--db", url, "purge", "--yes", "--json")
    assert r.exit_code == 1, r
    assert "not fully migrated" in json.loads(r.stdout)["error"] and len(r.stderr.strip().splitlines()) <= 2


def test_refuses_a_database_aura_db_does_not_manage(cli, workdir):
    path = workdir / "other.db"
    con = sqlite3.connect(path)
    con.execute('CREATE TABLE "ProjectStates" ("Id" TEXT PRIMARY KEY, "IsDeleted" INTEGER, "DeletedAt" TEXT)')
    con.execute("INSERT INTO \"ProjectStates\" VALUES ('A', 1, '2000-01-01 00:00:00')")
    con.commit()
    con.close()
    r = cli("--db", str(path), "purge", "--yes")
    assert r.exit_code == 3, r
    assert "aura-db adopt" in r.stderr
    con = sqlite3.connect(path)
    assert con.execute('SELECT count(*) FROM "ProjectStates"').fetchone()[0] == 1
    con.close()


def test_waits_for_a_running_migrate_then_exit_5_and_nothing_changes(cli, workdir):
    url = f"sqlite:///{workdir / 'aura.db'}"
    assert cli("--db", url, "migrate").exit_code == 0
    Scenario().insert(url)
    before = snapshot(url)
    engine = engine_for(parse_url(url))
    with engine.migration_lock(None, 1):  # as a migrate in another process holds it
        r = cli("--db", url, "purge", "--yes", "--json", env={"AURA_DB_LOCK_TIMEOUT": "0.3"})
    assert r.exit_code == 5, r
    assert "migration lock" in json.loads(r.stdout)["error"]
    assert snapshot(url) == before and backups(workdir) == []
