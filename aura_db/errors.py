"""The one exception tree of aura-db.

Every error a user can cause is an ``AuraError`` subclass carrying the exit
code of the command-line contract (shared/spec/cli.md).  Core modules raise
them; the CLI turns them into one line on stderr and that exit code, in one
place (``aura_db.cli.app.AuraGroup``).
"""

from __future__ import annotations

from typing import Callable

# Where core modules send warnings (a stray file in the migrations folder):
# core never prints; the CLI registers its stderr here.
WARNING_SINKS: list[Callable[[str], None]] = []


def notify(message: str) -> None:
    """A warning for whoever listens (the CLI writes it on stderr)."""
    for sink in list(WARNING_SINKS):
        sink(message)


class AuraError(Exception):
    """The operation failed (exit 1)."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        # What the operation made before it stopped (a safety backup's path,
        # the migrations it applied): the CLI puts these fields into the
        # --json document of the failure, beside "ok", "error", "exit_code".
        self.details: dict = dict(details or {})

    def __str__(self) -> str:
        return self.message


class UsageError(AuraError):
    """Bad value, unknown migration target, missing argument (exit 2)."""

    exit_code = 2


class CheckFailed(AuraError):
    """A check failed: pending migrations, drift, damaged backup (exit 3)."""

    exit_code = 3


class DatabaseUnavailable(AuraError):
    """The database cannot be reached, does not exist or is not a database (exit 4)."""

    exit_code = 4


class LockTimeout(AuraError):
    """Another aura-db holds the migration lock (exit 5)."""

    exit_code = 5


class Refused(AuraError):
    """A destructive command got no confirmation (exit 6)."""

    exit_code = 6


class MigrationFailed(AuraError):
    """A migration or rollback raised; the database is as before it (exit 1)."""

    def __init__(
        self,
        name: str,
        error: BaseException | str,
        *,
        applied: list[str] | None = None,
        partial: list[str] | None = None,
        backup: str | None = None,
        hint: str | None = None,
    ):
        self.name = name
        self.error = str(error).strip() or type(error).__name__
        self.applied = list(applied or [])  # earlier migrations of the run, committed
        self.partial = list(partial or [])  # statements of this one that an engine without
        # transactional DDL (MySQL) committed before the failure
        message = f"migration {name} failed: {self.error}"
        if self.partial:
            message += (
                f"; {len(self.partial)} of its statement(s) were committed before the failure "
                f"and stay applied (MySQL cannot roll back DDL): "
                + " | ".join(s.rstrip(";") for s in self.partial)
            )
        self.backup = backup  # the safety backup taken before the run, if any
        super().__init__(message, hint=hint, details={
            "migration": name,
            "migrations": self.applied,
            "partial": self.partial,
            "backup": backup,
        })


class NotAdopted(CheckFailed):
    """The database holds tables aura-db neither created nor adopted (exit 3)."""

    def __init__(self, message: str, *, tables: list[str], hint: str | None = None):
        super().__init__(message, hint=hint, details={"tables": list(tables)})
        self.tables = list(tables)


class SchemaMismatch(CheckFailed):
    """The live schema is not what aura-db's migrations build (exit 3); carries every difference."""

    def __init__(self, message: str, *, differences: list[str], hint: str | None = None,
                 result: object = None):
        super().__init__(message, hint=hint, details={"differences": list(differences)})
        self.differences = list(differences)
        self.result = result  # what the command had found before it stopped (adopt's plan)
