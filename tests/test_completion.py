"""Shell completion, driven the way a shell drives it: a new process per TAB.

Each test sets Typer's completion variables (what the scripts in
completions/ send) and runs aura-db as a real process, so the entry point,
lazy command loading and the value completers are all exercised.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import HEAD, MIGRATIONS, NEXT, NOOP_STEPS, REPO, SHIPPED, migrations_with

ENTRY = "import sys; sys.argv[0] = 'aura-db'; from aura_db.cli.app import main; main()"


def _load_generator():
    spec = importlib.util.spec_from_file_location("completions_generate", REPO / "completions" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def complete(words: str, cwd: Path, *, shell: str = "bash", prelude: str = "") -> subprocess.CompletedProcess:
    """What aura-db answers when TAB is pressed after ``words`` (ending in the word being typed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AURA_DB_", "_AURA_DB_", "_TYPER_"))}
    env.pop("DATABASE_URL", None)
    env["_AURA_DB_COMPLETE"] = f"complete_{shell}"
    if shell == "bash":
        env["COMP_WORDS"] = words
        env["COMP_CWORD"] = str(len(words.split(" ")) - 1)
    else:
        env["_TYPER_COMPLETE_ARGS"] = words
        if shell == "fish":
            env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    return subprocess.run([sys.executable, "-c", prelude + ENTRY], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def values(proc: subprocess.CompletedProcess) -> list[str]:
    assert proc.returncode == 0, proc
    assert proc.stderr == "", proc.stderr  # nothing may reach the shell's screen
    return proc.stdout.split()


@pytest.fixture
def two_migrations(tmp_path) -> Path:
    return migrations_with(tmp_path / "mig",
                           **{f"{NEXT:03d}_add_tags": '"""Tags (an empty step for completion tests)."""\n\n\n' + NOOP_STEPS})


# --------------------------------------------------------------------------
# The checked-in scripts


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish", "powershell"])
def test_checked_in_script_matches_what_the_code_generates(shell):
    gen = _load_generator()
    path = REPO / "completions" / gen.FILES[shell]
    assert path.is_file(), f"{path} is missing: run python completions/generate.py"
    assert path.read_text(encoding="utf-8") == gen.generate(shell), (
        f"{path.name} is out of date: run python completions/generate.py"
    )


def test_scripts_register_for_the_installed_command_name():
    gen = _load_generator()
    for shell, name in gen.FILES.items():
        text = (REPO / "completions" / name).read_text(encoding="utf-8")
        assert "_AURA_DB_COMPLETE=complete_" in text or '"complete_powershell"' in text, shell
        assert "aura-db" in text and "python -m" not in text, shell


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_completes_when_autoloaded_and_registers_when_sourced(tmp_path):
    """README installs `_aura-db` on $fpath, where compinit autoloads the file
    as the completion function: every call, the first TAB included, must
    complete.  Sourced, the same file registers its function with compdef.

    A stand-in `aura-db` answers with a command that prints what it was asked;
    compdef is a stand-in too, so no completion system is needed.
    """
    functions = tmp_path / "zfunc"
    functions.mkdir()
    shutil.copy(REPO / "completions" / "_aura-db", functions / "_aura-db")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stub = bin_dir / "aura-db"
    stub.write_text('#!/bin/sh\necho "print -r -- asked: $_TYPER_COMPLETE_ARGS"\n', encoding="utf-8")
    stub.chmod(0o755)
    script = (
        'compdef() { print -r -- "compdef $*" }\n'
        f"fpath=({functions} $fpath)\n"
        "autoload -Uz _aura-db\n"
        "words=(aura-db rest); CURRENT=2; _aura-db\n"  # the first TAB: zsh loads the file
        "words=(aura-db sta); CURRENT=2; _aura-db\n"  # every later TAB
        "print -r -- sourcing\n"
        f"source {functions / '_aura-db'}\n"
    )
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(tmp_path)}
    proc = subprocess.run(["zsh", "-f", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "asked: aura-db rest",
        "asked: aura-db sta",
        "sourcing",
        "compdef _aura_db_completion aura-db",
    ]


# --------------------------------------------------------------------------
# Values


def test_migrate_to_completes_migration_names(workdir, two_migrations):
    got = values(complete(f"aura-db --migrations {two_migrations} migrate --to ", workdir))
    assert got == [*SHIPPED, f"{NEXT:03d}_add_tags"]


def test_migrate_to_completes_numbers_from_a_prefix(workdir, two_migrations):
    got = values(complete(f"aura-db --migrations {two_migrations} migrate --to {NEXT:03d}", workdir))
    assert got == [f"{NEXT:03d}", f"{NEXT:03d}_add_tags"]


def test_migrate_to_uses_the_shipped_migrations_by_default(workdir):
    assert HEAD in values(complete("aura-db migrate --to ", workdir))


def test_migrations_folder_from_the_settings_file(workdir, two_migrations):
    (workdir / "aura-db.toml").write_text(f'migrations = "{two_migrations}"\n', encoding="utf-8")
    assert values(complete(f"aura-db migrate --to {NEXT:03d}_", workdir)) == [f"{NEXT:03d}_add_tags"]


def test_rollback_target_completes_migration_names(workdir, two_migrations):
    got = values(complete(f"aura-db --migrations {two_migrations} rollback ", workdir))
    assert got == [*SHIPPED, f"{NEXT:03d}_add_tags"]


@pytest.mark.parametrize("given", ["--all", "--steps 1", "--steps=2", "--all --dry-run"])
def test_rollback_offers_no_target_once_all_or_steps_is_given(workdir, two_migrations, given):
    """TARGET, --steps and --all exclude each other: after one of the options, no TARGET."""
    assert values(complete(f"aura-db --migrations {two_migrations} rollback {given} ", workdir)) == []


def test_rollback_still_offers_targets_after_other_options(workdir, two_migrations):
    got = values(complete(f"aura-db --migrations {two_migrations} rollback --dry-run --yes ", workdir))
    assert got == [*SHIPPED, f"{NEXT:03d}_add_tags"]


def test_zsh_and_fish_get_the_same_values(workdir, two_migrations):
    words = f"aura-db --migrations {two_migrations} rollback 00"
    zsh = complete(words, workdir, shell="zsh")
    assert zsh.returncode == 0 and f"{NEXT:03d}_add_tags" in zsh.stdout and HEAD in zsh.stdout
    fish = complete(words, workdir, shell="fish")
    assert fish.returncode == 0 and f"{NEXT:03d}_add_tags" in fish.stdout


def test_command_names_complete(workdir):
    assert values(complete("aura-db sta", workdir)) == ["status"]
    assert "list" in values(complete("aura-db migrate ", workdir))


def test_completion_prints_nothing_on_a_broken_setup(workdir):
    """A malformed settings file or missing folder completes to nothing, silently."""
    (workdir / "aura-db.toml").write_text("this is not toml\n", encoding="utf-8")
    assert values(complete("aura-db migrate --to ", workdir)) == []
    (workdir / "aura-db.toml").unlink()
    assert values(complete("aura-db --migrations nowhere rollback ", workdir)) == []


# --------------------------------------------------------------------------
# Commands the other groups add: covered when they are part of the build


def _has(command: str) -> bool:
    return importlib.util.find_spec(f"aura_db.cli.{command}") is not None


@pytest.fixture
def backed_up(cli, workdir) -> list[str]:
    if not (_has("backup") and _has("restore")):
        pytest.skip("backup/restore commands are not part of this build")
    assert cli("-q", "migrate", "--no-backup").exit_code == 0
    r = cli("-q", "backup", "--label", "first")
    assert r.exit_code == 0, r
    names = sorted(p.name for p in (workdir / "backups").iterdir()
                   if p.name.startswith("aura_backup_") and not p.name.endswith(".json"))
    assert names
    return names


def test_restore_completes_backup_files_and_latest(workdir, backed_up):
    got = values(complete("aura-db restore ", workdir))
    assert got[0] == "latest" and set(got[1:]) == set(backed_up)
    assert values(complete("aura-db restore aura_backup_", workdir)) == backed_up


def test_backup_verify_completes_backup_files(workdir, backed_up):
    got = values(complete("aura-db backup verify ", workdir))
    assert set(backed_up) <= set(got)
    assert not any(name.endswith(".json") for name in got)  # manifests are not backups


def test_backup_dir_flag_is_honoured(workdir, backed_up, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert values(complete(f"aura-db --backup-dir {elsewhere} restore aura_", workdir)) == []


def test_inspect_table_completes_table_names(cli, workdir):
    if not _has("inspect"):
        pytest.skip("inspect is not part of this build")
    assert cli("-q", "migrate", "--no-backup").exit_code == 0
    got = values(complete("aura-db inspect table Pro", workdir))
    from aura_db.models.schema import TABLES

    expected = sorted(t for t in TABLES if t.startswith("Pro"))
    assert expected and got == expected
    everything = values(complete("aura-db inspect table ", workdir))
    assert "aura_schema_history" in everything and len(everything) >= 13


def test_inspect_table_completes_in_any_case(cli, workdir):
    """A table name matches in any case (`inspect table projectstates` works), and
    click keeps only values starting with exactly the typed word: so they are
    offered spelled the way the word was typed."""
    if not _has("inspect"):
        pytest.skip("inspect is not part of this build")
    assert cli("-q", "migrate", "--no-backup").exit_code == 0
    from aura_db.models.schema import TABLES

    lower = values(complete("aura-db inspect table s", workdir))
    assert lower == sorted(t.lower() for t in TABLES if t.lower().startswith("s"))
    assert "scenestates" in lower
    assert values(complete("aura-db inspect table SC", workdir)) == ["SCENESTATES"]
    assert values(complete("aura-db inspect table pRo", workdir)) == sorted(
        "pRo" + t[3:] for t in TABLES if t.startswith("Pro"))
    # What completion offers, inspect finds.
    r = cli("inspect", "table", lower[0], "--json")
    assert r.exit_code == 0, r


def test_table_names_on_sqlite_are_read_without_peewee(cli, workdir):
    """On SQLite the names come from sqlite_master through the sqlite3 module:
    peewee's import (and the server drivers it loads) would be most of a TAB press."""
    if not _has("inspect"):
        pytest.skip("inspect is not part of this build")
    assert cli("-q", "migrate", "--no-backup").exit_code == 0
    with sqlite3.connect(workdir / "aura.db") as conn:
        conn.execute("CREATE TABLE only_in_the_database (id INTEGER)")  # not a model: read from the file
    conn.close()
    probe = ("import atexit, sys; atexit.register(lambda: sys.stderr.write(' '.join(sorted("
             "{'peewee', 'psycopg2', 'pymysql', 'rich', 'typer'} & {n for n, m in sys.modules.items() if m}))));")
    proc = complete("aura-db inspect table only", workdir, prelude=probe)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["only_in_the_database"]
    assert proc.stderr == "typer"


# --------------------------------------------------------------------------
# Completion reads migrations without the runner; it must agree with it


def test_completion_lists_what_discover_finds(two_migrations, tmp_path):
    from aura_db.cli.completion import migration_names
    from aura_db.migrations import discover

    (two_migrations / "notes.txt").write_text("not a migration", encoding="utf-8")
    (two_migrations / "10_short_number.py").write_text("", encoding="utf-8")
    (two_migrations / "__init__.py").write_text("", encoding="utf-8")
    (two_migrations / "010_later.py").write_text("", encoding="utf-8")
    assert migration_names(two_migrations) == [f.name for f in discover(two_migrations)]
    assert migration_names(MIGRATIONS) == [f.name for f in discover(MIGRATIONS)]


def test_shipped_migrations_folder_agrees_with_the_runner():
    from aura_db.config import shipped_migrations_dir
    from aura_db.migrations import default_migrations_dir

    assert shipped_migrations_dir() == default_migrations_dir()


def test_table_names_from_the_models_when_the_server_does_not_answer(workdir):
    """An unreachable server costs at most the lookup budget, then the models answer."""
    import time

    if not _has("inspect"):
        pytest.skip("inspect is not part of this build")
    from aura_db.cli.completion import TABLE_LOOKUP_SECONDS
    from aura_db.models.schema import TABLES

    started = time.monotonic()
    # 10.255.255.1 is not routable: a connect either fails at once or hangs.
    got = values(complete("aura-db --db mysql://aura@10.255.255.1:3306/aura inspect table ", workdir))
    assert time.monotonic() - started < TABLE_LOOKUP_SECONDS + 8
    assert got == sorted(TABLES)  # the models' tables, not aura-db's own
