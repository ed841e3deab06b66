"""The wheel carries the migrations: an installed aura-db works from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("hatchling", reason="hatchling (the build backend) is in the test extra")
    out = tmp_path_factory.mktemp("dist")
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stderr
    (whl,) = out.glob("aura_db-*.whl")
    return whl


def test_wheel_contains_every_migration_module(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(p.name for p in (REPO / "migrations").glob("[0-9][0-9][0-9]_*.py"))
    assert shipped, "the repository has migration modules"
    for name in shipped:
        assert f"aura_db/_migrations/{name}" in names


def test_installed_package_migrates_from_another_directory(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site))
    env.pop("AURA_DB_MIGRATIONS", None)
    env.pop("AURA_DB_URL", None)
    r = subprocess.run([sys.executable, "-m", "aura_db", "-v", "migrate"], cwd=elsewhere, env=env,
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    # The migrations came from the unpacked wheel, not from this checkout.
    assert f"migrations = {site / 'aura_db' / '_migrations'}" in r.stderr
    assert (elsewhere / "aura.db").exists()
    r = subprocess.run([sys.executable, "-m", "aura_db", "status", "--check"], cwd=elsewhere, env=env,
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr


def test_installed_package_answers_status_and_help_without_typer(wheel, tmp_path):
    """The wheel ships the command snapshot, and it matches the shipped sources."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    assert (site / "aura_db" / "cli" / "_snapshot.py").is_file()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AURA_DB_", "_AURA_DB_"))}
    env["PYTHONPATH"] = str(site)
    entry = ("import atexit, sys; atexit.register(lambda: sys.stderr.write('TYPER=%s' % ('typer' in sys.modules)));"
             "sys.argv[0] = 'aura-db'; from aura_db.cli.app import main; main()")
    for args in (["migrate"], ["status", "--check"], ["--help"]):
        r = subprocess.run([sys.executable, "-c", entry, *args], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        assert r.stderr.endswith("TYPER=%s" % (args == ["migrate"])), (args, r.stderr)
