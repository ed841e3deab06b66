"""The fast front (aura_db.cli.fast) against the Typer path, case by case.

The fast front answers --help, TAB completion and `status` without importing
Typer.  Every case here runs both ways and asks for the same stdout, stderr
and exit code; cases the fast front must leave to Typer are checked to be
left (run() returns None), and the snapshot it reads must be current.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aura_db.cli import fast
from conftest import FIRST, MIGRATIONS, NEXT, SHIPPED

ENTRY = "import sys; sys.argv[0] = 'aura-db'; from aura_db.cli.app import main; main()"
SHELLS = ["bash", "zsh", "fish", "powershell", "pwsh"]


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AURA_DB_", "_AURA_DB_", "_TYPER_", "COMP_")) and k not in ("DATABASE_URL", "NO_COLOR")}
    env.pop("COLUMNS", None)
    return env


def aura_db(args: list[str], cwd: Path, *, typer_path: bool = False, env: dict[str, str] | None = None,
            prelude: str = "") -> subprocess.CompletedProcess:
    """A real ``aura-db`` process; with ``typer_path`` the fast front is switched off."""
    full = _base_env()
    full.update(env or {})
    if typer_path:
        full[fast.NO_FAST_PATH] = "1"
    return subprocess.run([sys.executable, "-c", prelude + ENTRY, *args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def both(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[tuple, tuple]:
    a = aura_db(args, cwd, env=env)
    b = aura_db(args, cwd, env=env, typer_path=True)
    return (a.stdout, a.stderr, a.returncode), (b.stdout, b.stderr, b.returncode)


# -- the snapshot ----------------------------------------------------------------


def test_snapshot_is_current():
    """_snapshot.py is what `python -m aura_db.cli.snapshot` writes from the current code."""
    from aura_db.cli import snapshot

    assert snapshot.TARGET.read_text(encoding="utf-8") == snapshot.render(snapshot.build()), (
        "aura_db/cli/_snapshot.py is out of date: run python -m aura_db.cli.snapshot"
    )


def test_a_stale_snapshot_is_not_used(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert fast.run("aura-db", ["--help"], {"COLUMNS": "100"}) == 0
    monkeypatch.setattr(fast, "fingerprint", lambda: "00000000")
    assert fast.run("aura-db", ["--help"], {"COLUMNS": "100"}) is None
    assert fast.run("aura-db", ["status"], {}) is None


def test_the_fingerprint_follows_the_command_sources(tmp_path, monkeypatch):
    here = Path(fast.__file__).parent
    copy = tmp_path / "cli"
    shutil.copytree(here, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fast, "__file__", str(copy / "fast.py"))
    before = fast.fingerprint()
    status = copy / "status.py"
    status.write_text(status.read_text().replace("Show engine", "Show the engine"))
    assert fast.fingerprint() != before


# -- help ----------------------------------------------------------------------


def _help_cases() -> list[list[str]]:
    from aura_db.cli._snapshot import SNAPSHOT

    cases = [[]]
    for path in SNAPSHOT["tree"]:
        words = path.split()
        cases += [[*words, "--help"], [*words, "-h"]]
    return cases


def test_help_pages_are_typers(tmp_path):
    """Every help page, and bare `aura-db`, as Typer prints it on a wide terminal.

    The pages were captured at 80 columns (test_snapshot_is_current); click
    lays help out the same on anything wider.
    """
    for args in _help_cases():
        fast_out, typer_out = both(args, tmp_path, env={"COLUMNS": "132"})
        assert fast_out == typer_out, args


def test_narrow_terminals_get_typers_own_wrapping(tmp_path, monkeypatch, capsys):
    assert fast.run("aura-db", ["migrate", "--help"], {"COLUMNS": "60"}) is None
    fast_out, typer_out = both(["migrate", "--help"], tmp_path, env={"COLUMNS": "60"})
    assert fast_out == typer_out
    assert max(len(line) for line in fast_out[0].splitlines()) <= 60


# -- completion ----------------------------------------------------------------


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A working directory with two migrations, one applied, and two backups."""
    folder = tmp_path / "mig"
    folder.mkdir()
    for name in SHIPPED:
        shutil.copy(MIGRATIONS / f"{name}.py", folder / f"{name}.py")
    (folder / f"{NEXT:03d}_add_tags.py").write_text(
        "def migrate(migrator, database, fake=False):\n    pass\n\n\n"
        "def rollback(migrator, database, fake=False):\n    pass\n"
    )
    backups = tmp_path / "backups"
    backups.mkdir()
    for stamp in ("20261101_101010", "20261102_101010_pre-deploy"):
        (backups / f"aura_backup_{stamp}.db").write_bytes(b"x")
        (backups / f"aura_backup_{stamp}.db.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _completion_lines() -> list[list[str]]:
    """Command lines ending in the word being completed, built from every command and option."""
    from aura_db.cli._snapshot import SNAPSHOT

    lines: list[list[str]] = [[""], ["m"], ["-"], ["--"], ["--d"], ["--db", ""], ["--db=a"], ["--db", "x", ""],
                              ["--migrations", "mig", "migrate", "--to", ""], ["--migrations=mig", "rollback", "0"],
                              ["-v", "-q", "-"], ["--backup-dir", "backups", "restore", ""],
                              ["status", "--json", "-"], ["migrate", "--to", "="], ["migrate", "--to=0"],
                              ["inspect", "table", "s"], ["script", "--dialect", ""], ["backup", "verify", "aura_"],
                              ["restore", "l"], ["restore", "latest", ""], ["nosuch", ""], ["migrate", "--nosuch", ""],
                              ["migrate", "--", ""], ["--db", "--quiet", ""]]
    for path, node in SNAPSHOT["tree"].items():
        words = path.split()
        lines += [[*words, ""], [*words, "-"], [*words, "--"]]
        for sub in node.get("commands", []):
            lines.append([*words, sub["name"][:1]])
        for opt in node["options"]:
            if not opt.get("unknown") and not opt["flag"]:
                lines += [[*words, opt["opts"][0], ""], [*words, opt["opts"][0], "0"], [*words, opt["opts"][0] + "="]]
            elif not opt.get("unknown"):
                lines.append([*words, opt["opts"][-1], "-"])
        if node["arguments"]:
            lines += [[*words, "0"], [*words, "x", ""]]
    return lines


def _completion_env(shell: str, line: list[str], action: str = "get-args") -> dict[str, str]:
    text = " ".join(["aura-db", *line])
    env = {fast.COMPLETE_VAR: f"complete_{shell}"}
    if shell == "bash":
        env["COMP_WORDS"] = text
        env["COMP_CWORD"] = str(len(line))
    elif shell in ("zsh", "fish"):
        env["_TYPER_COMPLETE_ARGS"] = text
        if shell == "fish":
            env["_TYPER_COMPLETE_FISH_ACTION"] = action
    else:
        env["_TYPER_COMPLETE_ARGS"] = text
        env["_TYPER_COMPLETE_WORD_TO_COMPLETE"] = line[-1]
    return env


def _typer_completion(env: dict[str, str], monkeypatch, capsys) -> tuple[str, str, int]:
    from aura_db.cli.root import app

    with monkeypatch.context() as m:
        for key, value in env.items():
            m.setenv(key, value)
        try:
            app(args=[], prog_name="aura-db")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return out, err, code


def _fast_completion(env: dict[str, str], capsys) -> tuple[str, str, int] | None:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("_AURA_DB_", "_TYPER_", "COMP_"))}
    full.update(env)
    code = fast.run("aura-db", [], full)
    out, err = capsys.readouterr()
    return None if code is None else (out, err, code)


