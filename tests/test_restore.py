"""restore: round trips, refusals that leave the live database untouched, in-use detection (SQLite)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.test_backup import ADD_TAGS, add_notes, backup_json, backups, damage_page_of, flip_byte, notes, sql
from conftest import HEAD, NEXT


@pytest.fixture
def live(cli, workdir) -> Path:
    r = cli("migrate")
    assert r.exit_code == 0, r
    db = workdir / "aura.db"
    add_notes(db, 20, "original")
    return db


def fingerprint(db: Path) -> bytes:
    return db.read_bytes()


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_round_trip_brings_back_exactly_the_backed_up_rows(cli, live, workdir, compression):
    path = Path(backup_json(cli, "--compress", compression)["path"])
    sql(live, "DELETE FROM Notes WHERE Id % 2 = 0")
    add_notes(live, 3, "later")
    r = cli("restore", path.name, "--yes", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert doc["restored"] is True and doc["pending"] == []
    assert notes(live) == [f"original {i}" for i in range(20)]
    assert sql(live, "PRAGMA integrity_check") == [("ok",)]
    # The safety backup holds what was there before the restore.
    safety = Path(doc["safety_backup"])
    assert "_pre-restore.db" in safety.name
    assert len(notes(safety)) == 10 + 3
    assert cli("backup", "verify", safety.name).exit_code == 0


def test_restore_latest_picks_the_newest(cli, live):
    backup_json(cli, "--label", "old")
    add_notes(live, 1, "newer")
    backup_json(cli, "--label", "new")
    sql(live, "DELETE FROM Notes")
    r = cli("restore", "latest", "--yes", "--no-safety-backup", "--json")
    assert r.exit_code == 0, r
    assert json.loads(r.stdout)["backup"].endswith("_new.db")
    assert len(notes(live)) == 21


def test_no_safety_backup_skips_it(cli, live, workdir):
    backup_json(cli)
    r = cli("restore", "latest", "--yes", "--no-safety-backup", "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["safety_backup"] is None
    assert len(backups(workdir)) == 1


def test_without_terminal_and_without_yes_exit_6_and_nothing_changes(cli, live, workdir):
    backup_json(cli)
    add_notes(live, 2, "after")
    before = fingerprint(live)
    r = cli("restore", "latest")
    assert r.exit_code == 6, r
    assert "--yes" in r.stderr
    assert fingerprint(live) == before
    assert len(backups(workdir)) == 1  # no safety backup either
    assert not [p for p in workdir.iterdir() if p.name.startswith(".aura_stage")]


def test_restore_shows_what_will_happen_before_asking(cli, live):
    backup_json(cli)
    add_notes(live, 2, "after")
    r = cli("--no-color", "restore", "latest", input="n\n")
    assert r.exit_code == 6
    assert f"schema {HEAD}" in r.stderr
    assert "Notes" in r.stderr and "20" in r.stderr and "22" in r.stderr


def test_flipped_byte_refuses_restore_and_leaves_the_live_database(cli, live, workdir):
    path = Path(backup_json(cli)["path"])
    flip_byte(path)
    before = fingerprint(live)
    r = cli("restore", path.name, "--yes")
    assert r.exit_code == 3, r
    assert r.stderr.startswith("error: refusing to restore") and "sha256" in r.stderr
    assert fingerprint(live) == before
    assert len(backups(workdir)) == 1  # no safety backup taken for a restore that cannot happen


def test_flipped_byte_in_compressed_backup_is_refused(cli, live):
    path = Path(backup_json(cli, "--compress", "zstd")["path"])
    flip_byte(path)
    before = fingerprint(live)
    r = cli("restore", path.name, "--yes")
    assert r.exit_code == 3, r
    assert "refusing" in r.stderr
    assert fingerprint(live) == before


def test_a_text_file_is_refused(cli, live, workdir):
    text = workdir / "readme.txt"
    text.write_text("not a backup\n")
    before = fingerprint(live)
    r = cli("restore", str(text), "--yes")
    assert r.exit_code == 3, r
    assert "not an aura-db backup" in r.stderr
    assert fingerprint(live) == before


def test_a_text_file_with_a_forged_manifest_is_refused(cli, live, workdir):
    path = Path(backup_json(cli)["path"])
    path.write_text("garbage\n" * 100)
    m = json.loads(Path(f"{path}.json").read_text())
    import hashlib

    m["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    m["size"] = path.stat().st_size
    Path(f"{path}.json").write_text(json.dumps(m))
    before = fingerprint(live)
    r = cli("restore", path.name, "--yes")
    assert r.exit_code == 3, r
    assert "refusing" in r.stderr and "SQLite" in r.stderr
    assert fingerprint(live) == before


def test_a_missing_file_exits_2(cli, live):
    r = cli("restore", "aura_backup_19990101_000000.db", "--yes")
    assert r.exit_code == 2
    assert "not found" in r.stderr and "Traceback" not in r.stderr


def test_a_backup_of_another_engine_is_refused(cli, live):
    path = Path(backup_json(cli)["path"])
    m = json.loads(Path(f"{path}.json").read_text())
    m["engine"] = "postgresql"
    Path(f"{path}.json").write_text(json.dumps(m))
    r = cli("restore", path.name, "--yes")
    assert r.exit_code == 3 and "postgresql backup" in r.stderr


def test_without_file_and_terminal_lists_backups_on_stderr_and_exits_2(cli, live):
    name = backup_json(cli, "--label", "listed")["file"]
    r = cli("--no-color", "restore")
    assert r.exit_code == 2
    assert "listed" in r.stderr and r.stdout == ""
    assert name[:20] in r.stderr


def test_restore_into_a_database_that_does_not_exist_yet(cli, live, workdir):
    path = Path(backup_json(cli)["path"])
    target = workdir / "fresh.db"
    r = cli("--db", str(target), "restore", str(path), "--yes", "--json")
    assert r.exit_code == 0, r
    assert json.loads(r.stdout)["safety_backup"] is None
    assert len(notes(target)) == 20


def test_latest_is_the_newest_backup_of_this_database_not_of_another_in_the_same_folder(cli, live, workdir):
    other = workdir / "other.db"
    add_notes(other, 3, "other")
    backup_json(cli, "--label", "mine")
    theirs = Path(json.loads(cli("--db", str(other), "backup", "--label", "theirs", "--json").stdout)["path"])
    r = cli("restore", "latest", "--yes", "--no-safety-backup", "--json")
    assert r.exit_code == 0, r
    assert json.loads(r.stdout)["backup"].endswith("_mine.db")
    assert notes(live) == [f"original {i}" for i in range(20)]
    # With only another database's backups, latest is refused, naming them.
    fresh = workdir / "fresh.db"
    r = cli("--db", str(fresh), "restore", "latest", "--yes")
    assert r.exit_code == 2, r
    assert f"no backups of {fresh}" in r.stderr and "of other databases" in r.stderr
    assert not fresh.exists()
    # Named explicitly it is restored, and the plan says whose backup it is.
    r = cli("restore", theirs.name, "--yes", "--no-safety-backup")
    assert r.exit_code == 0, r
    assert f"warning: this is a backup of {other}, not of {live}" in r.stderr
    assert notes(live) == [f"other {i}" for i in range(3)]


def test_restore_says_when_the_database_is_ahead_of_the_migrations_on_disk(cli, migrations_copy, workdir,
                                                                          monkeypatch):
    monkeypatch.setenv("AURA_DB_MIGRATIONS", str(migrations_copy))
    (migrations_copy / f"{NEXT:03d}_add_tags.py").write_text(textwrap.dedent(ADD_TAGS).lstrip())
    assert cli("migrate").exit_code == 0
    backup_json(cli)
    (migrations_copy / f"{NEXT:03d}_add_tags.py").unlink()  # an older checkout of the code
    r = cli("restore", "latest", "--yes", "--no-safety-backup")
    assert r.exit_code == 0, r
    assert f"applied but not among the migrations on disk: {NEXT:03d}_add_tags" in r.stdout
    assert "up to date" not in r.stdout
    r = cli("restore", "latest", "--yes", "--no-safety-backup", "--json")
    doc = json.loads(r.stdout)
    assert doc["not_on_disk"] == [f"{NEXT:03d}_add_tags"] and doc["pending"] == []


@pytest.mark.parametrize("damage", ["pages", "header"])
def test_a_damaged_live_database_is_replaced_and_kept_byte_for_byte_in_the_safety_backup(cli, live, workdir,
                                                                                          damage):
    path = Path(backup_json(cli)["path"])
    with open(live, "r+b") as f:
        if damage == "pages":  # SQLite opens it, then finds it malformed
            f.seek(4096 * 3)
            f.write(os.urandom(4096 * 4))
        else:  # not a database at all any more
            f.write(b"\0" * 100)
    damaged = live.read_bytes()
    r = cli("--no-color", "restore", path.name, "--yes", "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    assert live.read_bytes() == path.read_bytes()
    assert Path(doc["safety_backup"]).read_bytes() == damaged
    assert any("cannot be read" in c for c in doc["caveats"])
    assert sql(live, "PRAGMA integrity_check") == [("ok",)]


def test_a_damaged_live_database_with_a_wal_holding_data_is_left_alone(cli, live, workdir):
    path = Path(backup_json(cli)["path"])
    with open(live, "r+b") as f:
        f.write(b"\0" * 100)
    Path(f"{live}-wal").write_bytes(b"x" * 5000)
    before = fingerprint(live)
    r = cli("restore", path.name, "--yes")
    assert r.exit_code == 1, r
    assert "holds data that may belong to it" in r.stderr and "move both aside" in r.stderr
    assert fingerprint(live) == before and Path(f"{live}-wal").read_bytes() == b"x" * 5000
    assert len(backups(workdir)) == 1


def test_restore_reports_pending_migrations(cli, migrations_copy, workdir, monkeypatch):
    monkeypatch.setenv("AURA_DB_MIGRATIONS", str(migrations_copy))
    assert cli("migrate").exit_code == 0
    backup_json(cli)
    (migrations_copy / f"{NEXT:03d}_add_tags.py").write_text(textwrap.dedent(ADD_TAGS).lstrip())
    assert cli("migrate", "--no-backup").exit_code == 0
    r = cli("restore", "latest", "--yes", "--no-safety-backup")
    assert r.exit_code == 0, r
    assert "1 pending: run aura-db migrate" in r.stdout
    r = cli("restore", "latest", "--yes", "--no-safety-backup", "--json")
    assert json.loads(r.stdout)["pending"] == [f"{NEXT:03d}_add_tags"]


def test_restore_over_a_wal_database_leaves_no_stale_wal(cli, live, workdir):
    path = Path(backup_json(cli)["path"])
    con = sqlite3.connect(live)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("INSERT INTO Notes (Body) VALUES ('in the wal')")
    con.commit()
    con.close()  # the last connection checkpoints: open it again to leave a -wal with data
    con = sqlite3.connect(live)
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("INSERT INTO Notes (Body) VALUES ('in the wal too')")
    con.commit()
    wal = Path(f"{live}-wal")
    assert wal.exists() and wal.stat().st_size > 0
    # The connection above is in this process: close it, as an application would be stopped.
    con.close()
    r = cli("restore", path.name, "--yes")
    assert r.exit_code == 0, r
    assert notes(live) == [f"original {i}" for i in range(20)]
    assert sql(live, "PRAGMA integrity_check") == [("ok",)]
    assert sql(live, "PRAGMA journal_mode") == [("wal",)]  # the database keeps its mode


HOLDER = textwrap.dedent('''
    import sqlite3, sys, time
    con = sqlite3.connect(sys.argv[1])
    con.execute("SELECT count(*) FROM Notes").fetchone()
    print("open", flush=True)
    time.sleep(30)
''')


def test_restore_is_refused_while_another_process_has_the_database_open(cli, live):
    backup_json(cli)
    add_notes(live, 1, "after")
    before = fingerprint(live)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(live)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        r = cli("restore", "latest", "--yes")
        assert r.exit_code == 1, r
        assert "in use by process" in r.stderr and str(holder.pid) in r.stderr
        assert fingerprint(live) == before
    finally:
        holder.kill()
        holder.wait()
    assert cli("restore", "latest", "--yes").exit_code == 0
    assert len(notes(live)) == 20


def test_restore_where_only_a_stale_wal_is_left_removes_it_first(cli, live, workdir):
    path = Path(backup_json(cli)["path"])
    target = workdir / "gone.db"
    # What a deleted database can leave behind: its -wal and -shm.
    Path(f"{target}-wal").write_bytes(b"\x37\x7f\x06\x82" + b"\0" * 4092)
    Path(f"{target}-shm").write_bytes(b"\0" * 32768)
    r = cli("--db", str(target), "restore", str(path), "--yes")
    assert r.exit_code == 0, r
    assert not Path(f"{target}-wal").exists() and not Path(f"{target}-shm").exists()
    assert len(notes(target)) == 20


def test_on_a_terminal_without_file_the_operator_picks_one(cli, live, monkeypatch):
    from aura_db.cli.common import AppState

    older = backup_json(cli, "--label", "older")["file"]
    backup_json(cli, "--label", "newer")
    sql(live, "DELETE FROM Notes")
    monkeypatch.setattr(AppState, "interactive", property(lambda self: True))
    # Backups are listed newest first: 2 is the older one; then confirm.
    r = cli("--no-color", "restore", "--no-safety-backup", input="2\ny\n")
    assert r.exit_code == 0, r
    assert f"restored {older}" in r.stdout
    assert len(notes(live)) == 20


def test_on_a_terminal_answering_no_changes_nothing(cli, live, monkeypatch):
    from aura_db.cli.common import AppState

    backup_json(cli)
    sql(live, "DELETE FROM Notes")
    before = fingerprint(live)
    monkeypatch.setattr(AppState, "interactive", property(lambda self: True))
    r = cli("restore", "latest", input="n\n")
    assert r.exit_code == 6, r
    assert fingerprint(live) == before


def test_latest_means_the_newest_backup_of_this_engine(cli, live):
    own = backup_json(cli, "--label", "own")["file"]
    other = Path(backup_json(cli, "--label", "other")["path"])
    m = json.loads(Path(f"{other}.json").read_text())
    m["engine"] = "postgresql"
    Path(f"{other}.json").write_text(json.dumps(m))
    r = cli("restore", "latest", "--yes", "--no-safety-backup", "--json")
    assert r.exit_code == 0, r
    assert json.loads(r.stdout)["backup"].endswith(own)


def test_a_full_disk_while_staging_changes_nothing(cli, live, workdir, monkeypatch):
    import errno

    backup_json(cli)
    before = fingerprint(live)

    def no_space(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    # Every write of the staged copy fails, as on a full disk.
    monkeypatch.setattr(os, "pwrite", no_space)
    r = cli("restore", "latest", "--yes")
    assert r.exit_code == 1, r
    assert "No space left" in r.stderr and "nothing changed" in r.stderr
    assert fingerprint(live) == before
    assert not [p for p in workdir.iterdir() if p.name.startswith(".aura_stage")]


def test_restore_puts_back_the_backup_byte_for_byte(cli, live):
    path = Path(backup_json(cli)["path"])
    add_notes(live, 5, "later")
    r = cli("restore", path.name, "--yes", "--no-safety-backup")
    assert r.exit_code == 0, r
    assert live.read_bytes() == path.read_bytes()


def test_restore_refuses_a_backup_whose_manifest_lies_about_row_counts(cli, live):
    # The checksum is the manifest's own word; the rows are counted in the
    # backup itself, by restore as by verify.
    path = Path(backup_json(cli)["path"])
    mpath = Path(f"{path}.json")
    m = json.loads(mpath.read_text())
    m["row_counts"]["Notes"] += 1
    mpath.write_text(json.dumps(m))
    before = fingerprint(live)
    r = cli("restore", path.name, "--yes")
    assert r.exit_code == 3, r
    assert "Notes holds 20 rows; the manifest says 21" in r.stderr
    assert fingerprint(live) == before
    r = cli("backup", "verify", path.name)
    assert r.exit_code == 3, r
    assert "Notes holds 20 rows; the manifest says 21" in r.stderr + r.stdout


def _rewrite_manifest(path: Path, **changes) -> None:
    import hashlib

    mpath = Path(f"{path}.json")
    m = json.loads(mpath.read_text())
    m.update(sha256=hashlib.sha256(path.read_bytes()).hexdigest(), size=path.stat().st_size, **changes)
    mpath.write_text(json.dumps(m))


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_the_content_is_quick_checked_whatever_the_manifest_says(cli, live, monkeypatch, compression):
    from aura_db.engines.sqlite import files as sqlite_files

    path = Path(backup_json(cli, "--compress", compression)["path"])
    assert json.loads(Path(f"{path}.json").read_text())["content_check"] == "quick_check"
    calls = []
    real = sqlite_files.check_sqlite_file

    def spy(p, *, full, pragma=True):
        calls.append(pragma)
        return real(p, full=full, pragma=pragma)

    monkeypatch.setattr(sqlite_files, "check_sqlite_file", spy)
    r = cli("restore", path.name, "--yes", "--no-safety-backup")
    assert r.exit_code == 0, r
    assert calls == [True]


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_a_damaged_backup_with_a_forged_manifest_is_refused(cli, live, workdir, compression):
    # Anyone who can write to the folder can recompute sha256 and size and
    # claim content_check: the manifest is no proof.
    path = Path(backup_json(cli, "--compress", compression)["path"])
    if compression == "zstd":
        import zstandard

        raw = workdir / "raw.db"
        raw.write_bytes(zstandard.ZstdDecompressor().decompress(path.read_bytes(), max_output_size=1 << 30))
        damage_page_of(raw, "IX_ActionLogs_UserId")
        path.write_bytes(zstandard.ZstdCompressor().compress(raw.read_bytes()))
        raw.unlink()
    else:
        damage_page_of(path, "IX_ActionLogs_UserId")
    _rewrite_manifest(path, content_check="quick_check")
    assert cli("backup", "verify", path.name).exit_code == 3
    before = fingerprint(live)
    r = cli("restore", path.name, "--yes")
    assert r.exit_code == 3, r
    assert r.stderr.startswith("error: refusing to restore") and "quick_check" in r.stderr
    assert len(r.stderr.splitlines()) == 1  # SQLite's multi-line report, on one line
    assert fingerprint(live) == before
    assert not [p for p in workdir.iterdir() if p.name.startswith(".aura_stage")]


def test_a_backup_nothing_vouches_for_is_quick_checked_and_refused_when_damaged(cli, live, workdir):
    path = Path(backup_json(cli)["path"])
    damage_page_of(path, "IX_ActionLogs_UserId")
    _rewrite_manifest(path, content_check=None)
    before = fingerprint(live)
    r = cli("restore", path.name, "--yes")
    assert r.exit_code == 3, r
    assert r.stderr.startswith("error: refusing to restore") and "quick_check" in r.stderr
    assert fingerprint(live) == before
    assert len(backups(workdir)) == 1
    assert not [p for p in workdir.iterdir() if p.name.startswith(".aura_stage")]


def test_a_backup_of_a_database_that_failed_quick_check_is_refused(cli, live, workdir):
    damage_page_of(live, "IX_ActionLogs_UserId")
    path = Path(backup_json(cli)["path"])
    before = fingerprint(live)
    r = cli("restore", path.name, "--yes")
    assert r.exit_code == 3, r
    assert "quick_check" in r.stderr
    assert fingerprint(live) == before


def test_a_backup_written_to_while_it_is_restored_is_refused(cli, live, workdir, monkeypatch):
    # The copy holds the bytes read before the write (their checksum matches),
    # but the integrity check may have read the file after it: refused.
    path = Path(backup_json(cli)["path"])
    before = fingerprint(live)
    real = os.preadv

    def preadv(fd, buffers, offset):
        n = real(fd, buffers, offset)
        if offset == 0:
            with open(path, "r+b") as f:
                f.seek(200)
                b = f.read(1)
                f.seek(200)
                f.write(bytes([b[0] ^ 0xFF]))
        return n

    monkeypatch.setattr(os, "preadv", preadv)
    r = cli("restore", path.name, "--yes")
    assert r.exit_code == 3, r
    assert "changed while it was read" in r.stderr
    assert fingerprint(live) == before
    assert not [p for p in workdir.iterdir() if p.name.startswith(".aura_stage")]


def test_a_failing_look_at_the_live_database_stops_the_restore_before_anything_changes(cli, live, workdir,
                                                                                        monkeypatch):
    from aura_db.engines.sqlite.backup import SqliteBackup
    from aura_db.errors import AuraError

    def broken(self):
        raise AuraError("cannot read the live database")

    monkeypatch.setattr(SqliteBackup, "live_summary", broken)
    backup_json(cli)
    before = fingerprint(live)
    r = cli("restore", "latest", "--yes")
    assert r.exit_code == 1, r
    assert "cannot read the live database" in r.stderr
    assert fingerprint(live) == before
    assert len(backups(workdir)) == 1  # no safety backup
    assert not [p for p in workdir.iterdir() if p.name.startswith(".aura_stage")]


# --------------------------------------------------------------------------
# the staging copy: copy_verified


def _copy(tmp_path: Path, data: bytes, total: int | None = None) -> tuple[str, bytes]:
    from aura_db import backup as core

    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(data)
    s = os.open(src, os.O_RDONLY)
    d = core.open_new_for_copy(dst)
    try:
        digest = core.copy_verified(s, d, len(data) if total is None else total)
        os.fsync(d)
    finally:
        os.close(s)
        os.close(d)
    return digest, dst.read_bytes()


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 2 << 20, (3 << 20) + 513, (33 << 20) + 4096])
def test_copy_verified_writes_every_byte_and_hashes_exactly_them(tmp_path, size):
    import hashlib

    data = os.urandom(size)
    digest, copied = _copy(tmp_path, data)
    assert copied == data
    assert digest == hashlib.sha256(data).hexdigest()
    assert (tmp_path / "dst").stat().st_mode & 0o777 == 0o600


def _o_direct() -> int:
    flag = getattr(os, "O_DIRECT", 0)
    if not flag:
        pytest.skip("no O_DIRECT on this platform")
    return flag


def test_copy_verified_goes_through_the_page_cache_where_o_direct_writes_are_refused(tmp_path, monkeypatch):
    import errno
    import fcntl
    import hashlib

    flag = _o_direct()
    probe = os.open(tmp_path / "probe", os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(probe)
    try:
        os.close(os.open(tmp_path / "probe", os.O_WRONLY | flag))
    except OSError:
        pytest.skip("this file system has no O_DIRECT")
    refused: list[int] = []
    real = os.pwrite

    def pwrite(fd, data, offset):
        if fcntl.fcntl(fd, fcntl.F_GETFL) & flag:
            refused.append(offset)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)
    data = os.urandom((5 << 20) + 100)
    digest, copied = _copy(tmp_path, data)
    assert refused  # the direct path was tried, refused, and the copy still whole
    assert copied == data
    assert digest == hashlib.sha256(data).hexdigest()


def test_open_new_for_copy_without_o_direct_in_the_file_system(tmp_path, monkeypatch):
    import errno
    import fcntl

    from aura_db import backup as core

    flag = _o_direct()
    real = os.open

    def no_direct(path, flags, mode=0o777):
        if flags & flag:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(path, flags, mode)

    monkeypatch.setattr(os, "open", no_direct)
    fd = core.open_new_for_copy(tmp_path / "x")
    try:
        assert not fcntl.fcntl(fd, fcntl.F_GETFL) & flag
    finally:
        os.close(fd)

    def denied(path, flags, mode=0o777):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(PermissionError):
        core.open_new_for_copy(tmp_path / "y")


def test_copy_verified_refuses_a_source_shorter_than_announced(tmp_path):
    from aura_db.errors import AuraError

    with pytest.raises(AuraError, match="shrank"):
        _copy(tmp_path, b"x" * 10_000, total=(4 << 20))


def test_a_write_error_part_way_stops_the_copy_and_is_raised(tmp_path, monkeypatch):
    import errno

    real = os.pwrite
    calls = [0]

    def pwrite(fd, data, offset):
        calls[0] += 1
        if calls[0] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)
    with pytest.raises(OSError) as exc:
        _copy(tmp_path, os.urandom(40 << 20))
    assert exc.value.errno == errno.ENOSPC


def test_the_checksum_is_of_what_was_written_even_if_the_source_changes_meanwhile(tmp_path, monkeypatch):
    import hashlib

    data = os.urandom(6 << 20)
    src = tmp_path / "src"
    real = os.preadv

    def preadv(fd, buffers, offset):
        n = real(fd, buffers, offset)
        if offset == 0:  # after the first block is read, the first and the last change on disk
            with open(src, "r+b") as f:
                f.write(b"\0" * 4096)
                f.seek(-4096, 2)
                f.write(b"\0" * 4096)
        return n

    monkeypatch.setattr(os, "preadv", preadv)
    digest, copied = _copy(tmp_path, data)
    assert copied[:4096] == data[:4096] and copied[-4096:] == b"\0" * 4096
    assert digest == hashlib.sha256(copied).hexdigest()
