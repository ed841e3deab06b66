"""What aura-db does to protect a database, decided in one place.

* ``SafetyBackup``: the backup taken before a command changes a database
  (migrate, rollback; restore takes its own, under its lock).  The CLI only
  switches it on or off (``--no-backup``) and says where it went; when it is
  taken, and what a failure to take it means, is decided here.
* ``restore_choices``: which backups ``aura-db restore`` offers without a
  FILE, and which one it proposes.
* ``check_status``, ``check_verify``, ``check_backups``: when a command's
  result is a failed check (exit 3).  The command renders its result, then
  hands it here; ``ChecksFailed`` carries the result and says what failed.

Core: no printing, no prompting; results are dataclasses, failures AuraErrors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from aura_db.errors import AuraError, ChecksFailed

if TYPE_CHECKING:
    from aura_db.db import Engine


@dataclass(frozen=True)
class SafetyBackup:
    """The safety backup before a change: where it goes, how many are kept, whether to take it.

    ``on_taken(made)`` hears of each backup taken (a ``backup.CreateResult``:
    its path, whether an identical newest backup was reused, warnings), so a
    command can say where it went before the change starts.
    """

    backup_dir: Path
    keep_safety: int
    enabled: bool = True
    on_taken: Callable[[Any], None] | None = field(default=None, compare=False)
    # age recipients (settings key ``encrypt_to``): a safety backup holds the
    # same data as a regular one, so it is encrypted to the same keys.
    encrypt_to: tuple[str, ...] = ()

    def take(self, engine: "Engine", *, label: str, head: str | None) -> str | None:
        """The backup's path, taken before ``label``'s change (``pre-migrate``, ``pre-rollback``); else None.

        None when switched off, or when the database has nothing applied
        (``head`` is None): it holds nothing to protect.  A failure is the
        backup's own AuraError, saying that nothing was changed and how to go
        on without it.
        """
        if not self.enabled or head is None:
            return None
        from aura_db import backup

        try:
            made = backup.take_safety_backup(engine, Path(self.backup_dir), label=label,
                                             keep_safety=self.keep_safety, encrypt_to=self.encrypt_to)
        except AuraError as exc:
            # Nothing has changed yet; say what stopped and the way past it.
            exc.message = f"the safety backup ({label}) failed, so nothing was changed: {exc.message}"
            exc.hint = (exc.hint + "; or " if exc.hint else "") + "skip it with --no-backup (then there is no way back)"
            raise
        if made is None:
            return None
        if self.on_taken is not None:
            self.on_taken(made)
        return str(made.path)


@dataclass
class RestoreChoices:
    """The backups ``restore`` offers for a database, newest first."""

    entries: list[Any]  # backup.BackupEntry: this database's, or, when it has none, every one of its engine
    default: int | None  # 1-based: the newest regular backup that looks whole (never a safety backup)
    warnings: list[str]
    has_safety: bool  # some entries are safety backups (the listing explains the mark)


def restore_choices(engine: "Engine", backup_dir: Path) -> RestoreChoices:
    """The backups a restore of ``engine``'s database may choose from, and the one to propose.

    This database's backups; another's (of the same engine) only when it
    has none (a moved file, a renamed host).  The proposal is never a safety
    backup: a retry would put back what the last restore replaced.
    """
    from aura_db import backup

    listed = backup.list_backups(Path(backup_dir))
    usable = [e for e in listed if e.manifest is not None and e.manifest.engine == engine.name]
    ref = backup.this_database(engine)
    keys = backup.DatabaseKeys(listed, here=ref)
    entries = [e for e in usable if keys.of(e.manifest) == keys.here(ref)] or usable
    default = next((i for i, e in enumerate(entries, 1)
                    if e.manifest.kind == "regular" and e.state != "size differs"), None)
    return RestoreChoices(entries, default, backup.listing_warnings(listed),
                          any(e.manifest.kind == "safety" for e in entries))


# --------------------------------------------------------------------------
# Failed checks (exit 3)


def check_status(status: Any) -> None:
    """ChecksFailed unless the database is up to date: nothing pending, no drift (``status --check``)."""
    if status.up_to_date:
        return
    parts = []
    if status.pending:
        parts.append(f"{len(status.pending)} pending")
    if status.changed:
        parts.append(f"changed since applied: {', '.join(status.changed)}")
    if status.missing:
        parts.append(f"missing files: {', '.join(status.missing)}")
    raise ChecksFailed("; ".join(parts), result=status,
                       hint="run `aura-db migrate`" if status.pending and not status.drift else None)


def check_verify(report: Any) -> None:
    """ChecksFailed when any of ``verify``'s checks failed (warnings pass)."""
    if report.failed:
        names = ", ".join(c.check for c in report.failed)
        raise ChecksFailed(f"{len(report.failed)} check(s) failed: {names}", result=report)


def check_backups(results: list[Any]) -> None:
    """ChecksFailed when ``backup verify`` found any backup damaged; the first is named."""
    bad = [r for r in results if not r.ok]
    if bad:
        first = bad[0]
        problem = first.problems[0].removeprefix(f"{first.path.name}: ")  # named once is enough
        raise ChecksFailed(f"{len(bad)} damaged backup(s): {first.path.name}: {problem}", result=results)
