"""Output where aura-db runs: terminals, pipes, CI logs.

Colour only on a terminal (NO_COLOR and --no-color honoured there), no ANSI
escapes in a pipe, --quiet prints only errors and the output asked for.
(What start-up loads is pinned down in tests/test_startup.py.)
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FIRST, HEAD

ANSI = re.compile(r"\x1b\[")
ENTRY = "import sys; sys.argv[0] = 'aura-db'; from aura_db.cli.app import main; main()"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AURA_DB_", "_AURA_DB_")) and k not in ("NO_COLOR", "FORCE_COLOR", "DATABASE_URL")}
    env.update(extra)
    return env


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """aura-db as installed (the console script's entry point), output to pipes."""
    return subprocess.run([sys.executable, "-c", ENTRY, *args], cwd=cwd, env=env or _env(),
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def run_on_terminal(*args: str, cwd: Path, env: dict[str, str]) -> str:
    """aura-db with stdout and stderr on a pseudo-terminal; what it wrote there."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-c", ENTRY, *args], cwd=cwd, env=env,
                                stdout=follower, stderr=follower, stdin=subprocess.DEVNULL)
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the terminal closed: the process is done writing
                break
            if not data:
                break
            chunks.append(data)
        assert proc.wait(timeout=120) == 0
    finally:
        os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def migrated(workdir) -> Path:
    r = run("-q", "migrate", "--no-backup", cwd=workdir)
    assert r.returncode == 0, r.stderr
    return workdir


# --------------------------------------------------------------------------
# Without a terminal


@pytest.mark.parametrize(
    "args",
    [("status",), ("migrate", "list"), ("--help",), ("migrate", "--help"), ("status", "--json")],
    ids=" ".join,
)
def test_no_ansi_escapes_through_a_pipe(migrated, args):
    r = run(*args, cwd=migrated)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()
    assert not ANSI.search(r.stdout) and not ANSI.search(r.stderr)


# Commands that draw progress bars or tables on a terminal, when they are part
# of this build: through a pipe, plain text and no bar.
OTHERS = [("backup",), ("backup", "list"), ("backup", "verify", "--all"), ("seed",),
          ("seed", "synthetic", "--projects", "3", "--random-seed", "1"), ("verify",), ("inspect",),
          ("inspect", "table", "ProjectStates"), ("script",)]


@pytest.mark.parametrize("args", OTHERS, ids=" ".join)
def test_no_ansi_or_progress_bar_through_a_pipe(migrated, args):
    import importlib.util

    if importlib.util.find_spec(f"aura_db.cli.{args[0]}") is None:
        pytest.skip(f"{args[0]} is not part of this build")
    if args[:2] == ("backup", "verify"):
        assert run("-q", "backup", cwd=migrated).returncode == 0
    r = run(*args, cwd=migrated)
    assert r.returncode == 0, r.stderr
    assert not ANSI.search(r.stdout) and not ANSI.search(r.stderr), args
    assert "\r" not in r.stderr  # a progress bar redraws its line


def test_errors_and_warnings_have_no_escapes_either(workdir):
    (workdir / "aura-db.toml").write_text("kep = 1\n", encoding="utf-8")
    r = run("status", cwd=workdir)  # no database: exit 4, after the unknown-key warning
    assert r.returncode == 4
    assert "warning: unknown setting 'kep'" in r.stderr and "error: " in r.stderr
    assert not ANSI.search(r.stderr)


def test_in_process_runs_are_plain_too(cli, workdir):
    assert cli("-q", "migrate", "--no-backup").exit_code == 0
    for args in (["status"], ["migrate", "list"], ["rollback", "--dry-run"]):
        r = cli(*args)
        assert r.exit_code == 0, r
        assert not ANSI.search(r.stdout + r.stderr), args


def test_no_prompt_without_a_terminal(migrated):
    """A destructive command refuses (exit 6) instead of waiting for an answer."""
    r = run("rollback", cwd=migrated)
    assert r.returncode == 6
    assert "--yes" in r.stderr
    assert run("status", "--json", cwd=migrated).stdout.count(f'"head": "{HEAD}"') == 1  # nothing changed


# --------------------------------------------------------------------------
# On a terminal


def test_colour_on_a_terminal_and_no_color_turns_it_off(migrated):
    coloured = run_on_terminal("status", cwd=migrated, env=_env(TERM="xterm-256color"))
    assert ANSI.search(coloured) and "up to date" in coloured
    table = run_on_terminal("migrate", "list", cwd=migrated, env=_env(TERM="xterm-256color"))
    assert ANSI.search(table) and HEAD[:12] in table  # rich may fold the long name

    for env in (_env(TERM="xterm-256color", NO_COLOR="1"), _env(TERM="dumb")):
        plain = run_on_terminal("status", cwd=migrated, env=env)
        assert not ANSI.search(plain) and "up to date" in plain
        plain = run_on_terminal("migrate", "list", cwd=migrated, env=env)
        assert not ANSI.search(plain) and HEAD[:12] in plain  # rich may fold the long name
    plain = run_on_terminal("--no-color", "status", cwd=migrated, env=_env(TERM="xterm-256color"))
    assert not ANSI.search(plain) and "up to date" in plain


def test_on_a_terminal_the_restore_question_is_not_drawn_over_by_the_progress_bar(migrated):
    assert run("-q", "backup", cwd=migrated).returncode == 0
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-c", ENTRY, "restore", "latest", "--no-safety-backup"],
                                cwd=migrated, env=_env(TERM="xterm-256color", COLUMNS="100"),
                                stdin=follower, stdout=follower, stderr=follower)
        os.close(follower)
        seen = b""
        deadline = time.monotonic() + 60
        while b"[y/N]: " not in seen and time.monotonic() < deadline:
            if select.select([leader], [], [], 1)[0]:
                seen += os.read(leader, 65536)
        assert b"Replace " in seen and b"[y/N]: " in seen, seen
        # The question is the last thing written until it is answered: a live
        # bar would redraw itself (over it) ten times a second.
        after = b""
        while select.select([leader], [], [], 0.8)[0]:
            after += os.read(leader, 65536)
        assert seen.endswith(b"[y/N]: ") and after == b"", (seen[-200:], after)
        os.write(leader, b"n\n")
        assert proc.wait(timeout=60) == 6
    finally:
        os.close(leader)


# --------------------------------------------------------------------------
# --quiet


def test_quiet_silences_notes_but_not_the_result(cli, workdir):
    loud = cli("migrate", "--no-backup")
    assert loud.exit_code == 0 and f"applying {FIRST}" in loud.stderr
    assert cli("rollback", "--yes", "--no-backup").exit_code == 0
    quiet = cli("-q", "migrate", "--no-backup")
    assert quiet.exit_code == 0, quiet
    assert quiet.stderr == ""
    assert "applied 1 migration(s)" in quiet.stdout


def test_quiet_silences_warnings_and_dry_run_notes(cli, workdir):
    assert cli("-q", "migrate", "--no-backup").exit_code == 0
    (workdir / "aura-db.toml").write_text("kep = 1\n", encoding="utf-8")
    assert "warning:" in cli("status").stderr
    r = cli("-q", "status")
    assert r.exit_code == 0 and r.stderr == "" and "up to date" in r.stdout
    r = cli("-q", "rollback", "--dry-run")
    assert r.exit_code == 0 and r.stderr == "" and "DROP TABLE" in r.stdout.upper()


def test_quiet_restore_with_yes_prints_only_its_result(cli, workdir):
    assert cli("-q", "migrate", "--no-backup").exit_code == 0
    assert cli("-q", "backup").exit_code == 0
    loud = cli("restore", "latest", "--yes")
    assert loud.exit_code == 0 and "live rows" in loud.stderr and "safety backup" in loud.stderr
    r = cli("-q", "restore", "latest", "--yes")
    assert r.exit_code == 0, r
    assert r.stderr == ""
    assert "restored" in r.stdout


def test_quiet_still_prints_errors(cli, workdir):
    r = cli("-q", "status")
    assert r.exit_code == 4
    assert r.stderr.startswith("error: ")


# --------------------------------------------------------------------------
# FORCE_COLOR asks for colour, not for a terminal


def test_force_color_draws_no_progress_bar_without_a_terminal(migrated):
    """FORCE_COLOR makes rich take a pipe for a terminal; progress bars must not follow it."""
    r = run("seed", "synthetic", "--projects", "50", cwd=migrated, env=_env(FORCE_COLOR="1"))
    assert r.returncode == 0, r.stderr
    assert "\x1b[?25l" not in r.stderr and "\r" not in r.stderr  # a live display hides the cursor, redraws
    assert "seeding" not in r.stderr
    assert not ANSI.search(r.stderr), r.stderr


def test_the_seed_progress_bar_still_shows_on_a_terminal(migrated):
    """The other side of the test above: on a real terminal the bar is drawn (FORCE_COLOR or not)."""
    for env in (_env(), _env(FORCE_COLOR="1")):
        shown = run_on_terminal("seed", "synthetic", "--projects", "50", "--reset", "--yes", cwd=migrated, env=env)
        assert "\x1b[?25l" in shown


def test_stderr_is_terminal_asks_the_descriptor_not_the_environment(monkeypatch):
    from aura_db.cli.common import AppState

    app = AppState(flags={})
    reader, writer = os.pipe()
    leader, follower = pty.openpty()
    with open(writer, "w") as piped, open(follower, "w") as terminal:
        monkeypatch.setenv("FORCE_COLOR", "1")
        monkeypatch.setenv("TTY_COMPATIBLE", "1")
        monkeypatch.setattr(sys, "stderr", piped)
        assert not app.stderr_is_terminal
        assert app.colour(piped)  # colour may follow FORCE_COLOR
        monkeypatch.setattr(sys, "stderr", terminal)
        assert app.stderr_is_terminal
    os.close(reader)
    os.close(leader)
