"""Server backups an operator can use by hand: portable MySQL dumps, PostgreSQL compression.

The runbook's step 5c is run as written, with the real `mariadb` client
against the real server.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from aura_db.db import engine_for, parse_url
from tests.conftest import REPO

RUNBOOK = REPO / "docs" / "runbook.md"


def execute(url: str, *statements: str) -> list:
    db = engine_for(parse_url(url)).open()
    try:
        rows: list = []
        for s in statements:
            cur = db.execute_sql(s)
            if cur.description:
                rows = list(cur.fetchall())
        return rows
    finally:
        db.close()


def _step_5c() -> list[str]:
    """The shell lines of runbook step 5c's first block, as an operator would paste them."""
    text = RUNBOOK.read_text(encoding="utf-8")
    section = text[text.index("### 5c."):]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@pytest.fixture
def mysql_home(tmp_path) -> dict[str, str]:
    """An environment whose ~/.my.cnf points the bare `mariadb` client at the test server."""
    url = os.environ.get("AURA_DB_TEST_MYSQL_URL")
    if not url or not shutil.which("mariadb"):
        pytest.skip("needs AURA_DB_TEST_MYSQL_URL and the mariadb client")
    parts = urlsplit(url)
    home = tmp_path / "home"
    home.mkdir()
    lines = ["[client]", "protocol=TCP", f"host={parts.hostname or '127.0.0.1'}", f"port={parts.port or 3306}",
             f"user={parts.username or 'root'}"]
    if parts.password:
        lines.append(f"password={parts.password}")
    (home / ".my.cnf").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (home / ".my.cnf").chmod(0o600)
    return {**os.environ, "HOME": str(home)}


def test_a_mysql_backup_has_no_create_database_or_use(cli, server_url, workdir):
    url = server_url("mysql")
    assert cli("--db", url, "migrate").exit_code == 0
    doc = json.loads(cli("--db", url, "backup", "--json").stdout)
    text = Path(doc["path"]).read_text(encoding="utf-8")
    assert "CREATE TABLE" in text
    assert "CREATE DATABASE" not in text and not re.search(r"^USE ", text, re.M)


def test_runbook_step_5c_as_written_loads_into_aura_restore_not_the_live_database(cli, server_url, workdir,
                                                                                  mysql_home):
    url = server_url("mysql")
    live = urlsplit(url).path.lstrip("/")
    assert cli("--db", url, "migrate").exit_code == 0
    execute(url, "CREATE TABLE `ProjectStates_probe` (Id INTEGER PRIMARY KEY)",
            "INSERT INTO `ProjectStates_probe` VALUES (1), (2), (3)")
    doc = json.loads(cli("--db", url, "backup", "--json").stdout)
    # After the backup the live database moves on; loading the backup must not touch it.
    execute(url, "INSERT INTO `ProjectStates_probe` VALUES (4)")
    restore_db = f"aura_restore_{uuid.uuid4().hex[:8]}"
    dump = workdir / "restore.sql"
    shutil.copy(doc["path"], dump)
    lines = _step_5c()
    assert any("mariadb aura_restore < /tmp/restore.sql" in line for line in lines), lines
    try:
        outputs = []
        for line in lines:
            # Only the names change: a database of this test, the file where it is.
            line = line.replace("aura_restore", restore_db).replace("/tmp/restore.sql", str(dump))
            proc = subprocess.run(["bash", "-o", "pipefail", "-c", line], env=mysql_home, cwd=workdir,
                                  capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, (line, proc.stderr)
            outputs.append(proc.stdout)
        assert outputs[-1].split()[-1] == str(doc["manifest"]["row_counts"]["ProjectStates"])
        restored = execute(url.replace(f"/{live}", f"/{restore_db}"), "SELECT COUNT(*) FROM `ProjectStates_probe`")
        assert restored == [(3,)]  # the backup's rows, in aura_restore
        assert execute(url, "SELECT COUNT(*) FROM `ProjectStates_probe`") == [(4,)]  # the live one untouched
    finally:
        execute(url, f"DROP DATABASE IF EXISTS `{restore_db}`")


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_a_portable_mysql_backup_still_restores_and_verifies_in_full(cli, server_url, workdir, compression):
    url = server_url("mysql")
    assert cli("--db", url, "migrate").exit_code == 0
    execute(url, "CREATE TABLE `Notes` (Id INTEGER PRIMARY KEY)", "INSERT INTO `Notes` VALUES (1), (2)")
    doc = json.loads(cli("--db", url, "backup", "--compress", compression, "--json").stdout)
    execute(url, "DELETE FROM `Notes`")
    r = cli("--db", url, "backup", "verify", doc["file"], "--full", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["ok"] is True, r
    r = cli("--db", url, "restore", doc["file"], "--yes")
    assert r.exit_code == 0, r
    assert execute(url, "SELECT COUNT(*) FROM `Notes`") == [(2,)]


@pytest.fixture
def seeded_postgres(cli, server_url, workdir) -> str:
    url = server_url("postgresql")
    assert cli("--db", url, "migrate").exit_code == 0
    r = cli("--db", url, "seed", "synthetic", "--projects", "200", "--json")
    assert r.exit_code == 0, r
    return url


def test_postgresql_compression_is_never_larger_than_none_and_each_restores(cli, seeded_postgres, workdir):
    url = seeded_postgres
    made = {}
    for compression in ("none", "gzip", "zstd"):
        r = cli("--db", url, "backup", "--compress", compression, "--keep", "10", "--json")
        assert r.exit_code == 0, r
        made[compression] = json.loads(r.stdout)
    sizes = {c: d["manifest"]["size"] for c, d in made.items()}
    assert sizes["gzip"] <= sizes["none"], sizes
    assert sizes["zstd"] <= sizes["none"], sizes
    # gzip is pg_dump's own: a plain custom-format archive that pg_restore reads as it is.
    gz = made["gzip"]
    assert gz["file"].endswith(".dump") and gz["manifest"]["compression"] == "none"
    assert gz["manifest"]["archive_compression"] == "gzip:9"
    assert made["zstd"]["file"].endswith(".dump.zst")
    listed = subprocess.run(["pg_restore", "--list", gz["path"]], capture_output=True, text=True)
    assert listed.returncode == 0 and "TABLE DATA" in listed.stdout
    counts = made["none"]["manifest"]["row_counts"]
    for compression, doc in made.items():
        assert doc["manifest"]["row_counts"] == counts
        r = cli("--db", url, "backup", "verify", doc["file"], "--full", "--json")
        assert r.exit_code == 0 and json.loads(r.stdout)["ok"] is True, (compression, r)
        execute(url, 'DELETE FROM "SceneStates"')
        r = cli("--db", url, "restore", doc["file"], "--yes", "--no-safety-backup")
        assert r.exit_code == 0, (compression, r)
        assert execute(url, 'SELECT count(*) FROM "SceneStates"') == [(counts["SceneStates"],)]
