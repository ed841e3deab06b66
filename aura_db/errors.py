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


class ReadOnlyDatabase(UsageError):
    """A write command pointed at a standby or a read-only database (exit 2): nothing was attempted.

    Exit 2, as for any --db that names the wrong place: the command is
    right, the database is one that cannot take it, and nothing ran (no
    safety backup, no file in the backup folder, no connection that wrote).
    ``role`` is the database's ``aura_db.engines.base.Role``.
    """

    def __init__(self, message: str, *, role: object, hint: str | None = None):
        super().__init__(message, hint=hint, details={
            "role": getattr(role, "role", None), "read_only": True,
            "primary": getattr(role, "primary", None)})
        self.role = role


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


class DatabaseInUse(AuraError):
    """Another process has the database open: a restore would pull it from under it (exit 1)."""


class NotMigrated(AuraError):
    """The database lacks the schema the data needs (exit 1)."""


class CopyDataError(AuraError):
    """``aura-db copy``: a source value the target cannot take (invalid JSON, not a GUID...); nothing copied (exit 1).

    ``details`` name the table, the row (its key) and the column.
    """


class UnsupportedDependency(AuraError):
    """peewee or peewee-migrate is outside the versions aura_db.compat was written for (exit 1)."""


class BackupRejected(CheckFailed):
    """A backup failed a check before it could be restored (exit 3): ``path`` and ``reason`` say which and why.

    The message is "refusing to restore <file>: <reason>"; callers read the
    fields, never the message's words.
    """

    def __init__(self, path: object, reason: str, *, hint: str | None = None):
        self.path = path
        self.reason = reason
        name = getattr(path, "name", None) or str(path)
        super().__init__(f"refusing to restore {name}: {reason}", hint=hint)


class NoManifest(CheckFailed):
    """A file in the backup folder has no manifest beside it: not an aura-db backup, or an unfinished one (exit 3)."""


class ChecksFailed(CheckFailed):
    """A command's checks found a problem (exit 3); ``result`` is its whole report.

    Raised by the core (``aura_db.policy.check_status``, ``check_verify``,
    ``check_backups``) once the command has rendered its result, so the
    report is shown and the exit code says the check failed.
    """

    def __init__(self, message: str, *, result: object = None, hint: str | None = None,
                 details: dict | None = None):
        super().__init__(message, hint=hint, details=details)
        self.result = result


class Interrupted(AuraError):
    """Ctrl-C stopped a run (exit 130), carrying what it had done.

    ``result`` is the run's result so far (the migrations it finished, its
    safety backup); ``step`` the migration that was running, ``committed``
    how many of that step's statements an engine without transactional DDL
    had already committed (MySQL), ``transactional`` whether the engine
    rolled the step back.
    """

    exit_code = 130

    def __init__(self, command: str, *, result: object = None, step: str | None = None,
                 transactional: bool = True, committed: int = 0, backup: str | None = None):
        self.command = command  # migrate | rollback
        self.result = result
        self.step = step
        self.transactional = transactional
        self.committed = committed
        self.backup = backup
        hint = None
        if step is None:
            message = "interrupted"
        elif not transactional and committed:
            what = "migration" if command == "migrate" else "the rollback of"
            message = (f"interrupted during {what} {step}: {committed} of its statement(s) stay committed "
                       f"(MySQL cannot roll back DDL)")
            hint = "run `aura-db status`, and see docs/runbook.md for a half-applied migration"
        else:
            message = (f"interrupted; migration {step} was rolled back (not applied)" if command == "migrate"
                       else f"interrupted; undoing {step} was rolled back (it stays applied)")
            hint = "run `aura-db status` to see where the database stands"
        details: dict = {}
        if result is not None and hasattr(result, "migrations"):
            details = {"migrations": list(result.migrations), "backup": getattr(result, "backup", None)}
        elif backup is not None:
            details = {"backup": backup}
        super().__init__(message, hint=hint, details=details)

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


class ConnectionLost(MigrationFailed):
    """The server went away, or ended aura-db's connection, during a migration (exit 4).

    Carries what stayed applied: the earlier migrations of the run (committed),
    the statements of this one that an engine without transactional DDL
    committed before the loss (MySQL), and ``outcome``: ``rolled_back`` (the
    server dropped the step's open transaction), ``partial`` (some statements
    stay) or ``unknown`` (the loss came during COMMIT: the step may or may not
    be applied; its history row says which, as it is written in the same
    transaction).
    """

    exit_code = 4

    def __init__(self, name: str, error: BaseException | str, *, where: str, outcome: str,
                 applied: list[str] | None = None, partial: list[str] | None = None,
                 backup: str | None = None, hint: str | None = None, command: str = "migrate"):
        super().__init__(name, error, applied=applied, partial=partial, backup=backup, hint=hint)
        self.outcome = outcome
        step = f"migration {name}" if command == "migrate" else f"the rollback of {name}"
        if outcome == "unknown":
            said = f"whether {step} was committed is unknown (the connection was lost during COMMIT)"
        elif outcome == "partial":
            said = (f"{len(self.partial)} of its statement(s) were committed before the loss and stay applied "
                    f"(MySQL cannot roll back DDL): " + " | ".join(s.rstrip(";") for s in self.partial))
        else:
            said = f"the server rolled {step} back: nothing of it stayed applied"
        done = f"; earlier migration(s) of this run stay applied: {', '.join(self.applied)}" if self.applied else ""
        self.message = f"lost the connection to {where} during {step} ({self.error}); {said}{done}"
        self.args = (self.message,)
        self.details.update({"connection_lost": True, "outcome": outcome})


class BehindPooler(AuraError):
    """The operation cannot be made safe through a connection pooler and no direct URL is set (exit 1)."""


class LeaseLost(LockTimeout):
    """The run's migration lease (Galera) expired and another run took it over: the run stopped (exit 5)."""
