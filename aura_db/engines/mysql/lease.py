"""The migration lock on a Galera cluster: a lease row, committed to take it, renewed while the run lasts.

On Galera, ``GET_LOCK`` and row locks are local to the node that grants them:
two runs, one per node, both "hold" the lock.  Only a committed write is
certified cluster-wide, in one total order: of two conflicting writes to the
same row on two nodes, one commits and the other's COMMIT fails (deadlock,
1213) or its INSERT meets the winner's row (duplicate key, 1062).  So the lock
is one row of ``aura_migration_lock`` (primary key ``name``), and holding it
means having committed it:

* taking it: in a transaction, read the row; take it when there is none, when
  it has expired (``expires_at``, in the server's UTC clock), or at once when
  its holder ran on this machine (same host name and PID namespace) and that
  process is gone (a SIGKILLed run); then COMMIT.  A COMMIT that fails on a
  conflict means another node's run got there first: wait and try again;
* holding it: a heartbeat thread, on its own connection, pushes
  ``expires_at`` forward every few seconds; if it finds the row taken over
  (the run stalled past the expiry), the lease is ``lost`` and the run stops
  before its next step;
* releasing it: the row is deleted when the run ends, however it ends short
  of SIGKILL; after SIGKILL it expires (or is taken over at once from this
  machine).

Expiry compares times of one node's clock only (each node reads its own):
the nodes' clocks must agree to well within ``TTL`` (NTP does that).
A single DDL statement that runs longer than ``TTL`` holds up the
heartbeat's write (Galera applies DDL in total order) and may let another
run take the lease over; ``TTL`` is generous for that reason.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from aura_db.errors import LeaseLost, LockTimeout
from aura_db.tables import LOCK_TABLE

if TYPE_CHECKING:
    import peewee as pw

    from aura_db.engines.mysql.base import MysqlEngine

TTL = 60  # seconds a lease lives without a heartbeat
HEARTBEAT = 5.0  # seconds between heartbeats
LOCK_NAME = "migrate"
# Errors that mean "another node's run wrote the row first": try again.
_RACE_ERRORS = (1213, 1062, 1205)


def origin() -> str:
    """Where a process id means something: this host name, PID namespace and boot."""
    parts = [socket.gethostname()]
    with contextlib.suppress(OSError):
        parts.append(os.readlink("/proc/self/ns/pid"))
    with contextlib.suppress(OSError):
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            parts.append(f.read().strip())
    return "|".join(parts)[:255]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


CREATE = (
    f"CREATE TABLE IF NOT EXISTS {LOCK_TABLE} ("
    "name VARCHAR(64) NOT NULL PRIMARY KEY, "
    "holder CHAR(32) NOT NULL, "
    "host VARCHAR(255) NOT NULL, "
    "origin VARCHAR(255) NOT NULL, "
    "pid INT NOT NULL, "
    "acquired_at DATETIME(6) NOT NULL, "
    "expires_at DATETIME(6) NOT NULL"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
)


class Lease:
    """One run's hold on the lease row (``acquire`` / ``release``), renewed by a heartbeat thread."""

    def __init__(self, engine: "MysqlEngine", timeout: float):
        self.engine = engine
        self.timeout = max(timeout, 0.0)
        self.holder = uuid.uuid4().hex
        self.host = socket.gethostname()[:255]
        self.origin = origin()
        self.pid = os.getpid()
        self.lost = False
        self._db: "pw.Database | None" = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- taking it ---------------------------------------------------------
    def acquire(self) -> None:
        self._db = self.engine.open()
        db = self._db
        try:
            db.execute_sql(CREATE)
            deadline = time.monotonic() + self.timeout
            while True:
                try:
                    other = self._try(db)
                except Exception as exc:  # noqa: BLE001 - peewee's wrapping of the driver's error
                    if _code(exc) not in _RACE_ERRORS:
                        raise
                    # Another node's run committed the row first: wait as for any holder.
                    other = self._read(db) or ("", "", "", 0, None, 0)
                if other is None:
                    break
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"another aura-db holds the migration lock on {self.engine.url.redacted}{_who(other)}",
                        hint="wait for it to finish (a run killed on another machine holds it until its "
                             f"lease expires, at most {TTL} s), or raise --lock-timeout",
                    )
                time.sleep(0.2)
        except BaseException:
            self._close()
            raise
        self._thread = threading.Thread(target=self._beat, name="aura-db lease", daemon=True)
        self._thread.start()

    def _read(self, db: "pw.Database") -> tuple[Any, ...] | None:
        with contextlib.suppress(Exception):
            return db.execute_sql(
                f"SELECT holder, host, origin, pid, acquired_at, "
                f"TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(6), expires_at) FROM {LOCK_TABLE} WHERE name = %s",
                (LOCK_NAME,)).fetchone()
        return None

    def _try(self, db: "pw.Database") -> tuple[Any, ...] | None:
        """Take the row if it is free: None when taken (committed), else the holder's row."""
        with db.atomic():
            row = db.execute_sql(
                f"SELECT holder, host, origin, pid, acquired_at, "
                f"TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(6), expires_at), expires_at > UTC_TIMESTAMP(6) "
                f"FROM {LOCK_TABLE} WHERE name = %s FOR UPDATE", (LOCK_NAME,)).fetchone()
            mine = (self.holder, self.host, self.origin, self.pid, TTL)
            if row is None:
                db.execute_sql(
                    f"INSERT INTO {LOCK_TABLE} (name, holder, host, origin, pid, acquired_at, expires_at) "
                    f"VALUES (%s, %s, %s, %s, %s, UTC_TIMESTAMP(6), "
                    f"UTC_TIMESTAMP(6) + INTERVAL %s SECOND)", (LOCK_NAME, *mine))
                return None
            holder, _host, their_origin, pid, _at, _left, live = row
            dead_here = their_origin == self.origin and not pid_alive(int(pid))
            if live and not dead_here:
                return row[:6]
            db.execute_sql(
                f"UPDATE {LOCK_TABLE} SET holder = %s, host = %s, origin = %s, pid = %s, "
                f"acquired_at = UTC_TIMESTAMP(6), expires_at = UTC_TIMESTAMP(6) + INTERVAL %s SECOND "
                f"WHERE name = %s AND holder = %s", (*mine, LOCK_NAME, holder))
            return None
        # COMMIT ran on leaving atomic(): a conflict raised there (1213), which acquire() retries.

    # -- holding it --------------------------------------------------------
    def _beat(self) -> None:
        # peewee keeps one connection per thread: the heartbeat has its own,
        # so a long statement of the run (or of acquire's connection) never holds it up.
        db = self._db
        assert db is not None
        try:
            self._beat_on(db)
        finally:
            with contextlib.suppress(Exception):
                db.close()  # this thread's connection

    def _beat_on(self, db: "pw.Database") -> None:
        last_ok = time.monotonic()
        while not self._stop.wait(HEARTBEAT):
            try:
                cur = db.execute_sql(
                    f"UPDATE {LOCK_TABLE} SET expires_at = UTC_TIMESTAMP(6) + INTERVAL %s SECOND "
                    f"WHERE name = %s AND holder = %s", (TTL, LOCK_NAME, self.holder))
                if cur.rowcount == 0 and not self._still_mine(db):
                    self.lost = True
                    return
                last_ok = time.monotonic()
            except Exception:  # noqa: BLE001 - a conflict or a hiccup: the next beat tries again
                if time.monotonic() - last_ok > TTL:
                    self.lost = True
                    return

    def _still_mine(self, db: "pw.Database") -> bool:
        # rowcount counts changed rows: a renewal within the same microsecond changes nothing.
        row = db.execute_sql(f"SELECT holder FROM {LOCK_TABLE} WHERE name = %s", (LOCK_NAME,)).fetchone()
        return bool(row) and row[0] == self.holder

    def check(self) -> None:
        """Raise LeaseLost when another run took the lease over: the run must not go on."""
        if self.lost:
            raise LeaseLost(
                f"the migration lock on {self.engine.url.redacted} expired (no heartbeat for {TTL} s) and "
                f"another aura-db took it over; this run stopped",
                hint="run `aura-db status` to see where the database stands, then migrate again")

    # -- releasing it ------------------------------------------------------
    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=HEARTBEAT + 5)
        if self._db is not None:
            with contextlib.suppress(Exception):
                self._db.execute_sql(f"DELETE FROM {LOCK_TABLE} WHERE name = %s AND holder = %s",
                                     (LOCK_NAME, self.holder))
        self._close()

    def _close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(Exception):
                self._db.close()
            self._db = None


def _code(exc: BaseException) -> int | None:
    from aura_db.engines.base import error_chain

    for e in error_chain(exc):
        if e.args and isinstance(e.args[0], int):
            return e.args[0]
    return None


def _who(row: tuple[Any, ...]) -> str:
    holder, host, _origin, pid, acquired, left = row[:6]
    if not holder:
        return ""
    since = f" since {acquired:%Y-%m-%d %H:%M:%S} UTC" if hasattr(acquired, "strftime") else ""
    return f" (pid {pid} on {host}{since}; its lease runs out in {max(int(left or 0), 0)} s)"
