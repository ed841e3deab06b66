"""Start-up time of aura-db against bare Python start-up, measured in the same run.

Every TAB press and every CI step starts a new aura-db process, so start-up
is most of what a user waits for.  Absolute milliseconds say more about the
machine than about aura-db; the ratio to ``python -c pass`` measured in the
same run, interleaved, does not.

    python benchmarks/startup.py                 # 30 rounds, ratios and limits
    python benchmarks/startup.py --runs 60 --check   # exit 1 when over a limit
    python benchmarks/startup.py --python /other/venv/bin/python   # compare installs

Limits: one TAB completion (``migrate --to``, and ``inspect table`` on a
migrated SQLite database), ``status`` on a migrated SQLite database and
``--help`` at most 8x bare Python; a bare ``--version`` (answered before
Typer is imported) at most 3x.  Every command line but a bare ``--version``
goes through Typer, and importing Typer is most of that time:
``python -c "import typer"`` is printed too, for reference, as the floor.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _command_prefix(python: str) -> list[str]:
    """How a user starts aura-db: the installed console script beside ``python``."""
    script = Path(python).parent / "aura-db"
    if script.is_file():
        return [str(script)]
    # What the console script does; `python -m aura_db` would be named
    # "python -m aura_db", which the completion variable does not match.
    return [python, "-c", "import sys; sys.argv[0] = 'aura-db'; from aura_db.cli.app import main; main()"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # An installed package has its bytecode compiled; with this variable set
    # every run would compile aura-db's own modules from source, which
    # measures nothing a user ever waits for.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for name in ("AURA_DB_URL", "DATABASE_URL", "AURA_DB_CONFIG", "AURA_DB_MIGRATIONS", "AURA_DB_BACKUP_DIR",
                 "_AURA_DB_COMPLETE"):
        env.pop(name, None)
    return env


def _cases(python: str, db: Path, tag: str = "") -> list[tuple[str, list[str], dict[str, str], float | None]]:
    """(label, argv, extra environment, limit as a multiple of bare start-up)."""
    aura = _command_prefix(python)
    tab = {
        # What bash sends on `aura-db migrate --to <TAB>`: Typer's own protocol.
        "_AURA_DB_COMPLETE": "complete_bash",
        "COMP_WORDS": "aura-db migrate --to ",
        "COMP_CWORD": "3",
    }
    # `aura-db --db DB inspect table <TAB>`: table names read from the
    # migrated SQLite database itself.
    tables = {
        "_AURA_DB_COMPLETE": "complete_bash",
        "COMP_WORDS": f"aura-db --db {db} inspect table ",
        "COMP_CWORD": "5",
    }
    return [
        (f"aura-db --help{tag}", [*aura, "--help"], {}, 8.0),
        (f"aura-db --version{tag}", [*aura, "--version"], {}, 3.0),
        (f"TAB: migrate --to{tag}", aura, tab, 8.0),
        (f"TAB: inspect table (sqlite){tag}", aura, tables, 8.0),
        (f"aura-db status (sqlite){tag}", [*aura, "--db", str(db), "status"], {}, 8.0),
        # For reference, no limit: the floor of every case but --version.
        (f'  python -c "import typer"{tag}', [python, "-c", "import typer"], {}, None),
    ]


def _versions(python: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [python, "-c", "import sys; from importlib.metadata import version as v; "
         "print(sys.version.split()[0], v('typer'))"],
        env=env, capture_output=True, text=True,
    ).stdout.split()
    return f"python {out[0]}, typer {out[1]}" if len(out) == 2 else "?"


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``argv``.

    Runs are sequential, so the growth of RUSAGE_CHILDREN across one run is
    that child's user + system time: a figure that load on the machine
    (other processes competing for the CPUs) distorts far less than wall time.
    """
    cpu_before = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(argv)}\n{proc.stderr.decode()}")
    return elapsed, _children_cpu() - cpu_before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="rounds; each round runs every case once")
    parser.add_argument("--warmup", type=int, default=3, help="rounds run first and not counted")
    parser.add_argument("--python", action="append", default=[],
                        help="interpreter (venv) whose aura-db to measure; repeat to compare installs in one run")
    parser.add_argument("--check", action="store_true", help="exit 1 when a case is over its limit")
    args = parser.parse_args()

    env = _env()
    # Absolute (the cases run in a temporary folder), not resolved (a venv's
    # python is a symlink whose target knows nothing of the venv).
    pythons = [os.path.abspath(p) for p in args.python] or [sys.executable]
    work = Path(tempfile.mkdtemp(prefix="aura-db-bench-"))
    try:
        db = work / "aura.db"
        subprocess.run([*_command_prefix(pythons[0]), "-q", "--db", str(db), "migrate", "--no-backup"],
                       env=env, cwd=work, check=True, stdout=subprocess.DEVNULL)
        cases = [("python -c pass", [pythons[0], "-c", "pass"], {}, None)]
        for n, python in enumerate(pythons, 1):
            # Two installs may carry the same Typer: the number tells them apart.
            tag = f" [{n}: typer {_versions(python, env).rsplit(' ', 1)[-1]}]" if len(pythons) > 1 else ""
            cases += _cases(python, db, tag)
        times: dict[str, list[float]] = {label: [] for label, *_ in cases}
        cpu: dict[str, list[float]] = {label: [] for label, *_ in cases}
        for round_ in range(args.warmup + args.runs):
            # Interleaved, so a burst of load on the machine hits every case alike.
            for label, argv, extra, _ in cases:
                wall, used = _run(argv, {**env, **extra}, work)
                if round_ >= args.warmup:
                    times[label].append(wall)
                    cpu[label].append(used)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    for n, python in enumerate(pythons, 1):
        print(f"[{n}] {python}: {_versions(python, env)}")
    print(f"{args.runs} rounds (+{args.warmup} warm-up), median wall time")
    base = statistics.median(times["python -c pass"])
    cpu_base = statistics.median(cpu["python -c pass"])
    over = []
    print(f"{'case':42} {'wall':>9} {'ratio':>7} {'limit':>6}      {'CPU':>8} {'ratio':>7}")
    for label, _, _, limit in cases:
        med = statistics.median(times[label])
        ratio = med / base
        cpu_med = statistics.median(cpu[label])
        cpu_ratio = cpu_med / cpu_base if cpu_base else float("nan")
        verdict = ""
        if limit is not None:
            verdict = "ok" if ratio <= limit else "OVER"
            if ratio > limit:
                over.append(label)
        limit_text = f"{limit:.0f}x" if limit else ""
        print(f"{label:42} {med * 1000:7.1f}ms {ratio:6.2f}x {limit_text:>6} {verdict:4} "
              f"{cpu_med * 1000:6.1f}ms {cpu_ratio:6.2f}x")
    print("limits apply to the wall-time ratio; the CPU ratio is the same work with less noise from load")
    return 1 if (args.check and over) else 0


if __name__ == "__main__":
    sys.exit(main())