def _unordered(result: tuple[str, str, int]) -> tuple[str, list[str], str, int]:
    out, err, code = result
    head, tail = "_arguments '*: :((", "))'\n"  # zsh wraps its lines in one command
    if out.startswith(head) and out.endswith(tail):
        return head + tail, sorted(out[len(head):-len(tail)].splitlines()), err, code
    return "", sorted(out.splitlines()), err, code


@pytest.mark.parametrize("shell", SHELLS)
def test_completion_answers_as_typer_does(shell, project, monkeypatch, capsys):
    lines = _completion_lines()
    handled = 0
    for line in lines:
        actions = ["get-args", "is-args"] if shell == "fish" else [""]
        for action in actions:
            env = _completion_env(shell, line, action)
            mine = _fast_completion(env, capsys)
            theirs = _typer_completion(env, monkeypatch, capsys)
            if mine is not None:
                handled += 1
                # Line order aside (the shells sort what they show): click
                # lists -h and --help in an order that changes per process.
                assert _unordered(mine) == _unordered(theirs), (shell, action, line)
    # Nearly every line is answered without Typer; the rest are the lines
    # below, which the fast front must leave alone.
    assert handled >= 0.9 * len(lines) * (2 if shell == "fish" else 1), handled


@pytest.mark.parametrize("line", [
    ["script", "--dialect", ""],  # choices: Typer's own completion
    ["migrate", "--", ""],
    ["nosuch", ""],
    ["migrate", "--nosuch", ""],
    ["--db", "--quiet", ""],  # click takes --quiet as the URL
])
def test_completion_leaves_to_typer(line, project, capsys):
    assert _fast_completion(_completion_env("bash", line), capsys) is None


