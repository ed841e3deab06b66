"""How long `aura-db verify` takes next to `PRAGMA quick_check` alone, on a large database.

Builds a SQLite database of the requested size (default 1 GB) from synthetic
Aura data (aura_db.seed, several random seeds), then times, alternately and in
the same run, a bare `PRAGMA quick_check` on its own connection and a full
`verify` (every check: schema, integrity, orphans, reference counts, query
plans...).  One warm-up quick_check first, so both read from the same OS page
cache.  Target: verify at most 1.5x quick_check.

    python benchmarks/verify_bench.py [--size 1GB] [--repeat 3] [--db PATH]

--db keeps the built database at PATH and reuses it on the next run when it is
already large enough.  Use --size 200MB for a quick run.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aura_db.db import engine_for  # noqa: E402
from aura_db.migrations import default_migrations_dir, migrate  # noqa: E402
from aura_db.seed import SyntheticSpec, seed_synthetic  # noqa: E402
from aura_db.verify import verify  # noqa: E402

UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}


def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*([\d.]+)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in UNITS:
        raise argparse.ArgumentTypeError(f"size like 1GB, 200MB or 500MiB, not {text!r}")
    return int(float(m.group(1)) * UNITS[m.group(2).lower()])


def build(path: Path, size: int) -> None:
    engine = engine_for(f"sqlite:///{path}")
    if not path.exists():
        migrate(engine, default_migrations_dir())
    seed = 1000
    while path.stat().st_size < size:
        seed += 1
        t0 = time.perf_counter()
        r = seed_synthetic(engine, default_migrations_dir(), SyntheticSpec(projects=10_000, random_seed=seed))
        print(f"  seeded {r.rows_created:,} rows (random seed {seed}) in {time.perf_counter() - t0:.1f}s; "
              f"file {path.stat().st_size / 1e6:,.0f} MB", file=sys.stderr)


def quick_check(path: Path) -> float:
    con = sqlite3.connect(path)
    t0 = time.perf_counter()
    result = con.execute("PRAGMA quick_check").fetchall()
    elapsed = time.perf_counter() - t0
    con.close()
    assert result == [("ok",)], result[:3]
    return elapsed


def run_verify(path: Path) -> float:
    t0 = time.perf_counter()
    report = verify(engine_for(f"sqlite:///{path}"), default_migrations_dir())
    elapsed = time.perf_counter() - t0
    assert report.ok, [(c.check, c.detail) for c in report.failed]
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=parse_size, default=parse_size("1GB"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--db", type=Path, help="build (or reuse) the database here and keep it")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="aura-verify-bench-") as tmp:
        path = args.db.resolve() if args.db else Path(tmp) / "large.db"
        print(f"building {path} to {args.size / 1e6:,.0f} MB ...", file=sys.stderr)
        build(path, args.size)
        quick_check(path)  # warm-up: the same page cache for both
        qc, vf = [], []
        for _ in range(args.repeat):
            qc.append(quick_check(path))
            vf.append(run_verify(path))
        q, v = statistics.median(qc), statistics.median(vf)
        print(f"database            {os.path.getsize(path) / 1e6:,.0f} MB, {os.cpu_count()} CPU(s)")
        print(f"PRAGMA quick_check  {q:7.2f} s   (median of {args.repeat})")
        print(f"aura-db verify      {v:7.2f} s   (median of {args.repeat}, all 13 checks)")
        ratio = v / q
        print(f"ratio               {ratio:.2f}x quick_check (target <= 1.50): {'ok' if ratio <= 1.5 else 'ABOVE TARGET'}")
        return 0 if ratio <= 1.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
