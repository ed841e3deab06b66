"""``backup verify``: a backup's checksum against its manifest, then its engine's own check of the content.

Damage is reported in the result, not raised.  Above catalogue; the engine
that checks the content is found through the engine registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aura_db.backup.catalogue import list_backups
from aura_db.backup.files import Progress, sha256_file
from aura_db.backup.manifest import Manifest, read_manifest
from aura_db.errors import CheckFailed, UsageError

if TYPE_CHECKING:
    from aura_db.engines.base import Engine

@dataclass
class VerifyResult:
    path: Path
    ok: bool
    checks: dict[str, str] = field(default_factory=dict)  # check -> "ok" | what is wrong
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    manifest: Manifest | None = None
    # False when only the file was checked (an encrypted backup without its
    # identity): ``ok`` then vouches for the checksum, not the content.
    content_checked: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.path.name,
            "path": str(self.path),
            "ok": self.ok,
            "encrypted": bool(self.manifest and self.manifest.encrypted),
            "content_checked": self.content_checked,
            "checks": self.checks,
            "problems": self.problems,
            "warnings": self.warnings,
        }


def check_scratch(scratch: "Engine", live: "Engine | None") -> None:
    """UsageError (exit 2) unless ``scratch`` is an existing, empty database other than ``live``."""
    scratch.backup().check_scratch(scratch, live)


def verify_backup(path: Path, *, engine: "Engine | None" = None, server: "Engine | None" = None,
                  full: bool = False, scratch_dir: Path | None = None, identities: Any = None,
                  scratch: "Engine | None" = None,
                  on_progress: Progress | None = None) -> VerifyResult:
    """Checksum against the manifest, then the engine's own check of the content.

    An encrypted backup's content is checked only with ``identities``
    (``crypto.Identities``, e.g. ``crypto.load_identities(path)``); without
    them the result says so (``content_checked`` False, a warning) and is ok
    when the checksum matches.  Identities that do not open it are a
    UsageError (exit 2): the key is wrong, not the backup.

    ``engine`` is the live database's engine, when the backup must belong to
    it; ``server`` is where a full check of a server backup may restore into a
    scratch database it creates; ``scratch`` an existing empty database to
    restore into instead (checked empty before, emptied after).  Damage is
    reported in the result, not raised.
    """
    from aura_db.engines.registry import backup_checker

    path = Path(path)
    if identities is not None:
        from aura_db.backup.crypto import as_identities

        identities = as_identities(identities)
    result = VerifyResult(path, ok=False)
    if not path.is_file():
        result.problems.append(f"{path} does not exist")
        result.checks["file"] = "missing"
        return result
    try:
        manifest = read_manifest(path)
    except CheckFailed as exc:
        result.problems.append(exc.message)
        result.checks["manifest"] = exc.message
        return result
    result.manifest = manifest
    result.checks["manifest"] = "ok"
    if engine is not None and manifest.engine != engine.name:
        result.problems.append(f"{path.name} is a {manifest.engine} backup; the database is {engine.name}")
        result.checks["engine"] = f"{manifest.engine}, not {engine.name}"
        return result
    size = path.stat().st_size
    if size != manifest.size:
        result.problems.append(f"{path.name} is {size} bytes; its manifest says {manifest.size}")
        result.checks["size"] = "differs"
        return result
    result.checks["size"] = "ok"
    if sha256_file(path, on_progress) != manifest.sha256:
        result.problems.append(f"{path.name}: sha256 differs from its manifest (the file is damaged)")
        result.checks["sha256"] = "differs"
        return result
    result.checks["sha256"] = "ok"
    if manifest.encrypted and identities is None:
        from aura_db.backup.crypto import who

        result.checks["content"] = "not checked (encrypted, no identity)"
        result.warnings.append(f"encrypted ({who(manifest)}): only the checksum was checked, not the content; "
                               "pass --identity to check it")
        result.ok = True
        return result
    use_scratch = scratch is not None and full and scratch.name == manifest.engine
    checker = backup_checker(manifest.engine, server or engine)
    checker.identities = identities
    if use_scratch:
        checker.scratch_database = scratch
    try:
        problems, warnings = checker.check_content(path, manifest, full=full,
                                                   scratch_dir=scratch_dir or path.parent,
                                                   on_progress=on_progress)
    except CheckFailed as exc:
        problems, warnings = [exc.message], []
    result.warnings.extend(warnings)
    result.checks["content"] = "ok" if not problems else "; ".join(problems)
    result.problems.extend(problems)
    result.content_checked = True
    result.ok = not result.problems
    return result


def verify_all(backup_dir: Path, *, server: "Engine | None" = None, full: bool = False, identities: Any = None,
               scratch: "Engine | None" = None, on_progress: Progress | None = None) -> list[VerifyResult]:
    """Every backup in the folder; an encrypted one the identities do not open is checked by its checksum only."""
    if identities is not None:
        from aura_db.backup.crypto import as_identities

        identities = as_identities(identities)  # a bad file: one error, before any backup is read
    results = []
    for e in list_backups(backup_dir):
        try:
            results.append(verify_backup(e.path, server=server, full=full, identities=identities,
                                         scratch=scratch, on_progress=on_progress))
        except UsageError as exc:
            # Backups encrypted to other keys share the folder: say so, check the rest.
            r = verify_backup(e.path, server=server, full=full, scratch=scratch, on_progress=on_progress)
            r.checks["content"] = "not checked (the identity does not open it)"
            r.warnings = [exc.message]
            results.append(r)
    return results
