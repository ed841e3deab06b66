"""Small slips from the contract (issue 13, item 12): each with the case that showed it."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from aura_db.db import engine_for, parse_url
from tests.conftest import FIRST, HEAD, NEXT, NOOP_STEPS, migrations_with


def _error_lines(r) -> list[str]:
    return [line for line in r.stderr.splitlines() if line.startswith("error: ")]


# -- one line for a damaged SQLite backup ------------------------------------


def test_a_failing_quick_check_is_one_error_line(cli, workdir):
    assert cli("migrate").exit_code == 0
    con = sqlite3.connect(workdir / "aura.db")
    con.execute("CREATE TABLE Notes (Id INTEGER PRIMARY KEY, Body TEXT)")
    con.execute("CREATE INDEX IX_Notes_Body ON Notes (Body)")
    con.executemany("INSERT INTO Notes (Body) VALUES (?)", [(f"note {i:06d}",) for i in range(3000)])
    con.commit()
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'IX_Notes_Body'").fetchone()[0]
    page = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    doc = json.loads(cli("backup", "--json").stdout)
    path = Path(doc["path"])
    data = bytearray(path.read_bytes())
    start = (root - 1) * page
    for i in range(start + 100, start + page - 100, 7):  # the index's root page, scrambled
        data[i] ^= 0x55
    path.write_bytes(bytes(data))
    manifest = Path(f"{path}.json")  # the manifest vouches for the damaged bytes: only the content check sees it
    m = json.loads(manifest.read_text())
    m.update(sha256=hashlib.sha256(data).hexdigest(), size=len(data), content_check=None)
    manifest.write_text(json.dumps(m))
    rows = [r[0] for r in sqlite3.connect(path).execute("PRAGMA quick_check")]
    assert "\n" in "\n".join(rows) and len("\n".join(rows).splitlines()) > 3  # SQLite's answer: many lines
    r = cli("backup", "verify", path.name)
    assert r.exit_code == 3, r
    lines = r.stderr.splitlines()
    assert len(_error_lines(r)) == 1 and lines[0].startswith("error: ") and "_check: " in lines[0]
    assert len(lines) <= 2 and (len(lines) == 1 or lines[1].startswith("hint: "))
    assert "more)" in lines[0]  # the first findings, and how many more


def test_an_error_line_is_one_line_whatever_the_message_holds(capsys):
    from aura_db.cli.common import error_line

    error_line("first\nsecond\n\nthird", "a\nhint")
    assert capsys.readouterr().err == "error: first; second; third\nhint: a; hint\n"


# -- usage errors are exit 2, in one line naming what is wrong ---------------


def test_a_settings_file_that_is_not_utf8_is_exit_2_naming_it(cli, workdir):
    (workdir / "aura-db.toml").write_bytes(b'keep = 3\n# caf\xe9\n')
    r = cli("status")
    assert r.exit_code == 2, r
    assert _error_lines(r) == [f"error: {workdir / 'aura-db.toml'}:2: not valid TOML: the file is not UTF-8 (byte 0xe9)"]
    assert "UnicodeDecodeError" not in r.stderr


@pytest.mark.parametrize("where", ["file", "flag"])
def test_an_empty_backup_dir_is_exit_2(cli, workdir, where):
    assert cli("migrate").exit_code == 0
    if where == "file":
        (workdir / "aura-db.toml").write_text('backup_dir = ""\n', encoding="utf-8")
        r = cli("backup")
    else:
        r = cli("--backup-dir", " ", "backup")
    assert r.exit_code == 2, r
    assert "backup_dir" in r.stderr and "empty" in r.stderr
    assert not list(workdir.glob("aura_backup_*"))  # nothing written into the working directory


def test_an_unknown_url_parameter_is_exit_2_on_sqlite(cli, workdir):
    assert cli("migrate").exit_code == 0
    r = cli("--db", f"sqlite:///{workdir / 'aura.db'}?foo=1", "status")
    assert r.exit_code == 2, r
    assert _error_lines(r) == [f"error: unknown parameter 'foo' in the database URL sqlite:///{workdir / 'aura.db'}?foo=1"]
    assert cli("--db", f"sqlite:///{workdir / 'aura.db'}?timeout=5", "status").exit_code == 0


@pytest.mark.parametrize("engine,good", [("postgresql", "connect_timeout=5&application_name=aura"),
                                         ("mysql", "connect_timeout=5")])
def test_an_unknown_url_parameter_is_exit_2_on_servers(cli, server_url, engine, good):
    url = server_url(engine)
    r = cli("--db", f"{url}?foo=1", "status")
    assert r.exit_code == 2, r
    assert "unknown parameter 'foo'" in r.stderr and "TypeError" not in r.stderr and "dsn" not in r.stderr
    r = cli("--db", f"{url}?{good}", "status")
    assert r.exit_code == 0, r


@pytest.mark.parametrize("rows", ["99999999999999999999", "1001"])
def test_inspect_table_rows_out_of_range_is_exit_2(cli, workdir, rows):
    assert cli("migrate").exit_code == 0
    r = cli("inspect", "table", "ProjectStates", "--rows", rows)
    assert r.exit_code == 2, r
    assert "--rows" in _error_lines(r)[0] and "Error" not in r.stderr.replace("error: ", "")


# -- rollback with nothing to undo --------------------------------------------


def test_rollback_to_the_head_is_nothing_to_do_and_says_the_real_head(cli, workdir):
    assert cli("migrate").exit_code == 0
    r = cli("rollback", HEAD, "--yes")
    assert r.exit_code == 0, r
    assert r.stdout == f"nothing to do (head: {HEAD})\n"
    doc = json.loads(cli("rollback", HEAD, "--json").stdout)
    assert doc["from_head"] == doc["to_head"] == HEAD and doc["migrations"] == []


# -- a .py file that is not named NNN_name.py --------------------------------


def test_a_misnamed_migration_file_is_named_by_every_command_that_reads_the_folder(cli, workdir):
    folder = migrations_with(workdir / "m", **{"1_short": NOOP_STEPS})
    (folder / "__init__.py").write_text("", encoding="utf-8")
    (folder / "README.txt").write_text("notes", encoding="utf-8")
    commands = [("migrate",), ("status",), ("migrate", "list"), ("migrate", "--dry-run"), ("verify",),
                ("rollback", "--dry-run"), ("script", "--dialect", "sqlite"), ("migrate", "list", "--json")]
    for args in commands:
        r = cli("--migrations", folder, *args)
        assert r.exit_code in (0, 3), (args, r)
        warned = [line for line in r.stderr.splitlines() if "1_short.py" in line]
        assert len(warned) == 1 and warned[0].startswith("warning: "), (args, r.stderr)
        assert "001_short.py" in warned[0]  # what it would be called
        assert "__init__.py" not in r.stderr and "README" not in r.stderr


# -- MySQL: the statements a half-applied migration left, each once -----------

HALF = """\
def migrate(migrator, database, fake=False):
    database.execute_sql("CREATE TABLE half_one (Id INTEGER PRIMARY KEY)")
    database.execute_sql("SELECT 1")
    database.execute_sql("SELECT COUNT(*) FROM half_one")
    database.execute_sql("CREATE TABLE half_two (Id INTEGER PRIMARY KEY)")
    database.execute_sql("SELECT 2")
    database.execute_sql("SELECT 3")
    database.execute_sql("CREATE TABLE half_one (Id INTEGER PRIMARY KEY)")