def test_quoted_completion_lines_are_left_to_typer(project, capsys):
    env = {fast.COMPLETE_VAR: "complete_bash", "COMP_WORDS": "aura-db --db 'my db.db' status ", "COMP_CWORD": "4"}
    assert _fast_completion(env, capsys) is None


def test_value_completion_in_a_real_process(project):
    """The benchmark's TAB press, answered by the fast front from the folder --migrations names."""
    env = _completion_env("bash", ["--migrations", "mig", "migrate", "--to", ""])
    prelude = "import atexit, sys; atexit.register(lambda: sys.stderr.write(str(sorted({'typer', 'rich', 'peewee'} & set(sys.modules)))));"
    proc = aura_db([], project, env=env, prelude=prelude)
    assert proc.returncode == 0
    assert proc.stdout.split() == [*SHIPPED, f"{NEXT:03d}_add_tags"]
    assert proc.stderr == "[]"  # neither Typer nor rich nor peewee was imported


# -- status ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def databases(tmp_path_factory) -> Path:
    """up.db (migrated), pending.db (one of two applied), drift.db (a copy of up.db); read only."""
    tmp_path = tmp_path_factory.mktemp("databases")
    folder = tmp_path / "mig"
    folder.mkdir()
    for name in SHIPPED:
        shutil.copy(MIGRATIONS / f"{name}.py", folder / f"{name}.py")
    for name in ("up.db", "pending.db"):
        proc = aura_db(["--db", name, "--migrations", "mig", "migrate", "--no-backup"], tmp_path, typer_path=True)
        assert proc.returncode == 0, proc.stderr
    (folder / f"{NEXT:03d}_add_tags.py").write_text(
        "def migrate(migrator, database, fake=False):\n    pass\n\n\n"
        "def rollback(migrator, database, fake=False):\n    pass\n"
    )
    proc = aura_db(["--db", "up.db", "--migrations", "mig", "migrate", "--no-backup"], tmp_path, typer_path=True)
    assert proc.returncode == 0, proc.stderr
    shutil.copy(tmp_path / "up.db", tmp_path / "drift.db")
    (tmp_path / "bad.toml").write_text("url = \n")
    return tmp_path


