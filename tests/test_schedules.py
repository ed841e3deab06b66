"""The ready-to-copy schedules in docs/schedules/ (issue 15, item 4), shown by docs/runbook.md.

* the systemd units pass ``systemd-analyze verify`` where it is installed
  (with the install path of aura-db pointed at this one); in any case they
  parse as INI and hold the keys the set-up relies on;
* the cron line has five valid time fields, a user and a command;
* the CronJob: a line-structure check of the keys it relies on (PyYAML is
  not a dependency of aura-db, and is not added for one test), plus a real
  YAML parse when a YAML parser is at hand (this interpreter's, or the
  system Python's ``python3 -c 'import yaml'``);
* every aura-db command line in them runs with the real CLI against a
  temporary SQLite database; and the cron line and the CronJob's script run
  for real in bash: a damaged backup makes the run stop with exit code 3 and
  the step, its exit code and its error reach the operator.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_backup import flip_byte

ROOT = Path(__file__).resolve().parent.parent
SCHEDULES = ROOT / "docs" / "schedules"
FILES = ("aura-db-backup.service", "aura-db-backup.timer", "aura-db-notify@.service", "aura-db.cron",
         "aura-db-cronjob.yaml")
RUNNERS = ("aura-db-backup.service", "aura-db.cron", "aura-db-cronjob.yaml")
INSTALLED = "/opt/aura-db/bin"  # where the units and the cron file expect aura-db
BIN = Path(sys.executable).parent  # where this aura-db is


def text(name: str) -> str:
    return (SCHEDULES / name).read_text(encoding="utf-8")


def purge_registered() -> bool:
    import typer
    from click import Context

    from aura_db.cli.app import app

    root = typer.main.get_command(app)
    return "purge" in root.list_commands(Context(root, info_name="aura-db"))


def aura_db_commands(source: str) -> list[list[str]]:
    """Every aura-db invocation in a file: its arguments after ``aura-db``.

    Comments are skipped; a shell line is cut at ``;``, ``||``, ``&&`` and a
    redirection; a systemd ``ExecStart=/path/aura-db`` counts as ``aura-db``.
    """
    found = []
    for line in source.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for segment in re.split(r";|\|\||&&", line):
            segment = segment.split(">", 1)[0]
            if not re.search(r"(^|[\s=/])aura-db\s", segment):
                continue
            words = shlex.split(segment)
            at = next((i for i, w in enumerate(words) if os.path.basename(w.split("=", 1)[-1]) == "aura-db"), None)
            if at is not None:
                found.append(words[at + 1:])
    return found


def commands_of(name: str) -> list[list[str]]:
    """The aura-db invocations of a schedule file (of a cron file: of its jobs' commands, after the user)."""
    source = text(name)
    if name.endswith(".cron"):
        source = "\n".join(command for _, _, command in cron_jobs(source))
    return aura_db_commands(source)


# --------------------------------------------------------------------------
# Each file is shown by the runbook, verbatim


@pytest.mark.parametrize("name", FILES)
def test_the_runbook_shows_each_file_as_it_is(name):
    runbook = (ROOT / "docs" / "runbook.md").read_text(encoding="utf-8")
    assert f"docs/schedules/{name}" in runbook
    assert text(name).strip() in runbook, f"docs/runbook.md does not show docs/schedules/{name} as it is"


@pytest.mark.parametrize("name", RUNNERS)
def test_each_runs_backup_with_retention_by_age_then_verify_then_purge(name):
    commands = [[w for w in c if w != "-q"] for c in commands_of(name)]
    assert [c[:2] for c in commands] == [["backup", "--keep"], ["backup", "verify"], ["purge", "--older-than"]]
    backup, verify, purge = commands
    for flag in ("--keep-hourly", "--keep-daily", "--keep-weekly", "--json"):
        assert flag in backup
    assert verify == ["backup", "verify", "--all", "--json"]
    assert purge == ["purge", "--older-than", "30", "--yes", "--json"]
    # The password never on a command line: no URL, no --db.
    for c in commands:
        assert "--db" not in c and not any("://" in w for w in c)


# --------------------------------------------------------------------------
# systemd


def _ini(name: str) -> configparser.RawConfigParser:
    # systemd repeats keys (ExecStart=): keep every value.
    class MultiDict(dict):
        def __setitem__(self, key, value):
            if key in self and isinstance(value, list):
                self[key].extend(value)
            else:
                super().__setitem__(key, value)

    parser = configparser.RawConfigParser(dict_type=MultiDict, strict=False, empty_lines_in_values=False,
                                          interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(text(name))
    return parser


def test_systemd_units_hold_the_keys_the_set_up_relies_on():
    service = _ini("aura-db-backup.service")
    assert service.get("Unit", "OnFailure") == "aura-db-notify@%n.service"
    assert service.get("Service", "Type") == "oneshot"
    assert service.get("Service", "EnvironmentFile") == "/etc/aura-db/aura-db.env"
    execs = service.get("Service", "ExecStart").splitlines()
    assert len(execs) == 3 and all(e.startswith(f"{INSTALLED}/aura-db ") for e in execs)
    assert service.get("Service", "StandardOutput").startswith("truncate:")
    timer = _ini("aura-db-backup.timer")
    assert timer.get("Timer", "OnCalendar") == "*-*-* *:17:00 UTC"
    assert timer.get("Timer", "Unit") == "aura-db-backup.service"
    assert timer.get("Timer", "Persistent") == "true"
    assert timer.get("Install", "WantedBy") == "timers.target"
    notify = _ini("aura-db-notify@.service")
    assert "%i" in notify.get("Service", "ExecStart")


def test_systemd_analyze_verifies_the_units(tmp_path, require_tool):
    tool = require_tool("systemd-analyze")  # the INI check above runs where it is not installed
    # The only change: aura-db where this test's aura-db is (verify checks that the command exists).
    (tmp_path / "aura-db-backup.service").write_text(text("aura-db-backup.service").replace(INSTALLED, str(BIN)))
    (tmp_path / "aura-db-backup.timer").write_text(text("aura-db-backup.timer"))
    # A template is verified as an instance of it.
    (tmp_path / "aura-db-notify@aura-db-backup.service.service").write_text(text("aura-db-notify@.service"))
    units = ["aura-db-backup.service", "aura-db-backup.timer", "aura-db-notify@aura-db-backup.service.service"]
    r = subprocess.run([tool, "verify", *units], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    # Unknown keys are only warnings ("ignoring"): any word from it is a failure.
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), r.stdout + r.stderr
    r = subprocess.run([tool, "calendar", _ini("aura-db-backup.timer").get("Timer", "OnCalendar")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


# --------------------------------------------------------------------------
# cron

_CRON_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
_NAMES = [None, None, None, "jan feb mar apr may jun jul aug sep oct nov dec".split(),
          "sun mon tue wed thu fri sat".split()]


def cron_field_ok(field: str, index: int) -> bool:
    low, high = _CRON_RANGES[index]
    names = _NAMES[index]

    def value(v: str) -> int | None:
        if v.isdigit():
            return int(v)
        if names and v.lower() in names:
            return names.index(v.lower()) + (1 if index == 3 else 0)
        return None

    for part in field.split(","):
        body, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) < 1):
            return False
        if body == "*":
            continue
        first, _, last = body.partition("-")
        a, b = value(first), value(last) if last else None
        if a is None or not low <= a <= high or (last and (b is None or not a <= b <= high)):
            return False
        if step and not last:
            return False
    return True


def test_the_cron_check_itself_rejects_bad_fields():
    assert cron_field_ok("17", 0) and cron_field_ok("*/15", 0) and cron_field_ok("1-5", 4)
    assert cron_field_ok("mon-fri", 4) and cron_field_ok("jan,jul", 3)
    for field, index in (("60", 0), ("24", 1), ("0", 2), ("13", 3), ("8", 4), ("*/0", 0), ("5-1", 0), ("x", 0)):
        assert not cron_field_ok(field, index), (field, index)


def cron_jobs(source: str) -> list[tuple[list[str], str, str]]:
    """(time fields, user, command) of each job line of an /etc/cron.d file."""
    jobs = []
    for line in source.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", line):
            continue
        parts = line.split(None, 6)
        assert len(parts) == 7, f"not 5 time fields, a user and a command: {line}"
        jobs.append((parts[:5], parts[5], parts[6]))
    return jobs


def test_the_cron_line_is_valid():
    source = text("aura-db.cron")
    jobs = cron_jobs(source)
    assert len(jobs) == 1
    fields, user, command = jobs[0]
    assert all(cron_field_ok(f, i) for i, f in enumerate(fields)), fields
    assert fields == ["17", "*", "*", "*", "*"] and user == "aura-db"
    assert "%" not in command  # cron turns % into a newline
    assert command.startswith("set -euo pipefail;")
    env = dict(line.split("=", 1) for line in source.splitlines() if re.match(r"^[A-Z_]+=", line))
    assert env["SHELL"] == "/bin/bash" and env["MAILTO"] and INSTALLED in env["PATH"]
    r = subprocess.run(["bash", "-n", "-c", command], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


# --------------------------------------------------------------------------
# Kubernetes


def yaml_paths(source: str) -> dict[str, str]:
    """``a.b.c`` -> value for the block mappings of a YAML file (``-`` items as ``[]``; a ``|`` block as
    its text).  A structural check of the subset the CronJob uses - not a YAML parser."""
    paths: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    lines = source.splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i]
        i += 1
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        assert "\t" not in raw[: len(raw) - len(raw.lstrip())], f"a tab in the indentation: {raw!r}"
        indent = len(raw) - len(raw.lstrip())
        body = raw.strip()
        if body.startswith("- "):
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, (stack[-1][1] if stack else "") + "[]"))
            if body[2:].strip() == "|":  # an item that is a block of text: the lines indented under it
                block = []
                while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                    block.append(lines[i])
                    i += 1
                paths[stack[-1][1] + ".|"] = "\n".join(block)
                continue
            indent, body = indent + 2, body[2:]
        while stack and stack[-1][0] >= indent:
            stack.pop()
        m = re.match(r"^([A-Za-z][\w.-]*):(?:\s+(.*))?$", body)
        assert m is not None, f"neither a key nor an item: {raw!r}"
        key, value = m.group(1), (m.group(2) or "").split(" #", 1)[0].strip()
        path = (stack[-1][1] + "." if stack else "") + key
        if value == "|":
            block = []
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                block.append(lines[i])
                i += 1
            value = "\n".join(block)
        paths[path] = value
        stack.append((indent, path))
    return paths


