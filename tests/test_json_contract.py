"""--json always answers: one document on stdout, on failure too (cli.md "Output").

A failure's document has "ok": false, "error" (the line on stderr), "exit_code"
and whatever the command made before it stopped; a success's has "ok": true.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aura_db.db import engine_for, parse_url
from tests.conftest import FIRST, HEAD, NEXT, migrations_with, run_subprocess

FAILING = ("def migrate(migrator, database, fake=False):\n"
           "    database.execute_sql('CREATE TABLE boom_first (id INTEGER PRIMARY KEY)')\n"
           "    raise RuntimeError('boom in the middle')\n\n\n"
           "def rollback(migrator, database, fake=False):\n    pass\n")
INTERRUPTING = ("def migrate(migrator, database, fake=False):\n"
                "    raise KeyboardInterrupt\n\n\n"
                "def rollback(migrator, database, fake=False):\n    pass\n")
NOOP = ("def migrate(migrator, database, fake=False):\n    pass\n\n\n"
        "def rollback(migrator, database, fake=False):\n    pass\n")


def _doc(r) -> dict:
    """The one JSON document on stdout; its "error" is the line on stderr."""
    doc = json.loads(r.stdout)  # exactly one document: json.loads rejects anything after it
    if isinstance(doc, dict) and doc.get("ok") is False:
        errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
        assert errors == [f"error: {doc['error']}"], (errors, doc)
        assert doc["exit_code"] == r.exit_code
    return doc


def _env(workdir: Path, migrations: Path) -> dict[str, str]:
    return {"AURA_DB_URL": f"sqlite:///{workdir / 'aura.db'}", "AURA_DB_MIGRATIONS": str(migrations),
            "AURA_DB_BACKUP_DIR": str(workdir / "backups"), "PATH": os.environ["PATH"]}


def test_ci_md_migrate_json_jq_backup_gives_the_safety_backup_of_a_failed_run(workdir):
    """docs/ci.md, as written: `aura-db migrate --json | jq -r .backup` (and `.backup // empty`)."""
    folder = migrations_with(workdir / "m", **{f"{NEXT:03d}_breaks": FAILING})
    env = _env(workdir, folder)
    first = run_subprocess("migrate", "--to", HEAD, cwd=workdir, env=env)
    assert first.returncode == 0, first.stderr
    aura = f"{sys.executable} -m aura_db"
    for jq in ("jq -r .backup", "jq -r '.backup // empty'"):
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", f"{aura} migrate --json | {jq}"], cwd=workdir,
                              env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1, proc  # the migration failed: pipefail keeps aura-db's code
        path = proc.stdout.strip()
        assert path and path != "null", proc
        assert Path(path).is_file() and Path(path).parent == workdir / "backups"
        assert "boom in the middle" in proc.stderr
    # The whole document: what the run made, beside the error.
    r = run_subprocess("migrate", "--json", cwd=workdir, env=env)
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 1 == r.returncode
    assert f"\nerror: {doc['error']}\n" in f"\n{r.stderr}"
    assert doc["migration"] == f"{NEXT:03d}_breaks" and doc["migrations"] == []
    assert Path(doc["backup"]).is_file()


def test_success_documents_say_ok_true_and_keep_their_fields(cli, workdir):
    doc = _doc(cli("migrate", "--json"))
    assert doc["ok"] is True and doc["migrations"] and doc["backup"] is None
    doc = _doc(cli("status", "--json"))
    assert doc["ok"] is True and doc["reachable"] is True and doc["drift"] is False
    doc = _doc(cli("backup", "--json"))
    assert doc["ok"] is True and doc["file"]
    assert isinstance(_doc(cli("backup", "list", "--json")), list)  # `.[0].file` keeps working


def test_unreachable_database_is_a_document_with_exit_4(cli, workdir):
    r = cli("--db", str(workdir / "nowhere.db"), "inspect", "--json")
    doc = _doc(r)
    assert r.exit_code == 4 and doc["ok"] is False and "does not exist" in doc["error"]
    r = cli("--db", str(workdir / "nowhere.db"), "status", "--json")
    doc = _doc(r)
    assert r.exit_code == 4 and doc["reachable"] is False and doc["head"] is None  # status keeps its keys
    assert not (workdir / "nowhere.db").exists()


def test_usage_errors_after_json_was_read_are_documents_with_exit_2(cli, workdir):
    assert cli("migrate").exit_code == 0
    r = cli("migrate", "--json", "--to", "nope")
    assert r.exit_code == 2 and "unknown migration target" in _doc(r)["error"]
    r = cli("backup", "--json", "--keep", "0")  # the parser's own error, after --json
    doc = _doc(r)
    assert r.exit_code == 2 and "--keep" in doc["error"]
    r = cli("rollback", "--json", "--steps", "1", "--all", "--yes")
    assert r.exit_code == 2 and _doc(r)["ok"] is False


@pytest.mark.parametrize("args", [("backup", "--keep", "0", "--json"),
                                  ("backup", "prune", "--keep-hourly", "-1", "--json")])
def test_a_bad_value_before_json_is_a_document_too(cli, workdir, args):
    r = cli(*args)  # the parser refuses the value before it reads --json
    doc = _doc(r)
    assert r.exit_code == 2 and doc["ok"] is False and doc["exit_code"] == 2 and args[-3] in doc["error"]


def test_refusal_is_a_document_with_exit_6(cli, workdir):
    assert cli("migrate").exit_code == 0
    r = cli("rollback", "--json")  # no terminal, no --yes
    doc = _doc(r)
    assert r.exit_code == 6 and "needs confirmation" in doc["error"] and doc["hint"].startswith("pass --yes")


def test_lock_timeout_is_a_document_with_exit_5(cli, workdir):
    import fcntl

    assert cli("migrate", "--to", FIRST).exit_code == 0
    engine = engine_for(parse_url(f"sqlite:///{workdir / 'aura.db'}"))
    fd = os.open(engine.lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        r = cli("migrate", "--json", "--lock-timeout", "0")
    finally:
        os.close(fd)
    doc = _doc(r)
    assert r.exit_code == 5 and "lock" in doc["error"]


def test_a_failing_check_is_one_document_with_the_report(cli, workdir):
    folder = migrations_with(workdir / "m", **{f"{NEXT:03d}_noop": NOOP})
    assert cli("--migrations", folder, "migrate", "--to", HEAD).exit_code == 0
    r = cli("--migrations", folder, "status", "--check", "--json")
    doc = _doc(r)
    assert r.exit_code == 3 and doc["ok"] is False and doc["pending"] == [f"{NEXT:03d}_noop"]


def test_interrupted_run_is_a_document_with_exit_130_and_what_it_did(cli, workdir):
    folder = migrations_with(workdir / "m", **{f"{NEXT:03d}_noop": NOOP, f"{NEXT + 1:03d}_ctrl_c": INTERRUPTING})
    assert cli("--migrations", folder, "migrate", "--to", HEAD).exit_code == 0
    r = cli("--migrations", folder, "migrate", "--json")
    doc = _doc(r)
    assert r.exit_code == 130 and doc["ok"] is False and "interrupted" in doc["error"]
    assert doc["migrations"] == [f"{NEXT:03d}_noop"]  # committed before the Ctrl-C
    assert Path(doc["backup"]).is_file()


def test_without_json_a_failure_writes_nothing_on_stdout(cli, workdir):
    r = cli("migrate", "--to", "nope")
    assert r.exit_code == 2 and r.stdout == ""


@pytest.mark.parametrize("args", [("status", "--json"), ("status", "--check", "--json")])
def test_the_fast_status_path_answers_in_json_too(workdir, args):
    r = run_subprocess("--db", str(workdir / "none.db"), *args, cwd=workdir)
    doc = json.loads(r.stdout)
    assert r.returncode == 4 == doc["exit_code"] and doc["ok"] is False and doc["reachable"] is False


def test_a_restore_that_fails_after_its_safety_backup_names_it_in_json(cli, server_url, workdir):
    from tests.test_backup_engines import execute

    url = server_url("postgresql")
    assert cli("--db", url, "migrate").exit_code == 0
    execute(url, 'CREATE TABLE "Notes" ("Id" INTEGER PRIMARY KEY, "Body" TEXT)',
            'INSERT INTO "Notes" SELECT g, \'n\' FROM generate_series(1, 50) g')
    doc = json.loads(cli("--db", url, "backup", "--json").stdout)
    # A view the archive does not know depends on Notes: --clean cannot drop it, the restore fails.
    execute(url, 'CREATE VIEW "NotesView" AS SELECT * FROM "Notes"')
    r = cli("--db", url, "restore", doc["file"], "--yes", "--json")
    if r.exit_code == 0:
        pytest.skip("this server's pg_restore handled the dependent view")
    failed = _doc(r)
    assert r.exit_code == 1 and failed["ok"] is False and "rolled back" in failed["error"]
    assert Path(failed["safety_backup"]).is_file()


def test_a_usage_error_raised_before_the_command_read_its_settings_is_a_document(cli, workdir):
    r = cli("backup", "verify", "--json")  # neither FILE nor --all
    doc = _doc(r)
    assert r.exit_code == 2 and "--all" in doc["error"]
