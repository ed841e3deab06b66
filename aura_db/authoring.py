"""Writing and removing migration modules (`migrate add`, `migrate remove`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aura_db.errors import AuraError, UsageError
from aura_db.migrations import NAME_RE, MigrationFile, discover, read_history

if TYPE_CHECKING:
    from aura_db.db import Engine

TEMPLATE = '''"""{title}

What this migration changes, and why.
"""

import peewee as pw
{imports}

def migrate(migrator, database, *, fake=False):
    """Apply the change.

    Examples (model: a class or a table name):
        Model = migrator.orm["ProjectStates"]
        migrator.add_fields(Model, tags=pw.TextField(column_name="Tags", null=True))
        migrator.add_index(Model, "status", "updated_at")
        migrator.sql('UPDATE "ProjectStates" SET "Status" = %s WHERE "Status" IS NULL', "Draft")
    """
{migrate}


def rollback(migrator, database, *, fake=False):
    """Undo exactly what migrate() did."""
{rollback}
'''


@dataclass
class Created:
    name: str
    path: Path
    operations: int = 0
    warnings: list[str] = field(default_factory=list)
    written: bool = True  # False: --auto found nothing to change, no file written

    def to_dict(self) -> dict:
        return {
            "created": str(self.path) if self.written else None,
            "name": self.name,
            "written": self.written,
            "operations": self.operations,
            "warnings": list(self.warnings),
        }


def validate_name(name: str, existing: list[MigrationFile]) -> str:
    if os.sep in name or "/" in name or "\\" in name:
        raise UsageError(f"migration name {name!r} must not contain a path separator")
    if len(name) > 100:
        raise UsageError(f"migration name is {len(name)} characters long; keep it under 100")
    if not NAME_RE.match(name):
        raise UsageError(
            f"migration name {name!r} must be snake_case: lower-case letters, digits and _, starting with a letter"
        )
    for f in existing:
        if f.name.split("_", 1)[1] == name:
            raise UsageError(f"a migration named {name!r} exists already: {f.path.name}")
    return name


def add(migrations_dir: Path, name: str, *, auto: bool = False) -> Created:
    """Write the next numbered module; ``auto`` fills it from the models."""
    existing = discover(migrations_dir)
    validate_name(name, existing)
    number = (existing[-1].number + 1) if existing else 1
    stem = f"{number:03d}_{name}"
    path = Path(migrations_dir) / f"{stem}.py"
    title = name.replace("_", " ").capitalize() + "."
    if auto:
        from aura_db import autogen

        body = autogen.generate(migrations_dir, existing)
        if body is None:
            # Nothing to do is success (exit 0), and nothing is written.
            return Created(stem, path, 0, autogen.unlisted_models(), written=False)
        imports = "".join(f"{line}\n" for line in getattr(body, "imports", []))
        text = TEMPLATE.format(title=title, imports=imports, migrate=body.migrate, rollback=body.rollback)
        created = Created(stem, path, body.operations, body.warnings)
    else:
        text = TEMPLATE.format(title=title, imports="", migrate="    pass", rollback="    pass")
        created = Created(stem, path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return created


def removable(engine: "Engine", migrations_dir: Path) -> MigrationFile:
    """The newest module, if it may be removed (not applied)."""
    files = discover(migrations_dir)
    if not files:
        raise UsageError(f"no migration modules in {migrations_dir}")
    newest = files[-1]
    # A database file that does not exist has nothing applied; a server that
    # cannot be reached cannot tell, so that stays an error (exit 4).
    if not engine.features.database_is_a_file or engine.exists():
        db = engine.open()
        try:
            applied = {h.name for h in read_history(db)}
        finally:
            db.close()
        if newest.name in applied:
            raise UsageError(
                f"{newest.name} is applied; removing its file would leave the database ahead of the code",
                hint="roll it back first: aura-db rollback --steps 1",
            )
    return newest


def remove(engine: "Engine", migrations_dir: Path, *, expected: str | None = None) -> Path:
    newest = removable(engine, migrations_dir)
    if expected is not None and newest.name != expected:
        raise AuraError(f"the newest migration changed to {newest.name} while asking; nothing removed")
    newest.path.unlink()
    return newest.path