def test_the_cronjob_has_the_structure_it_relies_on():
    p = yaml_paths(text("aura-db-cronjob.yaml"))
    assert p["apiVersion"] == "batch/v1" and p["kind"] == "CronJob"
    schedule = p["spec.schedule"].strip('"').split()
    assert len(schedule) == 5 and all(cron_field_ok(f, i) for i, f in enumerate(schedule))
    assert p["spec.timeZone"].strip('"') == "Etc/UTC"
    assert p["spec.concurrencyPolicy"] == "Forbid"
    assert int(p["spec.jobTemplate.spec.backoffLimit"]) >= 0
    pod = "spec.jobTemplate.spec.template.spec"
    assert p[f"{pod}.restartPolicy"] == "Never"
    container = f"{pod}.containers[]"
    assert p[f"{container}.command"] == '["/bin/bash", "-c"]'
    # The URL from a Secret, never written in the manifest.
    assert p[f"{container}.env[].valueFrom.secretKeyRef.name"] == "aura-db"
    assert "://" not in text("aura-db-cronjob.yaml").split("apiVersion:", 1)[1]
    import textwrap

    script = textwrap.dedent(p[f"{container}.args[].|"])
    assert script.strip() == _script().strip()
    r = subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def _script() -> str:
    """The CronJob's bash script: the ``- |`` block under ``args:``, dedented."""
    import textwrap

    source = text("aura-db-cronjob.yaml")
    block = source.split("args:\n", 1)[1].split("- |\n", 1)[1]
    lines = []
    for line in block.splitlines():
        if line.strip() and not line.startswith(" " * 18):
            break
        lines.append(line)
    return textwrap.dedent("\n".join(lines))


