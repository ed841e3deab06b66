"""aura-db where things go wrong around it: silent servers, Ctrl-C, closed pipes.

* A server that accepts the connection and never answers ends in the
  connect timeout (exit 4), it does not hang a CI gate.
* Ctrl-C is exit 130 with one ``error: interrupted`` line, while connecting,
  while a migration runs, and at a confirmation prompt (where "no" and end
  of input stay a refusal, exit 6).
* A reader of stdout that goes away (``aura-db inspect | head -1``) ends
  aura-db quietly with exit 141, without a traceback or an error line.

Real processes, real signals and pipes, real databases.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import HEAD, NEXT, NOOP_STEPS, migrations_with

ENTRY = "import sys; sys.argv[0] = 'aura-db'; from aura_db.cli.app import main; main()"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AURA_DB_", "_AURA_DB_")) and k not in ("NO_COLOR", "FORCE_COLOR", "DATABASE_URL")}
    env.update(extra)
    return env


def start(args: list[str], cwd: Path, env: dict[str, str], *, prelude: str = "", stdin=subprocess.DEVNULL,
          stdout=subprocess.PIPE) -> subprocess.Popen:
    """aura-db as installed (the console script's entry point)."""
    return subprocess.Popen([sys.executable, "-c", prelude + ENTRY, *args], cwd=cwd, env=env, stdin=stdin,
                            stdout=stdout, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen, timeout: float) -> tuple[int, str, str]:
    """Exit code, stdout and stderr; the process is killed (and the test fails) if it overruns."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"aura-db still running after {timeout} s")
    return proc.returncode, (out or b"").decode(), err.decode()


def read_until(proc: subprocess.Popen, marker: bytes, timeout: float = 30) -> bytes:
    """stderr until ``marker`` shows (what the process printed so far)."""
    seen = b""
    deadline = time.monotonic() + timeout
    fd = proc.stderr.fileno()
    while marker not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None and not select.select([fd], [], [], 0)[0]:
            proc.kill()
            pytest.fail(f"never saw {marker!r}; stderr so far: {seen!r}")
        if select.select([fd], [], [], min(left, 0.2))[0]:
            chunk = os.read(fd, 65536)
            seen += chunk
    return seen


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.conns: list[socket.socket] = []
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(conn)
            self.accepted += 1

    def wait_for_connection(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.accepted < count:
            assert time.monotonic() < deadline, "aura-db never connected"
            time.sleep(0.02)

    def url(self, engine: str, query: str = "") -> str:
        return f"{engine}://aura:s3cret-pw@127.0.0.1:{self.port}/aura{query}"

    def close(self) -> None:
        self.stopped = True
        self.thread.join()
        for conn in self.conns:
            conn.close()
        self.sock.close()


@pytest.fixture
def silent_server():
    server = SilentServer()
    yield server
    server.close()


# -- connect timeout ------------------------------------------------------------


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_a_silent_server_ends_in_the_connect_timeout(engine, silent_server, tmp_path):
    """`?connect_timeout=1`: exit 4 after about a second, one error line and its hint."""
    started = time.monotonic()
    proc = start(["--db", silent_server.url(engine, "?connect_timeout=1"), "status", "--check"], tmp_path,
                 _env())
    code, out, err = finish(proc, timeout=20)
    assert code == 4, err
    assert time.monotonic() - started < 15
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: cannot connect to "), err
    assert lines[0].endswith(": no answer within 1 s")
    assert lines[1].startswith("hint: ") and "connect_timeout" in lines[1]
    assert "s3cret" not in err


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_the_connect_timeout_has_a_default(engine, silent_server, tmp_path):
    """Without ?connect_timeout the default applies (made 1 s here so the test is quick)."""
    prelude = "import aura_db.engines.base; aura_db.engines.base.DEFAULT_CONNECT_TIMEOUT = 1.0; "
    proc = start(["--db", silent_server.url(engine), "status"], tmp_path, _env(), prelude=prelude)
    code, _, err = finish(proc, timeout=20)
    assert code == 4, err
    assert "no answer within 1 s" in err


def test_the_default_connect_timeout_is_ten_seconds():
    from aura_db.db import DEFAULT_CONNECT_TIMEOUT, engine_for

    assert DEFAULT_CONNECT_TIMEOUT == 10
    assert engine_for("postgresql://u@h/db")._connect_params()["connect_timeout"] == 10
    assert engine_for("mysql://u@h/db")._connect_params()["connect_timeout"] == 10
    assert engine_for("postgresql://u@h/db?connect_timeout=3")._connect_params()["connect_timeout"] == 3
    assert engine_for("mysql://u@h/db?connect_timeout=2.5")._connect_params()["connect_timeout"] == 2.5


@pytest.mark.parametrize("value", ["abc", "0", "-1"])
def test_a_bad_connect_timeout_is_a_usage_error(value, tmp_path):
    proc = start(["--db", f"postgresql://u:s3cret-pw@127.0.0.1:1/x?connect_timeout={value}", "status"], tmp_path,
                 _env())
    code, _, err = finish(proc, timeout=20)
    assert code == 2, err
    assert err.startswith("error: bad connect_timeout"), err
    assert "s3cret" not in err


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_a_real_server_still_answers_within_the_timeout(engine, server_url, tmp_path):
    """The timeouts used while connecting do not stay on the connection (a long statement is fine)."""
    url = server_url(engine)
    proc = start(["--db", url + "?connect_timeout=2", "migrate", "--no-backup"], tmp_path, _env())
    code, _, err = finish(proc, timeout=120)
    assert code == 0, err
    from aura_db.db import engine_for

    db = engine_for(url + "?connect_timeout=1").open()
    try:
        sleep = "SELECT pg_sleep(1.5)" if engine == "postgresql" else "SELECT SLEEP(1.5)"
        db.execute_sql(sleep).fetchone()  # longer than the connect timeout
    finally:
        db.close()


# -- Ctrl-C --------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_ctrl_c_while_connecting(engine, silent_server, tmp_path):
    """SIGINT while the server keeps silent: exit 130 at once, one line."""
    proc = start(["--db", silent_server.url(engine, "?connect_timeout=60"), "status"], tmp_path, _env())
    silent_server.wait_for_connection(1)
    time.sleep(0.3)  # in the driver's wait for the server's first words
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    code, out, err = finish(proc, timeout=15)
    assert time.monotonic() - sent < 5
    assert (code, out, err) == (130, "", "error: interrupted\n")


@pytest.fixture
def slow_migrations(tmp_path) -> Path:
    f"""The shipped migrations and {NEXT:03d}_slow, which creates a table and then sleeps for a minute."""
    return migrations_with(tmp_path / "mig", **{f"{NEXT:03d}_slow": (
        "import time\n\n\n"
        "def migrate(migrator, database, fake=False):\n"
        "    database.execute_sql('CREATE TABLE slow_probe (id INTEGER)')\n"
        "    time.sleep(60)\n\n\n"
        "def rollback(migrator, database, fake=False):\n    pass\n")})


def _interrupt_migrate(url: str, folder: Path, cwd: Path) -> tuple[int, str]:
    proc = start(["--db", url, "--migrations", str(folder), "migrate", "--no-backup"], cwd, _env())
    seen = read_until(proc, f"applying {NEXT:03d}_slow".encode(), timeout=120)
    time.sleep(0.5)  # into the migration's sleep
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc, timeout=30)
    return code, (seen.decode() + err)


def _status(url: str, folder: Path, cwd: Path) -> dict:
    proc = start(["--db", url, "--migrations", str(folder), "status", "--json"], cwd, _env())
    code, out, err = finish(proc, timeout=60)
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_ctrl_c_during_a_migration_rolls_it_back_and_says_so(engine, slow_migrations, server_url, tmp_path):
    url = f"sqlite:///{tmp_path / 'aura.db'}" if engine == "sqlite" else server_url(engine)
    code, err = _interrupt_migrate(url, slow_migrations, tmp_path)
    assert code == 130, err
    lines = err.splitlines()
    assert lines[-2] == f"error: interrupted; migration {NEXT:03d}_slow was rolled back (not applied)", err
    assert lines[-1].startswith("hint: run `aura-db status`")
    assert "Traceback" not in err
    st = _status(url, slow_migrations, tmp_path)
    assert st["head"] == HEAD and st["pending"] == [f"{NEXT:03d}_slow"]
    if engine == "sqlite":
        con = sqlite3.connect(tmp_path / "aura.db")
        assert con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'slow_probe'").fetchone() == (0,)
        con.close()


def test_ctrl_c_during_a_mysql_migration_says_what_stays_committed(slow_migrations, server_url, tmp_path):
    """MySQL commits DDL as it goes: the line must not claim a rollback."""
    url = server_url("mysql")
    code, err = _interrupt_migrate(url, slow_migrations, tmp_path)
    assert code == 130, err
    assert f"error: interrupted during migration {NEXT:03d}_slow: 1 of its statement(s) stay committed" in err, err
    assert "rolled back" not in err
    st = _status(url, slow_migrations, tmp_path)
    assert st["head"] == HEAD and st["pending"] == [f"{NEXT:03d}_slow"]


@pytest.fixture
def applied(tmp_path) -> Path:
    f"""A SQLite database with the shipped migrations and {NEXT:03d}_noop applied (something to roll back)."""
    migrations_with(tmp_path / "mig", **{f"{NEXT:03d}_noop": NOOP_STEPS})
    proc = start(["--db", "aura.db", "--migrations", "mig", "migrate", "--no-backup"], tmp_path, _env())
    code, _, err = finish(proc, timeout=120)
    assert code == 0, err
    return tmp_path


def _at_the_prompt(cwd: Path) -> tuple[subprocess.Popen, int]:
    """`rollback` asking on a terminal (a pty on stdin); (process, the terminal's other end)."""
    leader, follower = pty.openpty()
    proc = start(["--db", "aura.db", "--migrations", "mig", "rollback", "--no-backup"], cwd, _env(),
                 stdin=follower)
    os.close(follower)
    read_until(proc, b"[y/N]")
    return proc, leader


def test_ctrl_c_at_a_prompt_is_interrupted(applied):
    proc, leader = _at_the_prompt(applied)
    try:
        proc.send_signal(signal.SIGINT)
        code, _, err = finish(proc, timeout=30)
    finally:
        os.close(leader)
    assert code == 130, err
    assert err.splitlines()[-1] == "error: interrupted"
    assert "aborted" not in err and "not confirmed" not in err
    assert _status("aura.db", applied / "mig", applied)["head"] == f"{NEXT:03d}_noop"


@pytest.mark.parametrize("answer", [b"n\n", b"\x04"], ids=["no", "end-of-input"])
def test_no_or_end_of_input_at_a_prompt_is_refused(answer, applied):
    proc, leader = _at_the_prompt(applied)
    try:
        os.write(leader, answer)
        code, _, err = finish(proc, timeout=30)
    finally:
        os.close(leader)
    assert code == 6, err
    assert err.splitlines()[-1].startswith("error: ") and "not confirmed, nothing changed" in err
    assert _status("aura.db", applied / "mig", applied)["head"] == f"{NEXT:03d}_noop"


# -- closed pipes ----------------------------------------------------------------


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    cwd = tmp_path_factory.mktemp("pipes")
    proc = start(["--db", "aura.db", "migrate", "--no-backup"], cwd, _env())
    code, _, err = finish(proc, timeout=120)
    assert code == 0, err
    return cwd


@pytest.mark.parametrize("args", [
    ["status"], ["status", "--json"], ["inspect"], ["inspect", "--json"], ["migrate", "list"], ["script"],
    ["--help"], ["migrate", "--help"], ["--version"],
], ids=" ".join)
def test_a_closed_stdout_ends_quietly(args, migrated):
    """stdout's reader is gone before aura-db writes: exit 141, nothing on stderr."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        proc = start(["--db", "aura.db", *args], migrated, _env(), stdout=writer)
    finally:
        os.close(writer)
    code, _, err = finish(proc, timeout=60)
    assert (code, err) == (141, "")


def test_a_pipe_closed_early_ends_quietly(migrated, tmp_path):
    """`aura-db migrate --dry-run | head -c 100`: the reader leaves after the first bytes of a long output."""
    big = migrations_with(tmp_path / "mig")  # the shipped migrations are applied in `migrated`
    columns = ", ".join(f"c{i} TEXT" for i in range(200))
    for n in range(NEXT, NEXT + 58):  # ~120 kB of SQL, printed statement by statement: more than a pipe holds
        (big / f"{n:03d}_t{n}.py").write_text(
            "def migrate(migrator, database, fake=False):\n"
            f"    migrator.sql('CREATE TABLE t{n} (id INTEGER PRIMARY KEY, {columns})')\n\n\n"
            "def rollback(migrator, database, fake=False):\n"
            f"    migrator.sql('DROP TABLE t{n}')\n"
        )
    proc = start(["--db", "aura.db", "--migrations", str(big), "migrate", "--dry-run"], migrated, _env())
    head = os.read(proc.stdout.fileno(), 100)
    proc.stdout.close()  # the reader goes away, as `head` does
    code, _, err = finish(proc, timeout=60)
    assert head.startswith(f"-- migrate {NEXT:03d}_t{NEXT}".encode())
    assert (code, err) == (141, "")


def test_a_broken_pipe_elsewhere_is_a_failure_to_report(capsys):
    """EPIPE from a pipe that is not stdout or stderr (a client tool that died) is not a reader leaving."""
    from aura_db.cli.common import failure_code

    assert failure_code(BrokenPipeError(32, "Broken pipe"), verbose=False) == 1
    assert capsys.readouterr().err.startswith("error: BrokenPipeError: ")
