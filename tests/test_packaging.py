"""The wheel carries the migrations and nothing generated.

An installed aura-db works, and starts lean, from any directory.
"""

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


def test_the_wheel_holds_the_sources_and_nothing_generated(wheel):
    """Start-up needs no build step: every module in the wheel is a file of this source tree."""
    names = [n for n in zipfile.ZipFile(wheel).namelist()
             if n.startswith("aura_db/") and not n.startswith("aura_db/_migrations/") and n.endswith(".py")]
    assert "aura_db/cli/app.py" in names
    assert [n for n in names if not (REPO / n).is_file()] == []


def test_installed_package_starts_lean(wheel, tmp_path):
    """From the unpacked wheel, as from the checkout: `status` and a TAB press load
    no rich, peewee or driver module, and a bare `--version` does not load Typer."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AURA_DB_", "_AURA_DB_", "COMP_"))}
    env["PYTHONPATH"] = str(site)
    heavy = ["typer", "rich", "peewee", "peewee_migrate", "psycopg2", "pymysql"]
    entry = ("import atexit, sys; atexit.register(lambda: sys.stderr.write("
             f"'LOADED=' + ','.join(n for n in {heavy!r} if sys.modules.get(n))));"
             "sys.argv[0] = 'aura-db'; from aura_db.cli.app import main; main()")
    tab = {"_AURA_DB_COMPLETE": "complete_bash", "COMP_WORDS": "aura-db migrate --to ", "COMP_CWORD": "3"}
    out = {}
    for case, args, extra, loaded in (
        ("migrate", ["-q", "migrate"], {}, None),  # whatever it needs
        ("status", ["status", "--check"], {}, "typer"),
        ("tab", [], tab, "typer"),
        ("version", ["--version"], {}, ""),
    ):
        r = subprocess.run([sys.executable, "-c", entry, *args], cwd=tmp_path, env={**env, **extra},
                           capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stderr
        if loaded is not None:
            assert r.stderr.endswith(f"LOADED={loaded}"), (args, r.stderr)
        out[case] = r.stdout
    assert out["tab"].split() == sorted(p.stem for p in (site / "aura_db" / "_migrations").glob("[0-9]*.py"))
    assert out["version"].startswith("aura-db ")