def rollback(migrator, database, fake=False):
    pass
"""


def test_mysql_half_migration_lists_each_committed_statement_once(cli, server_url, workdir):
    url = server_url("mysql")
    folder = migrations_with(workdir / "m", **{f"{NEXT:03d}_half": HALF})
    assert cli("--db", url, "--migrations", folder, "migrate", "--to", HEAD).exit_code == 0
    r = cli("--db", url, "--migrations", folder, "migrate", "--no-backup", "--json")
    assert r.exit_code == 1, r
    doc = json.loads(r.stdout)
    assert [p.rstrip(";") for p in doc["partial"]] == ["CREATE TABLE half_one (Id INTEGER PRIMARY KEY)",
                                                       "CREATE TABLE half_two (Id INTEGER PRIMARY KEY)"]
    assert "2 of its statement(s) were committed" in doc["error"]
    db = engine_for(parse_url(url)).open()
    try:
        assert {"half_one", "half_two"} <= set(db.get_tables())
    finally:
        db.close()


# -- files aura-db may not read: exit 2 naming them, not a raw PermissionError --


def _as_nobody(args: list[str], cwd: Path):
    """``python -m aura_db ARGS`` as an unprivileged user (root reads every file whatever its mode)."""
    import os
    import shutil
    import subprocess
    import sys

    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run a command as an unprivileged user")
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           sys.executable, "-m", "aura_db", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "HOME": str(cwd)})


@pytest.fixture
def open_dir():
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="aura-perm-"))
    path.chmod(0o777)
    yield path
    for p in path.rglob("*"):
        p.chmod(0o777)
    import shutil

    shutil.rmtree(path)


def test_an_unreadable_migration_file_or_folder_is_exit_2_naming_it(open_dir):
    folder = migrations_with(open_dir / "m")
    first = folder / f"{FIRST}.py"
    first.chmod(0o000)
    r = _as_nobody(["--db", str(open_dir / "x.db"), "--migrations", str(folder), "status"], open_dir)
    assert r.returncode == 2, r
    assert r.stderr.splitlines()[0] == f"error: cannot read migration {first}: Permission denied"
    first.chmod(0o644)
    folder.chmod(0o000)
    r = _as_nobody(["--db", str(open_dir / "x.db"), "--migrations", str(folder), "status"], open_dir)
    assert r.returncode == 2, r
    assert r.stderr.splitlines()[0] == f"error: cannot read migrations folder {folder}: Permission denied"


def test_an_unreadable_settings_file_is_exit_2_naming_it(open_dir):
    settings = open_dir / "aura-db.toml"
    settings.write_text("keep = 3\n", encoding="utf-8")
    settings.chmod(0o000)
    r = _as_nobody(["status"], open_dir)
    assert r.returncode == 2, r
    assert r.stderr.splitlines()[0] == f"error: cannot read settings file {settings}: Permission denied"
