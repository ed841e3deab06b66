"""A database URL as aura-db holds it: ``DatabaseURL``, and ``redact`` so a password never shows.

A leaf: parsing a URL needs the engine it names (``registry.parse_url``).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed database URL.  ``str()`` never shows the password."""

    raw: str
    engine: str  # sqlite | postgresql | mysql: a name in the engine registry
    path: str | None = None  # SQLite file, absolute; None for :memory:
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def redacted(self) -> str:
        return redact(self.raw)

    def __str__(self) -> str:
        return self.redacted

    def __repr__(self) -> str:
        return f"DatabaseURL({self.redacted!r})"


_SECRET_PARAM = re.compile(r"([?&](?:password|passwd|pwd)=)[^&#]*", re.IGNORECASE)


def redact(url: str) -> str:
    """The URL with any password replaced by ``***``.

    Both places a password can hide are masked: the netloc (``user:pw@``) and
    the query string (``?password=``), which playhouse passes to the driver.
    """
    url = _SECRET_PARAM.sub(r"\1***", url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}"
    with contextlib.suppress(ValueError):
        if parts.port:
            netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def query_value(value: str) -> Any:
    """Query-string values typed as playhouse.db_url types them."""
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    if value.isdigit():
        return int(value)
    if re.fullmatch(r"\d+\.\d+", value):
        return float(value)
    if low in ("null", "none"):
        return None
    return value
