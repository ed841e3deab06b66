"""Settings: command-line flag > environment variable > settings file > default.

The settings file is ``aura-db.toml`` in the working directory (or the file
given by ``--config`` / ``AURA_DB_CONFIG``), or the ``[tool.aura-db]`` table of
``pyproject.toml`` when there is no ``aura-db.toml``.  Each resolved value
remembers where it came from, for ``--verbose``.

In ``aura-db.toml`` the settings are top-level keys (or an ``[aura-db]``
table); in ``pyproject.toml`` they are the ``[tool.aura-db]`` table.  Keys
may be spelled with ``_`` or ``-``.  Relative paths (the SQLite file,
``migrations``, ``backup_dir``) are relative to the working directory, as
they are on the command line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from aura_db.errors import UsageError

# Not `from typing import Any`: shell completion loads this module on every
# TAB press, and typing's import costs a fifth of one.  The annotations are
# strings (``from __future__ import annotations``), never evaluated.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping

DEFAULT_URL = "sqlite:///aura.db"
COMPRESSIONS = ("none", "gzip", "zstd")
CONFIG_FILE = "aura-db.toml"

# key -> (environment variables, default, type)
KEYS: dict[str, tuple[tuple[str, ...], Any, type]] = {
    "url": (("AURA_DB_URL", "DATABASE_URL"), DEFAULT_URL, str),
    "migrations": (("AURA_DB_MIGRATIONS",), None, str),
    "backup_dir": (("AURA_DB_BACKUP_DIR",), "backups", str),
    "keep": (("AURA_DB_KEEP",), 10, int),
    # Safety backups (before migrate/rollback/restore) are kept apart: their own newest N.
    "keep_safety": (("AURA_DB_KEEP_SAFETY",), 5, int),
    # Regular backups also kept by age (restic/borg style, UTC): the newest of
    # each of the last N hours/days/ISO weeks that have one; 0 = rule off.
    "keep_hourly": (("AURA_DB_KEEP_HOURLY",), 0, int),
    "keep_daily": (("AURA_DB_KEEP_DAILY",), 0, int),
    "keep_weekly": (("AURA_DB_KEEP_WEEKLY",), 0, int),
    "compression": (("AURA_DB_COMPRESSION",), "none", str),
    "lock_timeout": (("AURA_DB_LOCK_TIMEOUT",), 60.0, float),
    "backup_before_migrate": (("AURA_DB_BACKUP_BEFORE_MIGRATE",), True, bool),
    # PostgreSQL behind a connection pooler (PgBouncer): the server's own URL,
    # which pg_dump, pg_restore and psql use (docs/engines.md, "Poolers").
    "direct_url": (("AURA_DB_DIRECT_URL",), None, str),
    # age recipients every backup (regular and safety) is encrypted to: keys or
    # files of them.  In the environment separated by commas or new lines
    # (an SSH public key holds spaces); in the file a list or such a string.
    "encrypt_to": (("AURA_DB_BACKUP_RECIPIENTS",), (), tuple),
    # The age identity file that reads encrypted backups (verify, restore).
    "identity": (("AURA_DB_BACKUP_IDENTITY",), None, str),
    # PostgreSQL: the schema aura-db's tables live in (search_path of every
    # connection, pg_dump --schema); the URL's ?schema= wins.  None: the role's search_path.
    "schema": (("AURA_DB_SCHEMA",), None, str),
    # An existing, empty database `backup verify --full` restores into, instead of creating one.
    "scratch_url": (("AURA_DB_SCRATCH_URL",), None, str),
}
# The option that sets a key, for --verbose ("flag --db").  The global ones
# reach load_settings from the root; a command adds its own (--keep,
# --compress, --lock-timeout, --no-backup as backup_before_migrate=False)
# with Settings.with_overrides, so -v names the value it uses.
FLAGS = {"url": "--db", "migrations": "--migrations", "backup_dir": "--backup-dir",
         "lock_timeout": "--lock-timeout", "keep": "--keep", "keep_safety": "--keep-safety",
         "keep_hourly": "--keep-hourly", "keep_daily": "--keep-daily", "keep_weekly": "--keep-weekly",
         "compression": "--compress", "encrypt_to": "--encrypt-to", "identity": "--identity",
         "backup_before_migrate": "--no-backup", "scratch_url": "--scratch"}
# Spellings accepted in the file for the same keys.
ALIASES = {"keep-safety": "keep_safety", "keep-hourly": "keep_hourly", "keep-daily": "keep_daily",
           "keep-weekly": "keep_weekly", "backup-dir": "backup_dir", "lock-timeout": "lock_timeout",
           "backup-before-migrate": "backup_before_migrate", "db": "url", "direct-url": "direct_url",
           "encrypt-to": "encrypt_to", "scratch-url": "scratch_url"}


def shipped_migrations_dir() -> Path:
    """The migrations shipped with aura-db (``aura_db.migrations.default_migrations_dir``).

    The same two places, found here without importing the migration runner:
    shell completion reads the setting on every TAB press, and that import
    is a third of its time.  tests/test_completion.py checks the two agree.
    """
    package = Path(__file__).resolve().parent
    shipped = package / "_migrations"  # inside an installed wheel
    return shipped if shipped.is_dir() else package.parent / "migrations"  # a source checkout


@dataclass(frozen=True)
class Settings:
    """Every setting of one command, resolved; frozen.

    The fields are the keys of ``KEYS`` (their defaults are ``KEYS``'
    defaults: tests/test_config.py checks they agree), plus where each value
    came from (``sources``: "default", "env NAME", "file PATH", "flag
    --NAME"), the settings file read and its warnings.  A command derives the
    settings it runs with from the global ones explicitly,
    ``settings.with_overrides(keep=3)``, never by changing them.
    """

    url: str = DEFAULT_URL
    migrations: "str | None" = None
    backup_dir: str = "backups"
    keep: int = 10
    keep_safety: int = 5
    keep_hourly: int = 0
    keep_daily: int = 0
    keep_weekly: int = 0
    compression: str = "none"
    lock_timeout: float = 60.0
    backup_before_migrate: bool = True
    direct_url: "str | None" = None
    encrypt_to: "tuple[str, ...]" = ()
    identity: "str | None" = None
    schema: "str | None" = None
    scratch_url: "str | None" = None
    sources: "Mapping[str, str]" = field(default_factory=lambda: MappingProxyType({}))
    config_file: "Path | None" = None
    warnings: "tuple[str, ...]" = ()
    cwd: Path = field(default_factory=Path.cwd)

    @property
    def values(self) -> "Mapping[str, Any]":
        """Every setting by key (read-only)."""
        return MappingProxyType({key: getattr(self, key) for key in KEYS})

    @property
    def migrations_dir(self) -> Path:
        return (self.cwd / self.migrations).resolve() if self.migrations else shipped_migrations_dir()

    @property
    def backup_path(self) -> Path:
        return (self.cwd / self.backup_dir).resolve()

    @property
    def identity_path(self) -> "Path | None":
        return (self.cwd / self.identity).resolve() if self.identity else None

    @property
    def recipients(self) -> "tuple[str, ...]":
        """``encrypt_to`` with files named relative to the working directory, as on the command line."""
        return tuple(r if r.startswith(("age1", "ssh-", "AGE-SECRET-KEY-")) or Path(r).is_absolute() else str(self.cwd / r)
                     for r in self.encrypt_to)

    def with_overrides(self, **flags: Any) -> "Settings":
        """These settings with a command's own flags on top (a flag given as None was not given).

        Each value is checked as ``load_settings`` checks a flag (UsageError,
        exit 2, naming the flag) and its source becomes "flag --NAME", so
        ``-v`` names the value the command uses.
        """
        unknown = set(flags) - set(KEYS)
        if unknown:
            raise TypeError(f"not settings: {', '.join(sorted(unknown))}")
        given = {key: raw for key, raw in flags.items() if raw is not None}
        if not given:
            return self
        values = dict(self.values)
        sources = dict(self.sources)
        for key, raw in given.items():
            flag = FLAGS.get(key, key)
            values[key], sources[key] = _coerce(key, raw, KEYS[key][2], flag), f"flag {flag}"
        _validate(values, sources)
        return replace(self, **{key: values[key] for key in given}, sources=MappingProxyType(sources))

    def explain(self) -> list[str]:
        """One line per setting: its value and where it came from (no passwords)."""
        from aura_db.engines.url import redact

        lines = []
        for key in KEYS:
            value = getattr(self, key)
            if key in ("url", "direct_url", "scratch_url") and value is not None:
                value = redact(str(value))
            if key == "migrations" and value is None:
                value = str(self.migrations_dir)
            lines.append(f"{key} = {value}  ({self.sources.get(key, 'default')})")
        return lines


def _validate(values: "dict[str, Any]", sources: "Mapping[str, str]") -> None:
    """UsageError for values that are each of the right type but not usable."""
    for key in ("url", "migrations", "backup_dir", "direct_url", "identity", "schema", "scratch_url"):
        # An empty path is not "the default": backup_dir = "" would write
        # backups into the working directory, among everything else there.
        if isinstance(values[key], str) and not values[key].strip() and sources[key] != "default":
            raise UsageError(f"{key} from {sources[key].split(' ', 1)[1]} is empty",
                             hint=f"give {key} a value, or leave it out for the default")
    if values["compression"] not in COMPRESSIONS:
        raise UsageError(f"unknown compression {values['compression']!r} from {sources['compression']}",
                         hint="use none, gzip or zstd")


def _coerce(key: str, raw: Any, typ: type, origin: str, *, typed: bool = False) -> Any:
    """``raw`` as ``typ``; UsageError (exit 2) naming the key and where it came from.

    Strings (flags, environment variables) are parsed; a value the TOML file
    already typed must have the right type: ``keep = true`` is a mistake,
    not 1.
    """
    if typ is tuple:
        # Recipients: a list (TOML, repeated flags) or text separated by
        # commas or new lines - not spaces, which an SSH public key holds.
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise UsageError(f"{key} from {origin} must be a list of strings or a comma-separated string, "
                             f"got {raw!r}")
        return tuple(part.strip() for item in items for line in item.splitlines() for part in line.split(",")
                     if part.strip())
    if typ is bool:
        if isinstance(raw, bool):
            return raw
        # From TOML (``typed``) a string is a mistake: "no" is as true as any text.
        text = str(raw).strip().lower() if isinstance(raw, str) and not typed else None
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise UsageError(f"{key} from {origin} must be true or false, got {raw!r}")
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)) or (
        typ is str and not isinstance(raw, str)
    ) or (typ is int and isinstance(raw, float)):
        raise UsageError(f"{key} from {origin} must be {_TYPE_WORDS[typ]}, got {raw!r}")
    try:
        value = typ(raw.strip() if isinstance(raw, str) else raw)
    except (TypeError, ValueError):
        raise UsageError(f"{key} from {origin} must be {_TYPE_WORDS[typ]}, got {raw!r}") from None
    if typ is float and value != value:  # NaN
        raise UsageError(f"{key} from {origin} must be {_TYPE_WORDS[typ]}, got {raw!r}")
    if typ in (int, float) and value < _MINIMUM.get(key, 0):
        raise UsageError(f"{key} from {origin} must be at least {_MINIMUM.get(key, 0)}, got {raw!r}")
    return value


_TYPE_WORDS = {tuple: "a list of strings", str: "a string", int: "a whole number", float: "a number of seconds",
               bool: "true or false"}
# keep = 0 would prune every backup, the one just taken included.  The time
# rules (keep_hourly, keep_daily, keep_weekly) are off at 0: their minimum is
# the default one, 0.
_MINIMUM = {"keep": 1, "keep_safety": 1, "keep_hourly": 0, "keep_daily": 0, "keep_weekly": 0}
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def read_file(path: Path, *, table: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """Settings from a TOML file; malformed -> UsageError naming the line."""
    import tomllib

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read settings file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise UsageError(f"{path}:{line}: not valid TOML: the file is not UTF-8 (byte 0x{exc.object[exc.start]:02x})",
                         hint="save the settings file as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # "path:LINE: ..." like a compiler, so editors and people find the spot.
        message = str(exc)
        pos = _TOML_POSITION.search(message)
        if pos:
            reason = message[: pos.start()]
            raise UsageError(
                f"{path}:{pos.group(1)}: not valid TOML: {reason} (line {pos.group(1)}, column {pos.group(2)})"
            ) from None
        raise UsageError(f"{path}: not valid TOML: {message}") from None
    if table:
        tool = data.get("tool", {})
        data = tool.get(table, {}) if isinstance(tool, dict) else {}
        if not isinstance(data, dict):
            raise UsageError(f"[tool.{table}] in {path} must be a table")
    values: dict[str, Any] = {}
    warnings: list[str] = []
    if not table and isinstance(data.get("aura-db"), dict):
        # With an [aura-db] table the settings are its keys; one left above it
        # would otherwise be ignored without a word.
        warnings += [f"setting {key!r} in {path} is outside the [aura-db] table (ignored); move it into the table"
                     for key in data if key != "aura-db"]
        data = data["aura-db"]
    for key, raw in data.items():
        name = ALIASES.get(key, key)
        if name not in KEYS:
            warnings.append(f"unknown setting {key!r} in {path} (ignored){_suggestion(key)}")
            continue
        values[name] = raw
    return values, warnings


def _suggestion(key: str) -> str:
    from difflib import get_close_matches

    spellings = [*KEYS, *ALIASES]
    close = get_close_matches(key.replace("-", "_"), spellings, n=1, cutoff=0.6) or get_close_matches(
        key, spellings, n=1, cutoff=0.6
    )
    return f"; did you mean {close[0]!r}?" if close else ""


def load_settings(
    flags: dict[str, Any],
    *,
    config: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Resolve every setting.  ``flags`` holds only values given on the command line."""
    env = dict(os.environ if env is None else env)
    cwd = cwd or Path.cwd()
    file_values: dict[str, Any] = {}
    warnings: list[str] = []
    config_path: Path | None = None
    explicit = config or env.get("AURA_DB_CONFIG")
    if explicit:
        config_path = (cwd / explicit).resolve()
        if not config_path.is_file():
            raise UsageError(f"settings file {config_path} does not exist")
        file_values, warnings = read_file(config_path)
    elif (cwd / CONFIG_FILE).is_file():
        config_path = cwd / CONFIG_FILE
        file_values, warnings = read_file(config_path)
    elif (cwd / "pyproject.toml").is_file():
        values, w = read_file(cwd / "pyproject.toml", table="aura-db")
        if values or w:
            config_path, file_values, warnings = cwd / "pyproject.toml", values, w

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, (env_names, default, typ) in KEYS.items():
        if flags.get(key) is not None:
            flag = FLAGS.get(key, key)
            values[key], sources[key] = _coerce(key, flags[key], typ, flag), f"flag {flag}"
            continue
        env_name = next((n for n in env_names if env.get(n)), None)
        if env_name:
            values[key] = _coerce(key, env[env_name], typ, env_name)
            sources[key] = f"env {env_name}"
        elif key in file_values:
            values[key] = _coerce(key, file_values[key], typ, str(config_path), typed=True)
            sources[key] = f"file {config_path}" + (" [tool.aura-db]" if config_path and config_path.name == "pyproject.toml" else "")
        else:
            values[key], sources[key] = default, "default"
    _validate(values, sources)
    return Settings(**values, sources=MappingProxyType(sources), config_file=config_path,
                    warnings=tuple(warnings), cwd=cwd)
