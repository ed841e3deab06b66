"""Human tables fit the output's width (cli.md, Output): COLUMNS without a terminal, 80 when unset.

No line is wider, except a line holding one path or file name alone (a thing
to copy whole); the facts an operator needs stay on screen.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import HEAD

LONG_LABEL = "pre-deploy-release-2026-11"


@pytest.fixture
def folder(cli, workdir):
    assert cli("migrate").exit_code == 0
    assert cli("seed").exit_code == 0
    made = []
    for args in ((), ("--label", LONG_LABEL, "--compress", "zstd"), ("--label", "nightly", "--compress", "gzip")):
        r = cli("backup", *args, "--json")
        assert r.exit_code == 0, r
        made.append(json.loads(r.stdout)["file"])
    return made


COMMANDS = [("backup", "list"), ("backup", "verify", "--all"), ("backup", "prune", "--keep", "10", "--yes"),
            ("status",), ("migrate", "list"), ("inspect",), ("inspect", "table", "ProjectVersions"),
            ("inspect", "table", "Configurations", "--rows", "2"), ("inspect", "config"), ("verify",),
            ("restore",)]


def _too_wide(text: str, width: int) -> list[str]:
    """Lines past the width, but for one whole path or name alone, and the one-line error/hint/warning."""
    return [line for line in text.splitlines() if len(line) > width and " " in line.strip()
            and not line.startswith(("error: ", "hint: ", "warning: "))]


@pytest.mark.parametrize("width", [60, 80, 120, None])
def test_every_human_table_fits_the_width(cli, folder, width, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    env = {"COLUMNS": str(width)} if width else {}
    limit = width or 80  # unset and no terminal: 80
    for args in COMMANDS:
        r = cli("--no-color", *args, env=env)
        assert r.exit_code in (0, 2), (args, r)  # restore without FILE and terminal: the list, exit 2
        assert not _too_wide(r.stdout, limit), (args, _too_wide(r.stdout, limit))
        assert not _too_wide(r.stderr, limit), (args, _too_wide(r.stderr, limit))


@pytest.mark.parametrize("width", [60, 80])
def test_backup_list_keeps_the_facts_and_whole_file_names(cli, folder, width):
    r = cli("--no-color", "backup", "list", env={"COLUMNS": str(width)})
    lines = r.stdout.splitlines()
    for name in folder:
        assert name in [line.strip() for line in lines], name  # whole, on a line of its own
    assert any(n.endswith(".db.zst") for n in folder) and any(n.endswith(".db.gz") for n in folder)
    header = next(line for line in lines if line.lstrip().startswith("#"))
    for fact in ("created", "age", "size", "engine", "label", "state"):
        assert fact in header, (fact, header)
    rows = [line for line in lines if re.match(r"\s*\d+ ", line)]
    assert len(rows) == 3
    for row in rows:
        assert re.search(r"\d\d-\d\d \d\d:\d\d", row) and " ago" in row and "KB" in row
        assert "sqlite" in row and "size ok" in row
    assert any("nightly" in row for row in rows)
    assert any("pre-deploy" in row for row in rows)


def test_the_restore_picker_lists_whole_file_names_at_80(cli, folder):
    r = cli("--no-color", "restore", env={"COLUMNS": "80"})
    assert r.exit_code == 2
    stripped = [line.strip() for line in r.stderr.splitlines()]
    for name in folder:
        assert name in stripped
    assert not _too_wide(r.stderr, 80)


def test_backup_verify_never_cuts_the_compression_suffix(cli, folder):
    r = cli("--no-color", "backup", "verify", "--all", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r
    for name in folder:
        assert re.search(rf"^{re.escape(name)}$", r.stdout, re.M), name


def test_inspect_config_keeps_each_value_on_one_line(cli, folder):
    r = cli("--no-color", "inspect", "config", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r
    assert "= YouTube 1080p" in r.stdout  # not folded over three lines
    assert "Render.HardwareAcceleration" in r.stdout and "Providers.OpenAI.ApiKey" in r.stdout


def test_migrate_list_and_status_keep_names_whole_at_60(cli, folder):
    r = cli("--no-color", "migrate", "list", env={"COLUMNS": "60"})
    assert HEAD in r.stdout and "applied" in r.stdout
    r = cli("--no-color", "status", env={"COLUMNS": "60"})
    assert f"head       {HEAD}" in r.stdout and "up to date" in r.stdout
