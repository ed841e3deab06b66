"""The one registry: every engine aura-db knows, by name.

Adding an engine is a package ``aura_db/engines/<name>/`` (base.py naming its
features, dialect, catalog, backup and bulk writer) and one line in ``_ENGINES``.
Nothing else maps names to engines: URL schemes come from each engine's
``schemes``, and callers ask the engine they hold.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from aura_db.engines.url import DatabaseURL, redact
from aura_db.errors import CheckFailed, UsageError

if TYPE_CHECKING:
    import peewee as pw

    from aura_db.backup.engine import EngineBackup
    from aura_db.engines.base import Engine

# The one line per engine: its name and its Engine subclass ("module:class").
# An engine's modules are imported when it is first asked for: `aura-db status`
# on SQLite never loads the server engines.
_ENGINES = {
    "sqlite": "aura_db.engines.sqlite.base:SqliteEngine",
    "postgresql": "aura_db.engines.postgresql.base:PostgresEngine",
    "mysql": "aura_db.engines.mysql.base:MysqlEngine",
}


class _Registry(Mapping):
    """The registered engines by name (``ENGINES[name]`` is the Engine subclass)."""

    def __getitem__(self, name: str) -> "type[Engine]":
        module, _, cls = _ENGINES[name].partition(":")
        return getattr(importlib.import_module(module), cls)

    def __iter__(self) -> Iterator[str]:
        return iter(_ENGINES)

    def __len__(self) -> int:
        return len(_ENGINES)


ENGINES: Mapping[str, "type[Engine]"] = _Registry()


def engine_for_scheme(scheme: str) -> "type[Engine] | None":
    """The engine a URL scheme (before any "+driver") names, or None."""
    if scheme in ENGINES and scheme in ENGINES[scheme].schemes:
        return ENGINES[scheme]  # the common case: only that engine is imported
    return next((cls for cls in ENGINES.values() if scheme in cls.schemes), None)


def file_engine() -> "type[Engine]":
    """The engine whose database is a file: what a plain path (no scheme) names."""
    return next(cls for cls in ENGINES.values() if cls.features.database_is_a_file)


def engine_class(name: str) -> "type[Engine]":
    """The engine called ``name`` (as a URL or a manifest names it); UsageError when there is none."""
    try:
        return ENGINES[name]
    except KeyError:
        raise UsageError(f"unknown engine {name!r}", hint="one of: " + ", ".join(ENGINES)) from None


def parse_url(url: str, *, cwd: Path | None = None) -> DatabaseURL:
    """Parse ``--db``: a ``playhouse.db_url`` URL or a plain path (a SQLite file)."""
    url = (url or "").strip()
    if not url:
        raise UsageError("empty database URL", hint="pass --db URL or set AURA_DB_URL")
    cwd = cwd or Path.cwd()
    if "://" not in url:
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", url) and not re.match(r"^[A-Za-z]:[\\/]", url):
            raise UsageError(
                f"unknown database URL {redact(url)!r}",
                hint="use sqlite:///path, postgresql://user@host/db, mysql://user@host/db or a file path",
            )
        return file_engine().path_url(url, cwd)
    scheme = url.split("://", 1)[0].lower()
    cls = engine_for_scheme(scheme.split("+", 1)[0])
    if cls is None:
        raise UsageError(
            f"unknown URL scheme {scheme!r} in {redact(url)}",
            hint="supported: " + ", ".join(
                f"{e.name}" + (f" ({', '.join(s for s in e.schemes if s != e.name)})"
                                 if len(e.schemes) > 1 else "") for e in ENGINES.values()),
        )
    return cls.parse_url(url, cwd)


# Parts of the URL itself, not query parameters (playhouse.db_url's names).
URL_PARTS = {"host", "port", "user", "password", "passwd", "database"}


def check_url_parameters(url: DatabaseURL) -> None:
    """UsageError (exit 2) for a query parameter the engine's driver does not know.

    The driver would otherwise refuse it only when connecting, as a raw
    TypeError or "invalid dsn" (exit 1), a step later than a typo deserves.
    """
    cls = ENGINES[url.engine]
    # ``schema`` is aura-db's own setting (engines with schemas), never handed to the driver.
    extra = [k for k in url.params if k not in URL_PARTS and not (k == SCHEMA_PARAMETER and cls.features.schemas)]
    if not extra:
        return
    bad = cls.unknown_url_parameters(extra)
    if bad:
        listed = ", ".join(repr(k) for k in bad)
        raise UsageError(f"unknown parameter {listed} in the database URL {url.redacted}",
                         hint=cls.url_parameters_hint)


SCHEMA_PARAMETER = "schema"


def with_schema(url: DatabaseURL, schema: str | None, origin: str = "the settings") -> DatabaseURL:
    """``url`` with the ``schema`` setting as its ``?schema=`` (the URL's own parameter wins).

    UsageError (exit 2) when the engine has no schemas inside a database.
    """
    if not schema:
        return url
    cls = ENGINES[url.engine]
    if not cls.features.schemas:
        raise UsageError(f"schema {schema!r} from {origin}: {url.engine} has no schemas inside a database",
                         hint="leave schema out, or name the database in the URL")
    if url.params.get(SCHEMA_PARAMETER):
        return url
    import dataclasses

    return dataclasses.replace(url, params={**url.params, SCHEMA_PARAMETER: schema})


def engine_for(url: DatabaseURL | str) -> "Engine":
    if isinstance(url, str):
        url = parse_url(url)
    return ENGINES[url.engine](url)


def engine_of(db: "pw.Database") -> "type[Engine]":
    """The engine a peewee database (a migrator's, a scratch one) belongs to."""
    for cls in ENGINES.values():
        if cls.owns(db):
            return cls
    raise UsageError(f"no engine for the database {type(db).__name__}")


def backup_checker(engine_name: str, server: "Engine | None") -> "EngineBackup":
    """The backup class that checks a backup of ``engine_name``; ``server`` is where a full check may restore."""
    cls = ENGINES.get(engine_name)
    if cls is None:
        raise CheckFailed(f"unknown engine {engine_name!r} in the manifest")
    if server is not None and server.name == engine_name:
        return server.backup()
    return cls.backup_class()(None)