STATUS_CASES = [
    ["--db", "up.db", "--migrations", "mig", "status"],
    ["--db", "up.db", "--migrations", "mig", "status", "--json"],
    ["--db=up.db", "--migrations=mig", "status", "--check"],
    ["--db", "pending.db", "--migrations", "mig", "status"],
    ["--db", "pending.db", "--migrations", "mig", "status", "--check"],
    ["--db", "pending.db", "--migrations", "mig", "status", "--check", "--json"],
    ["--db", "pending.db", "--migrations", "mig", "-q", "status", "--check"],
    ["--db", "pending.db", "--migrations", "mig", "--verbose", "status"],
    ["--db", "pending.db", "--migrations", "mig", "--no-color", "status"],
    ["--db", "missing.db", "status"],
    ["--db", "missing.db", "status", "--json"],
    ["--db", "up.db", "--config", "bad.toml", "status"],
    ["--db", "up.db", "--config", "nosuch.toml", "status"],
    ["--db", "postgresql://u:secret@127.0.0.1:1/x", "status"],
    ["--db", "missing.db", "status", "--json", "--check"],
    ["--db", "postgresql://u:secret@127.0.0.1:1/x", "status", "--json"],
    ["--db", "mysql://u:secret@127.0.0.1:1/x?password=secret", "status", "--check", "--json"],
]


@pytest.mark.parametrize("args", STATUS_CASES, ids=lambda a: " ".join(a))
def test_status_answers_as_typer_does(args, databases):
    fast_out, typer_out = both(args, databases)
    assert fast_out == typer_out
    assert "secret" not in fast_out[0] + fast_out[1]


@pytest.mark.parametrize("url", ["missing.db", "postgresql://u:secret@127.0.0.1:1/x"])
def test_status_json_of_an_unreachable_database(url, databases):
    """Still one JSON document (a gate reads `.reachable`), exit 4 and the error line, on both paths."""
    fast_out, typer_out = both(["--db", url, "status", "--json"], databases)
    assert fast_out == typer_out
    out, err, code = fast_out
    assert code == 4
    doc = json.loads(out)
    assert doc["reachable"] is False
    assert err.startswith("error: ") and doc["error"] == err.splitlines()[0].removeprefix("error: ")
    assert doc["drift"] is None and doc["pending"] is None and doc["up_to_date"] is None  # unknown, not "none"
    assert doc["engine"] == ("sqlite" if url.endswith(".db") else "postgresql")
    assert "secret" not in out + err


def test_status_with_drift(databases, tmp_path):
    shutil.copytree(databases / "mig", tmp_path / "mig")
    shutil.copy(databases / "drift.db", tmp_path / "drift.db")
    (tmp_path / "mig" / f"{FIRST}.py").write_text((tmp_path / "mig" / f"{FIRST}.py").read_text() + "\n# edited\n")
    fast_out, typer_out = both(["--db", "drift.db", "--migrations", "mig", "status", "--check"], tmp_path)
    assert fast_out == typer_out
    assert fast_out[2] == 3


def test_status_is_answered_without_typer(databases):
    prelude = "import atexit, sys; atexit.register(lambda: sys.stderr.write(str('typer' in sys.modules)));"
    proc = aura_db(["--db", "up.db", "--migrations", "mig", "status", "--check"], databases, prelude=prelude)
    assert proc.returncode == 0
    assert proc.stderr == "False"
    assert "up to date" in proc.stdout


@pytest.mark.parametrize("args", [
    ["status", "--nosuch"],
    ["status", "extra"],
    ["--db", "x.db", "status", "--help"],
    ["-vq", "status"],
    ["--", "status"],
    ["status", "--json=1"],
    ["migrate", "status"],
    ["--db", "up.db", "--show-completion", "status"],
])
def test_unusual_status_lines_are_left_to_typer(args, databases):
    assert fast.run("aura-db", args, {}) is None
    fast_out, typer_out = both(args, databases)
    assert fast_out == typer_out


def test_other_program_names_take_the_typer_path(tmp_path):
    assert fast.run("python -m aura_db", ["--help"], {"COLUMNS": "100"}) is None
    assert fast.run("aura-db", ["--help"], {"COLUMNS": "100", fast.NO_FAST_PATH: "1"}) is None
