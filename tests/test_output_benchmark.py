"""benchmarks/startup.py still runs (one round, no timing asserted)."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_startup_benchmark_runs_every_case():
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "startup.py"), "--runs", "1", "--warmup", "0"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for case in ("python -c pass", "aura-db --help", "aura-db --version", "TAB: migrate --to",
                 "aura-db status (sqlite)"):
        assert any(line.startswith(case) for line in proc.stdout.splitlines()), case
