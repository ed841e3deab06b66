"""`aura-db copy` into PostgreSQL against pgloader moving the same SQLite file, in the same run.

Builds a synthetic Aura database (`aura-db seed synthetic --projects N`, about
52 rows per project: N=1300 gives ~67,000 rows, the size the issue measured
pgloader on), then, for each round, creates two fresh PostgreSQL databases and
times (wall clock, whole processes, start-up included):

  pgloader   pgloader SOURCE.db postgresql://.../fresh_a   (its defaults)
  aura-db    python -m aura_db --db SOURCE.db copy --to postgresql://.../fresh_b --yes --json
             (schema by aura-db's migrations, every row by COPY, per-table checksums on both
             sides, then status --check and verify on the copy)

and prints both times, their ratio (target: aura-db <= 0.5x pgloader) and the
row counts of both results, table by table where they differ.  pgloader is
installed with apt-get when it is missing.

    python benchmarks/copy_bench.py --pg postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/copy_bench.py --projects 300 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def ensure_pgloader() -> str:
    found = shutil.which("pgloader")
    if found:
        return found
    print("pgloader is missing: apt-get install -y pgloader", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "pgloader"], check=True, stdout=subprocess.DEVNULL)
    found = shutil.which("pgloader")
    if not found:
        raise SystemExit("pgloader could not be installed")
    return found


def with_db(url: str, name: str) -> str:
    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, f"/{name}", p.query, ""))


def admin(url: str):
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    return conn


def create_db(url: str) -> str:
    name = f"aura_bench_{uuid.uuid4().hex[:10]}"
    conn = admin(url)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    conn.close()
    return name


def drop_db(url: str, name: str) -> None:
    conn = admin(url)
    with conn.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
    conn.close()


def row_counts(url: str) -> dict[str, int]:
    conn = admin(url)
    out = {}
    with conn.cursor() as cur:
        cur.execute("SELECT table_schema, table_name FROM information_schema.tables "
                    "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')")
        for schema, table in cur.fetchall():
            cur.execute(f'SELECT count(*) FROM "{schema}"."{table}"')
            out[table] = cur.fetchone()[0]
    conn.close()
    return out


def aura(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aura_db", *args], cwd=cwd, capture_output=True, text=True)


def timed(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - t0, proc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pg", default=os.environ.get("AURA_DB_TEST_POSTGRES_URL",
                                                    "postgresql://postgres@127.0.0.1:5432/postgres"),
                    help="an administrative URL of the PostgreSQL server (fresh databases are made there)")
    ap.add_argument("--projects", type=int, default=1300, help="synthetic projects (~52 rows each)")
    ap.add_argument("--rounds", type=int, default=1, help="rounds, each with two fresh databases")
    args = ap.parse_args()
    pgloader = ensure_pgloader()

    with tempfile.TemporaryDirectory(prefix="aura-copy-bench-") as tmp:
        work = Path(tmp)
        src = work / "aura.db"
        for step in (["--db", str(src), "migrate"],
                     ["--db", str(src), "seed", "synthetic", "--projects", str(args.projects)]):
            proc = aura(*step, cwd=work)
            if proc.returncode != 0:
                raise SystemExit(f"aura-db {' '.join(step)} failed: {proc.stderr}")
        import sqlite3

        con = sqlite3.connect(src)
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        source_counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        con.close()
        total = sum(source_counts.values())
        print(f"source: {src.stat().st_size / 1e6:.1f} MB SQLite, {len(tables)} tables, {total} rows "
              f"({args.projects} synthetic projects)")

        times_pgl, times_aura = [], []
        for r in range(args.rounds):
            a, b = create_db(args.pg), create_db(args.pg)
            try:
                # pgloader first in odd rounds, second in even ones: neither always gets the warm cache.
                order = [("pgloader", a), ("aura-db", b)]
                if r % 2:
                    order.reverse()
                for who, name in order:
                    target = with_db(args.pg, name)
                    if who == "pgloader":
                        t, proc = timed([pgloader, str(src), target], work)
                        if proc.returncode != 0:
                            raise SystemExit(f"pgloader failed: {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
                        times_pgl.append(t)
                        counts_pgl = row_counts(target)
                    else:
                        t, proc = timed([sys.executable, "-m", "aura_db", "--db", str(src), "copy", "--to", target,
                                         "--yes", "--json"], work)
                        if proc.returncode != 0:
                            raise SystemExit(f"aura-db copy failed: {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
                        report = json.loads(proc.stdout)
                        times_aura.append(t)
                        counts_aura = row_counts(target)
                    print(f"round {r + 1}: {who:8s} {t:6.2f} s")
            finally:
                drop_db(args.pg, a)
                drop_db(args.pg, b)

        pgl, aur = statistics.median(times_pgl), statistics.median(times_aura)
        print()
        print(f"pgloader  {pgl:6.2f} s   rows {sum(counts_pgl.values())} in {len(counts_pgl)} tables "
              f"(table names folded to lower case: {sorted(counts_pgl)[:3]}...)")
        print(f"aura-db   {aur:6.2f} s   rows {sum(counts_aura.values())} in {len(counts_aura)} tables "
              f"(checksums equal in all {len(report['tables'])} tables: {report['all_match']}; "
              f"status --check {report['status_check']}, verify {report['verify']})")
        per_round = ", ".join(f"{a / p:.2f}" for a, p in zip(times_aura, times_pgl))
        print(f"ratio aura-db / pgloader: {aur / pgl:.2f} of the medians; per round {per_round}  "
              f"(target <= 0.50: {'met' if aur / pgl <= 0.5 else 'NOT met'})")
        print("  (aura-db's aura_migration_log holds one row more than the source: the copy's own record)")
        lower = {k.lower(): v for k, v in source_counts.items()}
        for name, counts in (("pgloader", counts_pgl), ("aura-db", counts_aura)):
            diff = {t: (lower.get(t.lower()), n) for t, n in counts.items() if lower.get(t.lower()) != n}
            if diff:
                print(f"  {name}: row counts differing from the source (source, copy): {diff}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
