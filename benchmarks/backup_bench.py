"""Backup and restore speed and memory against baselines measured in the same run.

Builds a SQLite database of typical Aura data (JSON-ish project/scene text and
some incompressible blobs), then times, with a warm page cache:

  baselines   cp, cp + fsync (the physical limit), sqlite3 ".backup",
              sha256 of the file, PRAGMA quick_check
  aura-db     backup (none / zstd / gzip), backup verify, restore

Every aura-db figure is a real `python -m aura_db ...` process (start-up
included), and its peak memory comes from the kernel (wait4 rusage).  Each
restore is also compared with a cp + fsync of the same backup file measured
just before it.

    python benchmarks/backup_bench.py                 # ~1 GB
    python benchmarks/backup_bench.py --size-mb 200   # quicker

Encryption (age, --encrypt-to) instead of the above:

    python benchmarks/backup_bench.py --encryption --size-mb 200    # the ratio, quickly
    python benchmarks/backup_bench.py --encryption                  # ~1 GB: also the memory check

an encrypted zstd backup against the same unencrypted zstd backup of the same
database, interleaved run by run (target: at least 0.8x the speed), then the
peak memory of the encrypted backup (zstd and uncompressed), verify
--identity and restore --identity, at --size-mb and at a small database
(--small-mb): streaming keeps the two the same.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build(path: Path, size_mb: int) -> None:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=DELETE")
    con.execute("PRAGMA synchronous=OFF")
    con.execute(
        "CREATE TABLE ProjectStates (Id INTEGER PRIMARY KEY, Title TEXT, Status TEXT, JobId TEXT, "
        "CurrentStage TEXT, BriefJson TEXT, PlanSpecJson TEXT, CreatedAt TEXT)")
    con.execute(
        "CREATE TABLE SceneStates (Id INTEGER PRIMARY KEY, ProjectId INTEGER, SceneIndex INTEGER, "
        "ScriptText TEXT, AudioFilePath TEXT, ImageFilePath TEXT, DurationSeconds REAL, Thumbnail BLOB)")
    con.execute("CREATE INDEX IX_Scenes_Project ON SceneStates (ProjectId, SceneIndex)")
    # One batch is about 10 MB; text repeats the way real scripts and JSON do,
    # and each scene carries a small incompressible thumbnail.
    batch = 4000
    target = size_mb * 1024 * 1024
    i = 0
    while path.stat().st_size < target:
        con.execute(
            "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < ?) "
            "INSERT INTO SceneStates (ProjectId, SceneIndex, ScriptText, AudioFilePath, ImageFilePath, "
            "DurationSeconds, Thumbnail) SELECT ? + k / 12, k % 12, "
            "printf('Scene %d: the narrator explains step %d of the tutorial while the camera pans across "
            "the workshop; b-roll of hands at work, lower third shows the chapter title. %s', k, k % 7, "
            "lower(hex(randomblob(12)))), printf('/media/audio/project_%d/scene_%d.wav', ? + k / 12, k % 12), "
            "printf('/media/images/project_%d/scene_%d.png', ? + k / 12, k % 12), (k % 90) / 3.0, "
            "zeroblob(0) || randomblob(400) FROM n", (batch, i, i, i))
        con.execute(
            "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < ?) "
            "INSERT INTO ProjectStates (Title, Status, JobId, CurrentStage, BriefJson, PlanSpecJson, CreatedAt) "
            "SELECT printf('Project %d', ? + k), 'InProgress', lower(hex(randomblob(16))), 'Render', "
            "printf('{\"topic\": \"How to build a workbench, part %d\", \"audience\": \"beginners\", "
            "\"tone\": \"friendly\", \"language\": \"en-US\", \"durationMinutes\": %d}', k, k % 20), "
            "printf('{\"targetDurationMinutes\": %d, \"pacing\": \"Conversational\", \"density\": \"Balanced\", "
            "\"style\": \"Educational\", \"scenes\": %d}', k % 20, k % 12), datetime('now') FROM n",
            (batch // 12, i))
        con.commit()
        i += batch
    con.close()


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def settle() -> None:
    # Flush what earlier steps left dirty (and the discards of deleted files)
    # so one measurement does not pay for the previous one's writeback.
    os.sync()
    time.sleep(0.5)


def warm(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def timed(fn) -> float:
    settle()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run(argv: list[str], cwd: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one process."""
    env = dict(os.environ)
    env.pop("AURA_DB_URL", None)
    settle()
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode() if p.stderr else ""
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({p.returncode}): {err}")
    run.cpu = usage.ru_utime + usage.ru_stime  # type: ignore[attr-defined]  # CPU seconds of the last run
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=1024, help="size of the database to build (default 1024)")
    ap.add_argument("--dir", type=Path, default=None, help="where to work (default: a temporary folder)")
    ap.add_argument("--repeat", type=int, default=2, help="best of N for every figure (default 2)")
    ap.add_argument("--skip-gzip", action="store_true", help="gzip is slow; skip it")
    ap.add_argument("--encryption", action="store_true",
                    help="measure encrypted (age) backups against unencrypted ones instead")
    ap.add_argument("--small-mb", type=int, default=32,
                    help="with --encryption: the small database whose peak memory is compared (default 32)")
    args = ap.parse_args()
    if args.encryption:
        encryption(args)
        return

    work = Path(tempfile.mkdtemp(prefix="aura-backup-bench-", dir=args.dir))
    db = work / "aura.db"
    aura = [sys.executable, "-m", "aura_db", "--db", str(db), "--backup-dir", str(work / "backups")]
    try:
        t = timed(lambda: build(db, args.size_mb))
        size = db.stat().st_size
        mb = size / 1e6
        print(f"database: {mb:.0f} MB built in {t:.1f}s ({work})")
        warm(db)

        def best(fn) -> float:
            return min(fn() for _ in range(args.repeat))

        out = work / "copy.db"

        def cp() -> float:
            with contextlib_suppress():
                out.unlink()
            return timed(lambda: shutil.copyfile(db, out))

        def cp_fsync() -> float:
            with contextlib_suppress():
                out.unlink()
            return timed(lambda: (shutil.copyfile(db, out), fsync_file(out)))

        def unlink() -> float:
            # What replacing a file costs on top of writing the new one: the
            # old one is freed (synchronously where the file system discards).
            with contextlib_suppress():
                out.unlink()
            shutil.copyfile(db, out)
            fsync_file(out)
            return timed(out.unlink)

        def sqlite_backup() -> float:
            with contextlib_suppress():
                out.unlink()
            return timed(lambda: subprocess.run(["sqlite3", str(db), f".backup '{out}'"], check=True))

        def sha() -> float:
            def go():
                h = hashlib.sha256()
                with open(db, "rb", buffering=0) as f:
                    while block := f.read(1 << 20):
                        h.update(block)
            return timed(go)

        def quick_check() -> float:
            def go():
                con = sqlite3.connect(db)
                con.execute("PRAGMA quick_check").fetchall()
                con.close()
            return timed(go)

        base = {
            "cp": best(cp),
            "cp + fsync": best(cp_fsync),
            "sqlite3 .backup": best(sqlite_backup) if shutil.which("sqlite3") else float("nan"),
            "sha256": best(sha),
            "quick_check": best(quick_check),
            "unlink (same size)": best(unlink),
        }
        with contextlib_suppress():
            out.unlink()
        limit = base["cp + fsync"]
        print("\nbaselines (same run, warm cache)")
        for name, secs in base.items():
            print(f"  {name:<18} {secs:6.2f}s  {mb / secs:7.0f} MB/s")

        results = []

        def measure(label: str, argv: list[str], cleanup: bool = True) -> tuple[float, float]:
            runs = []
            for _ in range(args.repeat):
                if cleanup:
                    shutil.rmtree(work / "backups", ignore_errors=True)
                runs.append(run(argv, work))
            secs = min(r[0] for r in runs)
            rss = max(r[1] for r in runs)
            results.append((label, secs, rss))
            return secs, rss

        measure("backup (none)", [*aura, "backup"])
        backup_file = next((work / "backups").glob("aura_backup_*.db"))
        keep = work / "keep.db"
        shutil.move(backup_file, keep)
        shutil.move(f"{backup_file}.json", f"{keep}.json")
        measure("backup --compress zstd", [*aura, "backup", "--compress", "zstd"])
        zst = next((work / "backups").glob("*.zst"))
        zsize = zst.stat().st_size
        if not args.skip_gzip:
            measure("backup --compress gzip", [*aura, "backup", "--compress", "gzip"])
        shutil.rmtree(work / "backups", ignore_errors=True)
        (work / "backups").mkdir(mode=0o700)
        shutil.move(keep, work / "backups" / backup_file.name)
        shutil.move(f"{keep}.json", work / "backups" / f"{backup_file.name}.json")
        measure("backup verify", [*aura, "backup", "verify", backup_file.name], cleanup=False)

        # Restore, each run right after a cp + fsync of the very file it
        # restores, both from a warm cache: the disk's speed drifts over
        # minutes on a shared machine, and the baselines above were taken
        # before all the backups.  Each restore replaces what the one before
        # put in place, as restoring twice would.
        kept = work / "backups" / backup_file.name
        pairs = []
        for _ in range(args.repeat):
            warm(kept)
            with contextlib_suppress():
                out.unlink()
            base_secs = timed(lambda: (shutil.copyfile(kept, out), fsync_file(out)))
            out.unlink()
            warm(kept)
            pairs.append((base_secs, *run([*aura, "restore", backup_file.name, "--yes", "--no-safety-backup"], work)))
        results.append(("restore", min(p[1] for p in pairs), max(p[2] for p in pairs)))

        print(f"\naura-db (whole processes, best of {args.repeat})")
        print(f"  {'':<24} {'seconds':>8} {'MB/s':>7} {'x cp+fsync':>11} {'x .backup':>10} {'peak MB':>8}")
        for label, secs, rss in results:
            print(f"  {label:<24} {secs:8.2f} {mb / secs:7.0f} {secs / limit:11.2f} "
                  f"{secs / base['sqlite3 .backup']:10.2f} {rss:8.0f}")
        print("\nrestore against cp + fsync of the same backup file, measured just before it")
        for i, (base_secs, secs, _) in enumerate(pairs, 1):
            print(f"  run {i}: cp + fsync {base_secs:5.2f}s, restore {secs:5.2f}s: {secs / base_secs:.2f}x")
        best_base = min(p[0] for p in pairs)
        best_restore = min(p[1] for p in pairs)
        print(f"  best of {args.repeat}: {best_restore:.2f}s / {best_base:.2f}s = {best_restore / best_base:.2f}x")
        print(f"\nzstd ratio {size / zsize:.2f} ({zsize / 1e6:.0f} MB)")
        print("targets: backup (none) <= 1.00 x .backup; restore <= 2.00 x cp+fsync; "
              "zstd >= 150 MB/s; peak < 100 MB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def encryption(args: argparse.Namespace) -> None:
    """Encrypted zstd backup against unencrypted zstd, same database, same run; peak memory at two sizes."""
    import pyrage

    work = Path(tempfile.mkdtemp(prefix="aura-backup-bench-age-", dir=args.dir))
    try:
        ident = pyrage.x25519.Identity.generate()
        key = work / "key.txt"
        key.write_text(f"# benchmark key\n{ident}\n")
        key.chmod(0o600)
        recipient = str(ident.to_public())

        def aura(db: Path, *rest: str) -> list[str]:
            return [sys.executable, "-m", "aura_db", "--db", str(db), "--backup-dir", str(work / "backups"), *rest]

        cpu: dict[str, list[float]] = {"plain": [], "sealed": []}

        def once(db: Path, *rest: str) -> tuple[float, float]:
            shutil.rmtree(work / "backups", ignore_errors=True)
            out = run(aura(db, "backup", "--keep", "1", *rest), work)
            cpu["sealed" if "--encrypt-to" in rest else "plain"].append(run.cpu)  # type: ignore[attr-defined]
            return out

        db = work / "aura.db"
        t = timed(lambda: build(db, args.size_mb))
        mb = db.stat().st_size / 1e6
        print(f"database: {mb:.0f} MB built in {t:.1f}s ({work})")
        warm(db)
        plain_runs, sealed_runs = [], []
        for _ in range(max(args.repeat, 3)):
            # Interleaved: a disk or a neighbour that slows down for a minute
            # slows both kinds alike.
            plain_runs.append(once(db, "--compress", "zstd"))
            sealed_runs.append(once(db, "--compress", "zstd", "--encrypt-to", recipient))
        plain, sealed = min(r[0] for r in plain_runs), min(r[0] for r in sealed_runs)
        print(f"\nbackup --compress zstd, best of {len(plain_runs)} (whole processes, warm cache)")
        print(f"  {'':<26} {'seconds':>8} {'MB/s':>7} {'peak MB':>8}")
        print(f"  {'unencrypted':<26} {plain:8.2f} {mb / plain:7.0f} {max(r[1] for r in plain_runs):8.0f}")
        print(f"  {'--encrypt-to (age)':<26} {sealed:8.2f} {mb / sealed:7.0f} {max(r[1] for r in sealed_runs):8.0f}")
        print(f"  speed ratio encrypted / unencrypted: {plain / sealed:.2f}x  (target >= 0.80x)")
        print("  each pair: " + ", ".join(f"{p[0] / s[0]:.2f}x" for p, s in zip(plain_runs, sealed_runs)))
        # CPU time (user + system, both threads) moves less than wall time on a busy machine.
        print(f"  CPU seconds, best: unencrypted {min(cpu['plain']):.2f}, encrypted {min(cpu['sealed']):.2f}: "
              f"{min(cpu['plain']) / min(cpu['sealed']):.2f}x")

        def memory(target: Path) -> dict[str, tuple[float, float]]:
            out = {}
            out["backup zstd + age"] = once(target, "--compress", "zstd", "--encrypt-to", recipient)
            out["backup none + age"] = once(target, "--encrypt-to", recipient)
            name = next((work / "backups").glob("*.age")).name
            out["verify --identity"] = run(aura(target, "backup", "verify", name, "--identity", str(key)), work)
            out["restore --identity"] = run(aura(target, "restore", name, "--yes", "--no-safety-backup",
                                                 "--identity", str(key)), work)
            return out

        big = memory(db)
        small_db = work / "small.db"
        build(small_db, args.small_mb)
        small_mb = small_db.stat().st_size / 1e6
        small = memory(small_db)
        print(f"\npeak resident memory (MB, from wait4) at {small_mb:.0f} MB and at {mb:.0f} MB")
        print(f"  {'':<22} {f'{small_mb:.0f} MB db':>10} {f'{mb:.0f} MB db':>10} {'seconds':>8}")
        for label in big:
            print(f"  {label:<22} {small[label][1]:10.0f} {big[label][1]:10.0f} {big[label][0]:8.2f}")
        print("targets: encrypted zstd >= 0.80x unencrypted zstd; peak memory the same at both sizes (< 100 MB)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


class contextlib_suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and issubclass(exc[0], FileNotFoundError)


if __name__ == "__main__":
    main()