def _yaml_loader() -> list[str] | None:
    """A command that reads YAML on stdin and prints it as JSON, if a YAML parser is at hand."""
    code = "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"
    for python in (sys.executable, shutil.which("python3"), "/usr/bin/python3"):
        if python and Path(python).exists() and subprocess.run([python, "-c", "import yaml"],
                                                               capture_output=True).returncode == 0:
            return [python, "-c", code]
    return None


def test_the_cronjob_parses_as_yaml_where_a_parser_is_at_hand():
    loader = _yaml_loader()
    if loader is None:
        pytest.skip("no YAML parser here (PyYAML is not an aura-db dependency): the structural check runs")
    r = subprocess.run(loader, input=text("aura-db-cronjob.yaml"), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    job = doc["spec"]["jobTemplate"]["spec"]
    container = job["template"]["spec"]["containers"][0]
    assert doc["kind"] == "CronJob" and doc["spec"]["concurrencyPolicy"] == "Forbid"
    assert isinstance(job["backoffLimit"], int)
    # The structural check read the same script the parser does.
    assert container["args"][0].strip() == _script().strip()
    assert {e["name"] for e in container["env"]} == {"AURA_DB_URL", "AURA_DB_BACKUP_DIR"}


# --------------------------------------------------------------------------
# The commands, run with the real CLI


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AURA_DB_")}
    env.update(AURA_DB_URL=f"sqlite:///{tmp / 'aura.db'}", AURA_DB_BACKUP_DIR=str(tmp / "backups"),
               PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
    return env


def _aura_db(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aura_db", *args], cwd=tmp, env=_env(tmp), capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(("name", "step"), [(n, s) for n in RUNNERS for s in range(3)])
def test_each_command_line_runs_with_the_real_cli(tmp_path, name, step):
    args = commands_of(name)[step]
    if args[args.index("-q") + 1 if "-q" in args else 0] == "purge" and not purge_registered():
        pytest.skip("`aura-db purge` is not registered in this build yet (it is added by another part of "
                    "issue 15); its line follows the contract in the CLI spec")
    assert _aura_db(tmp_path, "-q", "migrate").returncode == 0
    assert _aura_db(tmp_path, "-q", "backup").returncode == 0
    r = _aura_db(tmp_path, *args)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)  # --json: one document
    assert all(d["ok"] for d in doc) if isinstance(doc, list) else doc["ok"] is True


def _localized(source: str, tmp: Path) -> str:
    """The file with its install and data paths under ``tmp`` (and aura-db where this one is)."""
    return (source.replace("/tmp/", f"{tmp}/k8s-").replace("/etc/aura-db/aura-db.env", str(tmp / "aura-db.env"))
            .replace("/var/lib/aura-db", str(tmp / "lib")).replace("/var/backups/aura-db", str(tmp / "backups"))
            .replace(INSTALLED, str(BIN)))


def _damaged_backup_folder(tmp: Path) -> None:
    (tmp / "lib").mkdir()
    (tmp / "aura-db.env").write_text(f"AURA_DB_URL='sqlite:///{tmp / 'aura.db'}'\n")
    assert _aura_db(tmp, "-q", "migrate").returncode == 0
    r = _aura_db(tmp, "-q", "backup", "--json")
    assert r.returncode == 0, r.stderr
    flip_byte(Path(json.loads(r.stdout)["path"]))


@pytest.fixture
def jq(require_tool):
    return require_tool("jq")  # the schedules use it to pick the error


def test_the_cron_line_stops_at_a_damaged_backup_and_says_so(tmp_path, jq):
    _damaged_backup_folder(tmp_path)
    source = _localized(text("aura-db.cron"), tmp_path)
    _, _, command = cron_jobs(source)[0]
    env = {k: v for k, v in _env(tmp_path).items() if k != "AURA_DB_URL"}  # from the env file, as cron would
    env.update(line.split("=", 1) for line in source.splitlines() if re.match(r"^[A-Z_]+=", line))
    env["PATH"] = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    r = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=180,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 3, r  # the spec's "a check failed"
    assert r.stdout == ""  # cron mails output: a good run is silent, a failed one says one line
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "damaged" in errors[0], r.stderr
    assert not (tmp_path / "lib" / "purge.json").exists()  # stopped before purge
    pick = re.search(r"jq -r '(.*?)' /var/lib/aura-db/\*\.json", text("aura-db.cron").replace("\n#         ", " "),
                     re.S)
    assert pick, "the cron file shows the jq line"
    r = subprocess.run(["jq", "-r", pick.group(1), str(tmp_path / "lib" / "verify.json")], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and "sha256 differs" in r.stdout, r


def test_the_cronjob_script_stops_at_a_damaged_backup_and_says_so(tmp_path, jq):
    _damaged_backup_folder(tmp_path)
    script = _localized(_script(), tmp_path)
    r = subprocess.run(["bash", "-c", script], env=_env(tmp_path), capture_output=True, text=True, timeout=180,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 3, r
    said = [line for line in r.stderr.splitlines() if line.startswith("aura-db verify failed")]
    assert said and said[0].startswith("aura-db verify failed with exit code 3: ") and "sha256 differs" in said[0]


def test_the_cronjob_script_runs_every_step_on_a_good_folder(tmp_path, jq):
    if not purge_registered():
        pytest.skip("`aura-db purge` is not registered in this build yet (another part of issue 15)")
    (tmp_path / "lib").mkdir()
    assert _aura_db(tmp_path, "-q", "migrate").returncode == 0
    r = subprocess.run(["bash", "-c", _localized(_script(), tmp_path)], env=_env(tmp_path), capture_output=True,
                       text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(docs) == 3 and docs[0]["kind"] == "regular"
