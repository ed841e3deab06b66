"""backup create / list / verify / prune and the safety backups around migrations (SQLite, in-process)."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import textwrap
from pathlib import Path

import pytest

from aura_db import backup as core
from aura_db.db import engine_for, parse_url
from conftest import HEAD, NEXT, SHIPPED

ADD_TAGS = '''
"""Add ProjectStates.Labels."""
import peewee as pw


def migrate(migrator, database, *, fake=False):
    migrator.add_fields("ProjectStates", labels=pw.TextField(column_name="Labels", null=True))


def rollback(migrator, database, *, fake=False):
    migrator.remove_fields("ProjectStates", "labels")
'''


def sql(db: Path, query: str, *params):
    con = sqlite3.connect(db)
    try:
        rows = con.execute(query, params).fetchall()
        con.commit()
        return rows
    finally:
        con.close()


def add_notes(db: Path, n: int, text: str = "note") -> None:
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE IF NOT EXISTS Notes (Id INTEGER PRIMARY KEY, Body TEXT)")
    con.executemany("INSERT INTO Notes (Body) VALUES (?)", [(f"{text} {i}",) for i in range(n)])
    con.commit()
    con.close()


def notes(db: Path) -> list[str]:
    return [r[0] for r in sql(db, "SELECT Body FROM Notes ORDER BY Id")]


@pytest.fixture
def live(cli, workdir) -> Path:
    """A migrated SQLite database in the working directory with 50 notes."""
    r = cli("migrate")
    assert r.exit_code == 0, r
    db = workdir / "aura.db"
    add_notes(db, 50)
    return db


def backups(workdir: Path) -> list[Path]:
    folder = workdir / "backups"
    return sorted(p for p in folder.iterdir() if not p.name.endswith(".json")) if folder.exists() else []


def backup_json(cli, *args) -> dict:
    r = cli("backup", *args, "--json")
    assert r.exit_code == 0, r
    return json.loads(r.stdout)


# --------------------------------------------------------------------------
# create


@pytest.mark.parametrize("compression,suffix", [("none", ".db"), ("gzip", ".db.gz"), ("zstd", ".db.zst")])
def test_backup_writes_file_and_manifest_that_describe_the_snapshot(cli, live, workdir, compression, suffix):
    doc = backup_json(cli, "--compress", compression, "--label", "nightly")
    path = Path(doc["path"])
    assert path.parent == workdir / "backups"
    assert path.name.startswith("aura_backup_") and path.name.endswith(f"_nightly{suffix}")
    manifest = json.loads((path.parent / f"{path.name}.json").read_text())
    assert manifest["format"] == "aura-db-backup" and manifest["format_version"] == 1
    assert manifest["engine"] == "sqlite"
    assert manifest["source"] == str(live)
    assert manifest["schema_head"] == HEAD
    assert manifest["row_counts"]["Notes"] == 50
    assert manifest["row_counts"]["aura_schema_history"] == len(SHIPPED)
    assert manifest["size"] == path.stat().st_size
    assert manifest["compression"] == compression
    assert manifest["label"] == "nightly"
    assert manifest["created_at"].endswith("Z")
    assert manifest["aura_db_version"]
    import hashlib

    assert manifest["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def damage_page_of(db: Path, name: str) -> None:
    """An invalid b-tree page type on the root page of table or index ``name``: quick_check fails."""
    con = sqlite3.connect(db)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
    con.close()
    with open(db, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xff")


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_manifest_vouches_for_the_content_only_when_quick_check_passed(cli, live, workdir, compression):
    # What restore relies on to skip a second quick_check of the same bytes.
    doc = backup_json(cli, "--compress", compression)
    assert doc["manifest"]["content_check"] == "quick_check"
    damage_page_of(live, "IX_ActionLogs_UserId_Timestamp")
    r = cli("backup", "--compress", compression, "--json")
    assert r.exit_code == 0, r  # a backup of a sick database is still worth having
    doc = json.loads(r.stdout)
    assert "fails quick_check" in doc["warnings"][0]
    assert doc["manifest"]["content_check"] is None


def test_plain_backup_and_backup_create_are_the_same_command(cli, live, workdir):
    assert cli("backup").exit_code == 0
    assert cli("backup", "create", "--label", "two").exit_code == 0
    assert len(backups(workdir)) == 2


def test_backups_and_manifests_are_owner_only_and_folder_is_0700(cli, live, workdir):
    os.umask(0o022)
    doc = backup_json(cli)
    folder = workdir / "backups"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    path = Path(doc["path"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(f"{path}.json").stat().st_mode) == 0o600


def test_a_backup_folder_open_to_others_is_a_warning(cli, live, workdir):
    (workdir / "backups").mkdir(mode=0o700)
    assert backup_json(cli)["warnings"] == []
    os.chmod(workdir / "backups", 0o755)
    doc = backup_json(cli)
    assert any("open to other users (0755)" in w for w in doc["warnings"])
    assert stat.S_IMODE(os.stat(doc["path"]).st_mode) == 0o600


def test_backup_of_a_missing_database_exits_4_and_creates_nothing(cli, workdir):
    r = cli("--db", str(workdir / "nope.db"), "backup")
    assert r.exit_code == 4
    assert r.stderr.startswith("error: ") and "does not exist" in r.stderr
    assert not (workdir / "nope.db").exists()
    assert not (workdir / "backups").exists()


@pytest.mark.parametrize("args,needle", [
    (("--compress", "lzma"), "unknown compression"),
    (("--label", "../etc"), "bad label"),
    (("--keep", "0"), "--keep"),
])
def test_bad_backup_options_exit_2_with_one_line(cli, live, workdir, args, needle):
    r = cli("backup", *args)
    assert r.exit_code == 2, r
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert backups(workdir) == []


def test_json_output_is_exactly_one_document(cli, live):
    r = cli("backup", "--json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)  # raises on anything but one document
    assert doc["manifest"]["row_counts"]["Notes"] == 50


def test_leftovers_of_a_dead_run_are_never_listed_and_are_cleaned_by_the_next(cli, live, workdir):
    folder = workdir / "backups"
    folder.mkdir()
    dead = folder / ".aura_backup_20250101_000000.db.tmp-999999999"
    dead.write_bytes(b"half a backup")
    orphan = folder / "aura_backup_20250101_000000.db.json"
    orphan.write_text("{}")
    os.utime(orphan, (1, 1))  # long past the grace period
    r = cli("backup", "list", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == []
    assert cli("backup").exit_code == 0
    assert not dead.exists() and not orphan.exists()
    assert len(json.loads(cli("backup", "list", "--json").stdout)) == 1


def test_two_backups_in_the_same_second_do_not_overwrite_each_other(live, workdir):
    engine = engine_for(parse_url(str(live)))
    a = core.create_backup(engine, workdir / "backups", keep=None)
    b = core.create_backup(engine, workdir / "backups", keep=None)
    assert a.path != b.path and a.path.exists() and b.path.exists()


def test_a_run_that_picked_a_name_another_run_published_meanwhile_takes_the_next(live, workdir, monkeypatch):
    # Two runs in the same second both find the name free; the one that
    # publishes second must neither replace the other's backup nor its manifest.
    engine = engine_for(parse_url(str(live)))
    first = core.create_backup(engine, workdir / "backups", keep=None)
    before = first.path.read_bytes(), Path(f"{first.path}.json").read_bytes()
    from aura_db.backup import create as create_module

    real = create_module.new_name
    names = iter([first.path.name])
    monkeypatch.setattr(create_module, "new_name", lambda *a, **k: next(names, None) or real(*a, **k))
    add_notes(live, 5, "second")
    second = core.create_backup(engine, workdir / "backups", keep=None)
    assert second.path != first.path and second.manifest.file == second.path.name
    assert (first.path.read_bytes(), Path(f"{first.path}.json").read_bytes()) == before
    assert core.read_manifest(second.path).row_counts["Notes"] == 55
    assert core.verify_backup(second.path).ok and core.verify_backup(first.path).ok
    assert not [p for p in (workdir / "backups").iterdir() if p.name.startswith(".")]


# --------------------------------------------------------------------------
# list


def test_list_shows_newest_first_with_state_and_never_creates_the_folder(cli, live, workdir):
    r = cli("backup", "list", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == []
    assert not (workdir / "backups").exists()
    first = backup_json(cli, "--label", "first")["file"]
    second = backup_json(cli, "--label", "second", "--compress", "zstd")["file"]
    rows = json.loads(cli("backup", "list", "--json").stdout)
    assert [r["file"] for r in rows] == [second, first]
    assert rows[0]["engine"] == "sqlite" and rows[0]["schema_head"] == HEAD
    assert rows[0]["label"] == "second" and rows[0]["state"] == "unchecked"
    checked = json.loads(cli("backup", "list", "--check", "--json").stdout)
    assert {r["state"] for r in checked} == {"ok"}
    human = cli("--no-color", "backup", "list")
    assert human.exit_code == 0 and "second" in human.stdout and "sqlite" in human.stdout


def test_list_marks_a_file_without_manifest(cli, live, workdir):
    doc = backup_json(cli)
    Path(doc["path"] + ".json").unlink()
    rows = json.loads(cli("backup", "list", "--json").stdout)
    assert rows[0]["state"] == "no manifest"


# --------------------------------------------------------------------------
# verify


def flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("compression", ["none", "zstd", "gzip"])
def test_verify_passes_a_good_backup_and_exits_3_on_a_flipped_byte(cli, live, compression):
    path = Path(backup_json(cli, "--compress", compression)["path"])
    r = cli("backup", "verify", path.name, "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["ok"] and doc["checks"]["sha256"] == "ok" and doc["checks"]["content"] == "ok"
    flip_byte(path)
    r = cli("backup", "verify", path.name, "--json")
    assert r.exit_code == 3, r
    assert json.loads(r.stdout)["ok"] is False
    assert "sha256" in r.stderr


def test_verify_catches_rows_missing_from_a_copy_whose_checksum_was_rewritten(cli, live, workdir):
    # A torn copy passes integrity_check with rows silently gone: only the
    # row counts of the manifest tell.
    path = Path(backup_json(cli)["path"])
    sql(path, "DELETE FROM Notes WHERE Id > 40")
    mpath = Path(f"{path}.json")
    manifest = json.loads(mpath.read_text())
    import hashlib

    manifest["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest["size"] = path.stat().st_size
    mpath.write_text(json.dumps(manifest))
    r = cli("backup", "verify", str(path))
    assert r.exit_code == 3, r
    assert "Notes holds 40 rows; the manifest says 50" in r.stderr + r.stdout


def test_verify_all_reports_every_backup_and_exits_3_if_any_is_damaged(cli, live):
    good = Path(backup_json(cli, "--label", "good")["path"])
    bad = Path(backup_json(cli, "--label", "bad")["path"])
    assert cli("backup", "verify", "--all").exit_code == 0
    flip_byte(bad)
    r = cli("backup", "verify", "--all", "--json")
    assert r.exit_code == 3
    by_file = {d["file"]: d["ok"] for d in json.loads(r.stdout)}
    assert by_file == {good.name: True, bad.name: False}


def test_verify_needs_a_file_or_all(cli, live):
    r = cli("backup", "verify")
    assert r.exit_code == 2 and "--all" in r.stderr
    r = cli("backup", "verify", "no_such_backup.db")
    assert r.exit_code == 2 and "not found" in r.stderr


def test_verify_of_a_file_that_is_not_a_backup_exits_3(cli, live, workdir):
    text = workdir / "notes.txt"
    text.write_text("hello")
    r = cli("backup", "verify", str(text))
    assert r.exit_code == 3
    assert "no manifest" in r.stderr


# --------------------------------------------------------------------------
# retention


def test_keep_prunes_the_oldest_and_never_the_backup_just_made(cli, live, workdir):
    made = [backup_json(cli, "--label", f"b{i}", "--keep", "3")["file"] for i in range(5)]
    names = sorted(p.name for p in backups(workdir))
    assert names == sorted(made[-3:])
    doc = backup_json(cli, "--keep", "1")
    assert [p.name for p in backups(workdir)] == [doc["file"]]
    assert len(doc["pruned"]) == 3
    # Manifests go with their backups.
    assert sorted(p.name for p in (workdir / "backups").iterdir()) == sorted([doc["file"], doc["file"] + ".json"])


def test_default_keeps_ten(cli, live, workdir):
    for i in range(12):
        assert cli("backup", "--label", f"n{i}").exit_code == 0
    assert len(backups(workdir)) == 10
    assert not any("_n0." in p.name or "_n1." in p.name for p in backups(workdir))


def test_prune_asks_refuses_without_terminal_and_deletes_with_yes(cli, live, workdir):
    for i in range(4):
        assert cli("backup", "--label", f"p{i}", "--keep", "100").exit_code == 0
    r = cli("backup", "prune", "--keep", "2")
    assert r.exit_code == 6 and "--yes" in r.stderr
    assert len(backups(workdir)) == 4
    r = cli("backup", "prune", "--keep", "2", "--yes", "--json")
    assert r.exit_code == 0
    assert len(json.loads(r.stdout)["deleted"]) == 2
    assert {p.name.split("_")[-1] for p in backups(workdir)} == {"p2.db", "p3.db"}


def test_each_database_sharing_a_folder_keeps_its_own_backups(cli, live, workdir):
    other = workdir / "other.db"
    add_notes(other, 3)
    mine = [backup_json(cli, "--label", f"m{i}", "--keep", "100")["file"] for i in range(3)]
    theirs = [json.loads(cli("--db", str(other), "backup", "--label", f"o{i}", "--keep", "100", "--json").stdout)["file"]
              for i in range(3)]
    # A backup of one database with --keep 1 prunes only that database's older backups.
    doc = backup_json(cli, "--label", "m3", "--keep", "1")
    assert sorted(Path(p).name for p in doc["pruned"]) == sorted(mine)
    assert sorted(p.name for p in backups(workdir)) == sorted(theirs + [doc["file"]])
    # backup prune keeps the newest N of each database.
    r = cli("backup", "prune", "--keep", "2", "--yes", "--json")
    assert r.exit_code == 0, r
    assert [Path(p).name for p in json.loads(r.stdout)["deleted"]] == [theirs[0]]
    assert sorted(p.name for p in backups(workdir)) == sorted(theirs[1:] + [doc["file"]])


def test_a_database_is_known_by_its_file_or_server_port_and_name_not_by_user():
    key = core.database_key
    assert key("postgresql", "postgresql://aura:***@DB.internal/aura") == \
        key("postgresql", "postgresql://ops@db.internal:5432/aura")
    assert key("postgresql", "postgresql://aura@db/aura") != key("postgresql", "postgresql://aura@db/other")
    assert key("mysql", "mysql://a@db:3307/aura") != key("mysql", "mysql://a@db/aura")
    assert key("sqlite", "/srv/aura.db") != key("sqlite", "/srv/other.db")


def test_prune_leaves_files_it_did_not_write(cli, live, workdir):
    assert cli("backup").exit_code == 0
    foreign = workdir / "backups" / "aura_backup_20200101_000000.db"
    foreign.write_bytes(b"someone else's")
    assert cli("backup", "prune", "--keep", "1", "--yes").exit_code == 0
    assert foreign.exists()


# --------------------------------------------------------------------------
# WAL mode


def test_backup_of_a_wal_database_includes_what_is_only_in_the_wal(cli, live, workdir):
    keeper = sqlite3.connect(live)  # keeps the -wal from being checkpointed away on close
    keeper.execute("PRAGMA journal_mode=WAL")
    keeper.execute("PRAGMA wal_autocheckpoint=0")
    keeper.execute("INSERT INTO Notes (Body) VALUES ('only in the wal')")
    keeper.commit()
    try:
        assert os.path.getsize(f"{live}-wal") > 0
        path = Path(backup_json(cli)["path"])
        assert sql(path, "SELECT count(*) FROM Notes") == [(51,)]
        assert sql(path, "PRAGMA journal_mode") == [("delete",)]
        assert cli("backup", "verify", path.name).exit_code == 0
    finally:
        keeper.close()


def test_the_snapshot_of_a_wal_database_is_owner_only_while_it_is_made(cli, live, workdir, monkeypatch):
    import aura_db.backup.files as backup_module

    sql(live, "PRAGMA journal_mode=WAL")
    (workdir / "backups").mkdir(mode=0o755)  # a folder others may look into
    modes = []
    real = backup_module.iter_file

    def spy(path, *args, **kwargs):  # the snapshot file, just before it is stored
        modes.append(stat.S_IMODE(os.stat(path).st_mode))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(backup_module, "iter_file", spy)
    old = os.umask(0o022)
    try:
        backup_json(cli)
    finally:
        os.umask(old)
    assert modes == [0o600]


# --------------------------------------------------------------------------
# Safety backups around migrations


def _log_backups(db: Path) -> list[tuple[str, str | None]]:
    return sql(db, "SELECT command, backup_file FROM aura_migration_log ORDER BY id")


@pytest.fixture
def mig(migrations_copy, monkeypatch):
    monkeypatch.setenv("AURA_DB_MIGRATIONS", str(migrations_copy))
    return migrations_copy


def test_migrate_takes_a_safety_backup_and_records_it_in_the_audit_log(cli, mig, workdir):
    db = workdir / "aura.db"
    assert cli("migrate").exit_code == 0
    assert backups(workdir) == []  # a brand-new database holds nothing to protect
    add_notes(db, 5)
    (mig / f"{NEXT:03d}_add_tags.py").write_text(textwrap.dedent(ADD_TAGS).lstrip())
    r = cli("migrate")
    assert r.exit_code == 0, r
    made = backups(workdir)
    assert len(made) == 1 and "_pre-migrate.db" in made[0].name
    assert _log_backups(db)[-1] == ("migrate", str(made[0]))
    # The safety backup holds the database as it was before 002.
    assert sql(made[0], "SELECT name FROM aura_schema_history") == [(n,) for n in SHIPPED]
    assert sql(made[0], "SELECT count(*) FROM Notes") == [(5,)]
    assert cli("backup", "verify", made[0].name).exit_code == 0


def test_rollback_takes_a_safety_backup_and_records_it(cli, mig, workdir):
    db = workdir / "aura.db"
    (mig / f"{NEXT:03d}_add_tags.py").write_text(textwrap.dedent(ADD_TAGS).lstrip())
    assert cli("migrate").exit_code == 0
    r = cli("rollback", "--yes")
    assert r.exit_code == 0, r
    made = backups(workdir)
    assert len(made) == 1 and "_pre-rollback.db" in made[0].name
    assert _log_backups(db)[-1] == ("rollback", str(made[0]))
    heads = [r[0] for r in sql(made[0], "SELECT name FROM aura_schema_history ORDER BY id")]
    assert heads == [*SHIPPED, f"{NEXT:03d}_add_tags"]


def test_no_backup_skips_the_safety_backup(cli, mig, workdir):
    db = workdir / "aura.db"
    assert cli("migrate").exit_code == 0
    (mig / f"{NEXT:03d}_add_tags.py").write_text(textwrap.dedent(ADD_TAGS).lstrip())
    assert cli("migrate", "--no-backup").exit_code == 0
    assert cli("rollback", "--yes", "--no-backup").exit_code == 0
    assert backups(workdir) == []
    assert [b for _, b in _log_backups(db)] == [None, None, None]


def test_a_failed_safety_backup_stops_migrate_and_says_how_to_go_on(cli, mig, workdir, monkeypatch):
    import errno

    db = workdir / "aura.db"
    assert cli("migrate").exit_code == 0
    (mig / f"{NEXT:03d}_add_tags.py").write_text(textwrap.dedent(ADD_TAGS).lstrip())

    def no_space(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(core.HashingWriter, "copy_from", no_space)
    r = cli("migrate")
    assert r.exit_code == 1, r
    error, hint = r.stderr.strip().splitlines()[-2:]
    assert error.startswith("error: the safety backup (pre-migrate) failed, so nothing was changed: ")
    assert "No space left" in error and "--no-backup" in hint
    assert sql(db, "SELECT name FROM aura_schema_history") == [(n,) for n in SHIPPED]


def test_safety_backup_returns_none_when_there_is_no_database(workdir):
    engine = engine_for(parse_url(str(workdir / "absent.db")))
    assert core.safety_backup(engine, workdir / "backups", label="pre-migrate") is None
    assert not (workdir / "absent.db").exists()


def test_a_full_disk_fails_in_one_line_and_leaves_nothing(cli, live, workdir, monkeypatch):
    import errno

    def no_space(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(core.HashingWriter, "copy_from", no_space)
    r = cli("backup")
    assert r.exit_code == 1, r
    assert r.stderr.startswith("error: cannot write the backup in") and "No space left" in r.stderr
    assert "Traceback" not in r.stderr
    assert list((workdir / "backups").iterdir()) == []


def test_a_database_locked_throughout_fails_clearly_after_the_timeout(cli, live, workdir):
    holder = sqlite3.connect(live, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # as a long write or locking_mode=EXCLUSIVE would
    try:
        r = cli("--db", f"sqlite:///{live}?timeout=0.3", "backup")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.exit_code == 1, r
    assert "stayed locked by another process" in r.stderr and "Traceback" not in r.stderr
    assert backups(workdir) == []


def test_progress_bar_only_on_a_terminal_and_never_in_quiet(monkeypatch):
    import io

    from rich.console import Console

    from aura_db.cli.common import AppState
    from aura_db.cli.render_backup import progress

    def app(terminal: bool, quiet: bool = False) -> tuple[AppState, io.StringIO]:
        buf = io.StringIO()
        state = AppState(flags={}, quiet=quiet)
        # FORCE_COLOR makes rich call any stream a terminal: the bar asks the stream itself.
        state._err = Console(file=buf, force_terminal=True, width=100)
        monkeypatch.setattr(AppState, "stderr_is_terminal", property(lambda self, t=terminal: t))
        return state, buf

    state, buf = app(terminal=True)
    with progress(state, "backup") as cb:
        assert cb is not None
        cb("backup", 50 << 20, 100 << 20)
    assert "backup" in buf.getvalue()
    for terminal, quiet in ((False, False), (True, True)):
        state, buf = app(terminal=terminal, quiet=quiet)
        with progress(state, "backup") as cb:
            assert cb is None
        assert buf.getvalue() == ""
