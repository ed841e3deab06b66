"""What a new aura-db process loads before it answers: the import budget of start-up.

Every TAB press and every CI gate starts a new process, so what start-up
imports is most of what a user waits for (benchmarks/startup.py has the
times; these tests have none).  Everything goes through Typer; what keeps it
quick is that the root builds only the command it runs, and that command
modules import rich, peewee, the migration runner and the server drivers
inside the functions that need them.  Each test runs a real process and
reads ``sys.modules`` as it exits.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ENTRY = "import sys; sys.argv[0] = 'aura-db'; from aura_db.cli.app import main; main()"
REPO = Path(__file__).resolve().parent.parent

# Heavy to import, and needed by none of the invocations below.
HEAVY = {"rich", "rich.console", "peewee", "playhouse", "peewee_migrate", "psycopg2", "pymysql", "zstandard"}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AURA_DB_", "_AURA_DB_", "_TYPER_", "COMP_"))
           and k not in ("NO_COLOR", "FORCE_COLOR", "DATABASE_URL")}
    env.update(extra)
    return env


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """aura-db as installed (the console script's entry point), output to pipes."""
    return subprocess.run([sys.executable, "-c", ENTRY, *args], cwd=cwd, env=env or _env(),
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def _modules_after(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[set[str], str]:
    """The modules a real aura-db process had loaded when it exited, and its stdout."""
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.__stderr__.write('\\nMODULES ' + ' '.join("
        "n for n, m in sys.modules.items() if m is not None) + '\\n'))\n" + ENTRY.replace("; ", "\n")
    )
    r = subprocess.run([sys.executable, "-c", probe, *args], cwd=cwd, env=env or _env(), capture_output=True,
                       text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stderr.splitlines() if ln.startswith("MODULES "))
    return set(line.split()[1:]), r.stdout


def _tab(line: str, cwd: Path) -> tuple[set[str], list[str]]:
    """What bash sends on TAB after ``line`` (ending in the word being typed): loaded modules, values."""
    env = _env(_AURA_DB_COMPLETE="complete_bash", COMP_WORDS=line, COMP_CWORD=str(line.count(" ")))
    loaded, out = _modules_after(cwd=cwd, env=env)
    return loaded, out.split()


def _command_modules(loaded: set[str]) -> set[str]:
    """The command modules (``aura_db/cli/NAME.py`` of each root command) among ``loaded``."""
    from aura_db.cli.root import ORDER

    return {name for name in ORDER if f"aura_db.cli.{name}" in loaded}


@pytest.fixture
def migrated(workdir) -> Path:
    r = run("-q", "migrate", "--no-backup", cwd=workdir)
    assert r.returncode == 0, r.stderr
    (workdir / "backups").mkdir(exist_ok=True)
    return workdir


# --------------------------------------------------------------------------
# --version and --help


def test_version_is_answered_before_typer_is_imported(workdir):
    loaded, out = _modules_after("--version", cwd=workdir)
    assert not {"typer", *HEAVY} & loaded
    from aura_db import __version__

    assert out == f"aura-db {__version__}\n"


def test_the_short_version_says_what_the_root_option_says(workdir):
    short = run("--version", cwd=workdir)
    full = run("--no-color", "--version", cwd=workdir)  # through Typer and the root's eager option
    assert short.returncode == full.returncode == 0
    assert short.stdout == full.stdout
    assert short.stderr == full.stderr == ""


def test_help_lists_the_commands_without_loading_a_database_module(workdir):
    loaded, out = _modules_after("--help", cwd=workdir)
    assert "status" in out
    assert not {*HEAVY, "aura_db.config", "aura_db.db", "aura_db.migrations"} & loaded


def test_help_of_one_command_builds_only_that_command(workdir):
    loaded, out = _modules_after("status", "--help", cwd=workdir)
    assert "--check" in out
    assert _command_modules(loaded) == {"status"}
    assert not {*HEAVY, "aura_db.migrations"} & loaded


# --------------------------------------------------------------------------
# TAB completion


def test_completing_a_command_name_loads_no_heavy_module(workdir):
    loaded, got = _tab("aura-db st", workdir)
    assert got == ["status"]
    assert not HEAVY & loaded


@pytest.mark.parametrize("line, command", [
    ("aura-db migrate --to ", "migrate"),
    ("aura-db rollback ", "rollback"),
])
def test_completing_a_migration_target_reads_names_only(migrated, line, command):
    loaded, got = _tab(line, migrated)
    assert got and all(name[:3].isdigit() for name in got)
    assert _command_modules(loaded) == {command}
    # Names only: not the migration runner (which hashes every file), no database.
    assert not {*HEAVY, "aura_db.migrations", "aura_db.db"} & loaded


@pytest.mark.parametrize("line, command", [
    ("aura-db restore ", "restore"),
    ("aura-db backup verify ", "backup"),
])
def test_completing_a_backup_file_loads_no_backup_module(migrated, line, command):
    loaded, got = _tab(line, migrated)
    assert got[:1] == ["latest"]
    assert _command_modules(loaded) == {command}
    assert not {*HEAVY, "aura_db.backup", "aura_db.engines.sqlite.backup", "aura_db.migrations"} & loaded


def test_completing_a_table_name_on_sqlite_reads_the_file_without_peewee(migrated):
    loaded, got = _tab("aura-db --db aura.db inspect table s", migrated)
    assert "scenestates" in got
    assert _command_modules(loaded) == {"inspect"}
    assert not {*HEAVY, "aura_db.migrations", "aura_db.inspection", "aura_db.models"} & loaded


# --------------------------------------------------------------------------
# status


@pytest.mark.parametrize("args", [("status",), ("status", "--check"), ("status", "--json")], ids=" ".join)
def test_status_on_sqlite_loads_no_rich_peewee_or_server_driver(migrated, args):
    loaded, out = _modules_after(*args, cwd=migrated)
    assert "001" in out or "up to date" in out or '"up_to_date": true' in out
    assert "aura_db.migrations" in loaded  # it did read the database
    assert _command_modules(loaded) == {"status"}
    assert not HEAVY & loaded


def test_server_drivers_stay_available_for_server_urls(workdir):
    """The SQLite shortcut must not hide a driver from a PostgreSQL run: it
    reaches the connection attempt (exit 4: nothing listens on port 1)."""
    r = run("status", cwd=workdir, env=_env(AURA_DB_URL="postgresql://aura:pw@127.0.0.1:1/aura"))
    assert r.returncode == 4, r.stderr
    assert "pw@" not in r.stderr and "driver" not in r.stderr.lower()


# --------------------------------------------------------------------------
# No generated source in the package


def test_no_generated_source_file_lives_in_the_package():
    """Start-up needs no snapshot of the command tree: what the package holds is written by hand."""
    for path in (REPO / "aura_db").rglob("*.py"):
        head = path.read_text(encoding="utf-8")[:2000].lower()
        assert "do not edit" not in head, f"{path} is generated: build it at package build time or make it data"
