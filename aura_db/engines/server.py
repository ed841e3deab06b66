"""What the PostgreSQL and MySQL/MariaDB engines share: how connections are made, fail and are described."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aura_db.engines import base
from aura_db.engines.base import Engine, first_line
from aura_db.engines.url import DatabaseURL, redact
from aura_db.errors import DatabaseUnavailable, UsageError

if TYPE_CHECKING:
    import peewee as pw


class ServerEngine(Engine):
    """PostgreSQL and MySQL share how connections fail and are described."""

    @classmethod
    def parse_url(cls, url: str, cwd: Path) -> DatabaseURL:
        from playhouse.db_url import parse as _parse

        scheme = url.split("://", 1)[0].lower()
        try:
            params = _parse(url, unquote_password=True, unquote_user=True)
        except ValueError as exc:
            raise UsageError(f"bad database URL {redact(url)}: {exc}") from None
        if not params.get("database"):
            raise UsageError(f"{redact(url)} names no database", hint=f"{scheme}://user@host:port/DBNAME")
        return DatabaseURL(raw=url, engine=cls.name, params=cls.driver_params(params))

    @classmethod
    def driver_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        """playhouse's parameters as aura-db keeps them."""
        return params

    def database_class(self) -> Any:
        """peewee's database class for this engine, connecting within the connect timeout."""
        raise NotImplementedError

    def connect_timeout(self) -> float:
        """``?connect_timeout=`` from the URL (seconds, > 0), else DEFAULT_CONNECT_TIMEOUT."""
        value = self.url.params.get("connect_timeout")
        if value is None:
            return base.DEFAULT_CONNECT_TIMEOUT  # looked up when asked: tests lower it
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = -1.0
        if not (0 < seconds <= 86400) or isinstance(value, bool):
            raise UsageError(f"bad connect_timeout {value!r} in {self.url.redacted}",
                             hint="?connect_timeout=SECONDS, a number above 0")
        return seconds

    def _connect_params(self) -> dict[str, Any]:
        return dict(self.url.params)

    def describe(self) -> str:
        return self.url.redacted

    def _make(self) -> "pw.Database":
        params = self._connect_params()
        name = params.pop("database")
        return self.database_class()(name, field_types=self.dialect.field_types, **params)

    def open(self, *, create: bool = False) -> "pw.Database":
        import peewee as pw

        timeout = self.connect_timeout()
        db = self._make()
        started = time.monotonic()
        try:
            db.connect()
        except (pw.OperationalError, pw.InterfaceError) as exc:
            if time.monotonic() - started >= timeout * 0.9:  # the driver's words vary: say it plainly
                raise DatabaseUnavailable(
                    f"cannot connect to {self.url.redacted}: no answer within {timeout:g} s",
                    hint="check the host and port, or allow longer with ?connect_timeout=SECONDS in the URL",
                ) from None
            raise DatabaseUnavailable(
                f"cannot connect to {self.url.redacted}: {self.scrub(first_line(exc))}"
            ) from None
        return db

    def exists(self) -> bool:
        try:
            self.open().close()
        except DatabaseUnavailable:
            return False
        return True


def lock_key(name: str) -> int:
    import hashlib  # here, not at import: OpenSSL costs `status` on SQLite start-up time

    digest = hashlib.sha256(f"aura-db migrate {name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


