"""What every engine offers, in the manner of Django's ``db/backends/base/``.

An engine is one class (``<engine>/base.py``) that names its parts:

* ``features``: what the engine can and cannot do (``Features``), as flags;
* ``dialect``: how its SQL is written (``Dialect``): quoting, literals,
  column types of ``aura_db.fields``, default port, how its client runs a script;
* connection and lock: ``open``, ``reader``, ``migration_lock``,
  ``migration_transaction``;
* ``catalog(db)``, ``backup()``, ``bulk_writer(db, quote)``, ``upkeep(db)``: its
  catalog reader, backup, seed writer and upkeep (``aura-db optimize``),
  imported only when asked for.

Callers ask the engine (``engine.features.transactional_ddl``,
``engine.dialect.quote(name)``) and never branch on its name;
``aura_db.engines.registry`` is the one place that maps names to engines.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:  # peewee is imported lazily: `aura-db --help` does not need it
    import peewee as pw

    from aura_db.backup.engine import EngineBackup
    from aura_db.catalog import Catalog
    from aura_db.engines.upkeep import Upkeep
    from aura_db.engines.url import DatabaseURL

# Seconds a server gets to accept a connection and answer its handshake;
# ``?connect_timeout=SECONDS`` in the URL overrides it.  Without a limit, a
# host that accepts the TCP connection and never answers (a firewall, a
# proxy, the wrong port) would hang a CI gate forever.
DEFAULT_CONNECT_TIMEOUT = 10.0


class Features:
    """Feature flags: the defaults, which each engine's ``features.py`` overrides where it differs."""

    # DDL is part of the transaction it runs in: a failed migration rolls back whole.
    transactional_ddl = True
    # The database is a file: one that does not exist holds nothing (it is not
    # "unreachable"), and it is shown by its path, not by a URL.
    database_is_a_file = False
    # One statement checks every foreign key of the database (PRAGMA foreign_key_check).
    checks_foreign_keys_at_once = False
    # Procedural SQL (DO blocks): a script can make each migration run only once.
    procedural_scripts = False
    # CREATE INDEX IF NOT EXISTS: a script may create aura-db's own tables again safely.
    create_index_if_not_exists = True
    # A migration run switches foreign-key enforcement off outside its
    # transaction (SQLite ignores the switch inside one).
    foreign_keys_off_outside_transaction = False
    # `aura-db script` runs the migrations on a scratch database of this engine
    # in the process (``Engine.script_database``) rather than recording them offline.
    scripts_by_running = False
    # Dropping a column drops the indexes that cover it (SQLite refuses instead).
    drops_indexes_with_column = True
    # Integer keys draw from a sequence that rows inserted with explicit ids do
    # not move (PostgreSQL's serial): it must be restarted past them.
    serial_sequences = False
    # Column types are affinities (SQLite): a schema comparison compares them as such;
    # elsewhere adoption compares names, keys and indexes, not the server's types.
    column_types_by_affinity = False
    # The migration lock lives in transactions (PostgreSQL's transaction-level
    # advisory lock), not in a session held for the whole run: each migration's
    # transaction takes it and reads the history again, and the safety backup
    # is taken inside the first transaction that will change something.
    migration_lock_in_transaction = False
    # Schemas inside a database (PostgreSQL): the ``schema`` setting picks the one aura-db works in.
    schemas = False


class Dialect:
    """How an engine's SQL is written.  Each engine's ``dialect.py`` subclasses it."""

    identifier_quote = '"'
    # Column types of aura_db.fields: native types where the engine has them.
    field_types: dict[str, str] = {}
    default_port: int | None = None
    # How the engine's own client is best run on a script: stop at the first
    # error, so a failed migration never leaves later ones running on top of it.
    run_hint = ""
    # The time a history row is written, in UTC, in the engine's SQL.
    utc_now = "CURRENT_TIMESTAMP"
    true_literal, false_literal = "TRUE", "FALSE"
    # DROP INDEX names the table too (DROP INDEX name ON table).
    drop_index_names_table = False

    def default_literal(self, value: bool) -> str:
        """A boolean as a column DEFAULT, spelled as the Aura app's migrations (EF Core) spell it."""
        return "1" if value else "0"

    def quote(self, name: str) -> str:
        """``name`` as an identifier, whatever it holds."""
        q = self.identifier_quote
        return q + name.replace(q, q + q) + q

    def literal(self, value: Any) -> str:
        """``value`` as an SQL literal of this engine (for scripts a DBA reads)."""
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return self.true_literal if value else self.false_literal
        if isinstance(value, (int, float)):
            return repr(value)
        if isinstance(value, dt.datetime):
            value = value.isoformat(sep=" ")
        elif isinstance(value, (dt.date, dt.time)):
            value = value.isoformat()
        elif isinstance(value, bytes):
            return "X'" + value.hex() + "'"
        return "'" + str(value).replace("'", "''") + "'"


