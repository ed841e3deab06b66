"""Backups: create / list / verify / prune / restore -> dataclasses.

A backup is one file in the backup folder plus its manifest (``<file>.json``)
beside it.  Both are written under a hidden temporary name, fsynced, then
published into place - the manifest first, the backup file last - so a run
killed at any moment leaves nothing that ``list_backups`` shows or ``restore``
accepts; the hidden leftovers are removed by the next run.

The package is in layers; nothing below imports what is above it:

* leaves: ``files`` (temporary names, atomic publication, fsync, streaming
  hash and compression), ``manifest`` (the format, names, bounded reading)
  and ``crypto`` (age encryption: recipients, identities, stream adapters);
* engine backups: ``engine`` (the interface), ``server`` (what the dump-tool
  engines share) and each engine's own class in ``aura_db.engines.<engine>.backup``;
* orchestration: ``catalogue`` (list, latest, which database), ``verify``,
  ``retention``, ``create``, ``restore``.

Nothing here prints, prompts or exits: results are dataclasses, errors are
``aura_db.errors`` subclasses, progress goes through callbacks.

This module re-exports the public API lazily (PEP 562): importing a leaf
(``aura_db.backup.files``) does not import the orchestration above it.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> the module of this package that defines it
_EXPORTS = {
    **dict.fromkeys(("CHUNK", "COMPRESSIONS", "PREFIX", "HashingWriter", "Progress", "check_compression",
                     "clean_leftovers", "copy_verified", "ensure_folder", "iter_file", "open_new_for_copy",
                     "read_decompressed", "sha256_file", "tmp_name"), "files"),
    **dict.fromkeys(("FORMAT", "FORMAT_VERSION", "KINDS", "MANIFEST_LIMIT", "SAFETY_LABELS", "Manifest",
                     "check_label", "read_manifest"), "manifest"),
    **dict.fromkeys(("DatabaseInUse", "EngineBackup", "Snapshot"), "engine"),
    **dict.fromkeys(("BackupEntry", "DatabaseKeys", "DatabaseRef", "database_key", "latest_candidates",
                     "list_backups", "listing_warnings", "resolve_backup", "this_database"), "catalogue"),
    **dict.fromkeys(("VerifyResult", "verify_all", "verify_backup", "check_scratch"), "verify"),
    **dict.fromkeys(("DEFAULT_KEEP", "DEFAULT_KEEP_SAFETY", "PruneDecision", "PruneResult", "plan_prune", "prune"),
                    "retention"),
    **dict.fromkeys(("CreateResult", "create_backup", "create_with", "safety_backup", "take_safety_backup"),
                    "create"),
    **dict.fromkeys(("RestorePlan", "RestoreResult", "restore"), "restore"),
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
