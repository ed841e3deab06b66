"""How fast `aura-db seed synthetic` writes, next to plain sqlite3 executemany.

Seeds N projects (default 2,000) into a freshly migrated SQLite database
through aura_db.seed, then inserts exactly the rows it wrote into a second
freshly migrated database with nothing but the sqlite3 module's executemany,
one prepared INSERT per table, in one transaction: the fastest a Python
program can put those rows into that schema.  Both are measured in this run
on this machine; the ratio is what matters (target: at least 0.5).

    python benchmarks/seed_bench.py [--projects 2000] [--repeat 3] [--random-seed 42]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aura_db.db import engine_for  # noqa: E402
from aura_db.migrations import default_migrations_dir, migrate  # noqa: E402
from aura_db.seed import FLUSH_ORDER, SyntheticSpec, seed_synthetic  # noqa: E402


def seeded_rows(path: Path) -> dict[str, tuple[list[str], list[tuple]]]:
    con = sqlite3.connect(path)
    try:
        out = {}
        for table in FLUSH_ORDER:
            cur = con.execute(f'SELECT * FROM "{table}"')
            out[table] = ([d[0] for d in cur.description], cur.fetchall())
        return out
    finally:
        con.close()


def baseline(path: Path, rows: dict[str, tuple[list[str], list[tuple]]]) -> float:
    con = sqlite3.connect(path, isolation_level=None)
    t0 = time.perf_counter()
    con.execute("BEGIN")
    for table in FLUSH_ORDER:
        cols, data = rows[table]
        sql = (f'INSERT INTO "{table}" ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in cols)}) '
               f'VALUES ({", ".join("?" * len(cols))})')
        con.executemany(sql, data)
    con.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    con.close()
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--projects", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each; medians are compared")
    ap.add_argument("--random-seed", type=int, default=42)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="aura-seed-bench-") as tmp:
        tmpdir = Path(tmp)
        template = tmpdir / "template.db"
        migrate(engine_for(f"sqlite:///{template}"), default_migrations_dir())
        spec = SyntheticSpec(projects=args.projects, random_seed=args.random_seed)
        seed_times, base_times, nrows = [], [], 0
        for i in range(args.repeat):
            a, b = tmpdir / f"seed-{i}.db", tmpdir / f"base-{i}.db"
            shutil.copy(template, a)
            shutil.copy(template, b)
            t0 = time.perf_counter()
            result = seed_synthetic(engine_for(f"sqlite:///{a}"), default_migrations_dir(), spec)
            seed_times.append(time.perf_counter() - t0)
            rows = seeded_rows(a)
            nrows = sum(len(r) for _, r in rows.values())
            assert nrows == result.rows_created, (nrows, result.rows_created)
            base_times.append(baseline(b, rows))
        seed_s, base_s = statistics.median(seed_times), statistics.median(base_times)
        print(f"projects            {args.projects:,} ({nrows:,} rows in {len(FLUSH_ORDER)} tables)")
        print(f"aura-db seed        {seed_s:7.3f} s  {nrows / seed_s:12,.0f} rows/s   (median of {args.repeat})")
        print(f"sqlite3 executemany {base_s:7.3f} s  {nrows / base_s:12,.0f} rows/s   (same rows, same schema)")
        ratio = base_s / seed_s
        print(f"ratio               {ratio:.2f} of the baseline (target >= 0.50): {'ok' if ratio >= 0.5 else 'BELOW TARGET'}")
        return 0 if ratio >= 0.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