PRIMARY, STANDBY, READ_ONLY = "primary", "standby", "read-only"


@dataclass(frozen=True)
class Role:
    """What a database lets aura-db do: write (``primary``) or only read.

    ``standby``: a server replaying another's changes (a PostgreSQL hot
    standby, a MySQL replica set read-only); ``primary`` then says where
    writes go ("host:port"), when the server tells.  ``read-only``: a
    database that refuses writes for another reason (a read-only SQLite file
    or folder, ``default_transaction_read_only``, MySQL ``read_only``);
    ``reason`` says which, in a few words.
    """

    role: str = PRIMARY
    reason: str | None = None
    primary: str | None = None

    @property
    def read_only(self) -> bool:
        return self.role != PRIMARY

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "read_only": self.read_only, "role_reason": self.reason,
                "primary": self.primary}


class Engine:
    """What aura-db needs to know about one kind of database."""

    name = "?"
    # URL schemes that name this engine (before any "+driver").
    schemes: tuple[str, ...] = ()
    features = Features()
    dialect = Dialect()

    def __init__(self, url: "DatabaseURL"):
        self.url = url

    # -- URLs ----------------------------------------------------------------
    @classmethod
    def parse_url(cls, url: str, cwd: Any) -> "DatabaseURL":
        """``url`` (whose scheme names this engine) as a DatabaseURL; UsageError when it is wrong."""
        raise NotImplementedError

    @classmethod
    def unknown_url_parameters(cls, keys: list[str]) -> list[str]:
        """The query parameters among ``keys`` the engine's driver does not take."""
        return []

    url_parameters_hint = "see the driver's connection options (e.g. ?connect_timeout=SECONDS)"

    # -- connections -------------------------------------------------------
    def exists(self) -> bool:
        raise NotImplementedError

    def open(self, *, create: bool = False) -> "pw.Database":
        """Connect.  Raises DatabaseUnavailable when it cannot (exit 4)."""
        raise NotImplementedError

    def server_version(self, db: "pw.Database") -> str:
        raise NotImplementedError

    def reader(self) -> "Reader":
        """A read-only connection for questions that need no ORM (``status``).

        Raises DatabaseUnavailable, as ``open`` does, when it cannot connect.
        """
        return PeeweeReader(self, self.open(create=False))

    def describe(self) -> str:
        """Where the database is, for humans: a path or a redacted URL."""
        return self.url.redacted

    def scrub(self, text: str) -> str:
        """``text`` (a driver's message) with the URL's password, if any, as ``***``."""
        password = self.url.params.get("password")
        if password and isinstance(password, str):
            text = text.replace(password, "***")
        return text

    @classmethod
    def owns(cls, db: "pw.Database") -> bool:
        """Whether the peewee database ``db`` (open or not) is one of this engine's."""
        raise NotImplementedError

    @classmethod
    def script_database(cls) -> "pw.Database":
        """The peewee database ``aura-db script`` records on: never connected, unless
        ``features.scripts_by_running`` (then a scratch database of its own)."""
        raise NotImplementedError

    # -- what the database is, and what it lets aura-db do -------------------
    def role(self, reader: "Reader | None" = None) -> Role:
        """Whether the database takes writes (``Role``), asked through ``reader`` or a connection of its own.

        Raises DatabaseUnavailable, as ``open`` does, when it cannot connect.
        """
        if reader is not None:
            return self.read_role(reader)
        own = self.reader()
        try:
            return self.read_role(own)
        finally:
            own.close()

    def read_role(self, reader: "Reader") -> Role:
        """``role`` over an open reader: each engine asks its server; the default takes writes."""
        return Role()

    def identity(self, reader: "Reader | None" = None) -> str | None:
        """What the database IS, wherever it is reached from (a standby, another cluster node).

        A short text naming the server (cluster) by the identifier it keeps
        for itself, and the database in it, e.g.
        ``postgresql-system=7713709508643759429 database=aura``; None when
        the engine (or the user's privileges) gives nothing better than the
        address it is reached at.  Backups of the same identity are backups
        of the same database (``aura_db.backup.catalogue``).
        """
        if reader is not None:
            return self.read_identity(reader)
        own = self.reader()
        try:
            return self.read_identity(own)
        finally:
            own.close()

    def read_identity(self, reader: "Reader") -> str | None:
        return None

    # -- migrations --------------------------------------------------------
    @property
    def transactional_ddl(self) -> bool:
        return self.features.transactional_ddl

    @contextlib.contextmanager
    def migration_lock(self, db: "pw.Database", timeout: float) -> Iterator[None]:
        """The run's migration lock (LockTimeout, exit 5, when ``timeout`` runs out).

        Where ``features.migration_lock_in_transaction``, the run holds nothing
        itself: ``locked`` and ``migration_transaction`` take the lock inside
        each transaction opened under it.
        """
        raise NotImplementedError
        yield  # pragma: no cover

    @contextlib.contextmanager
    def locked(self, db: "pw.Database") -> Iterator[None]:
        """A stretch of a run (inside ``migration_lock``) that must hold the lock.

        Where the run holds the lock throughout (SQLite, MySQL) there is
        nothing more to do; PostgreSQL opens a transaction that takes it.
        """
        yield

    def connection_lost(self, exc: BaseException) -> bool:
        """Whether ``exc`` (a driver's error, or peewee's wrapping of one) says the connection is gone."""
        return False

    # The URL pg_dump and pg_restore use when ``url`` goes through a connection
    # pooler (the ``direct_url`` setting); None: the same as ``url``.
    direct_url: "DatabaseURL | None" = None

    @contextlib.contextmanager
    def migration_transaction(self, db: "pw.Database") -> Iterator[None]:
        """One migration's transaction, with whatever the engine needs around it."""
        with db.atomic():
            yield

    def foreign_key_violations(self, db: "pw.Database") -> list[str]:
        return []

    # -- the engine's other parts, imported when first asked for ------------
    def catalog(self, db: "pw.Database") -> "Catalog":
        """The engine's catalog reader over the open connection ``db``."""
        raise NotImplementedError

    def backup(self) -> "EngineBackup":
        """The engine's backup: snapshot, check, restore steps."""
        return self.backup_class()(self)

    @classmethod
    def backup_class(cls) -> "type[EngineBackup]":
        raise NotImplementedError

    def bulk_writer(self, db: "pw.Database", quote: Any) -> Any:
        """The engine's fastest way to insert many rows (``aura-db seed``)."""
        raise NotImplementedError

    def upkeep(self, db: "pw.Database") -> "Upkeep":
        """The engine's upkeep over the open connection ``db`` (``aura-db optimize``)."""
        return self.upkeep_class()(self, db)

    @classmethod
    def upkeep_class(cls) -> "type[Upkeep]":
        raise NotImplementedError

    def copy_source(self, db: "pw.Database") -> Any:
        """How ``aura-db copy`` reads this engine's database ``db`` (``aura_db/engines/copy.py``)."""
        raise NotImplementedError

    def copy_target(self) -> Any:
        """How ``aura-db copy`` builds and fills this engine's (empty) database."""
        raise NotImplementedError


class Reader:
    """Read-only questions to a database, answered through its DB-API driver."""

    def server_version(self) -> str:
        raise NotImplementedError

    def tables(self) -> list[str]:
        raise NotImplementedError

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class PeeweeReader(Reader):
    def __init__(self, engine: Engine, db: "pw.Database"):
        self.engine, self.db = engine, db

    def server_version(self) -> str:
        return self.engine.server_version(self.db)

    def tables(self) -> list[str]:
        # Not the engine's own bookkeeping (SQLite's sqlite_sequence): what its catalog lists.
        internal = self.engine.catalog(self.db).internal_table
        return [t for t in self.db.get_tables() if not internal.match(t)]

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return list(self.db.execute_sql(sql).fetchall())

    def close(self) -> None:
        self.db.close()


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def error_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the driver error peewee wrapped in it (its first argument), and their causes."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [e.__cause__, e.__context__]
        todo += [a for a in e.args[:1] if isinstance(a, BaseException)]
