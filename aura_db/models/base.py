"""Model behaviour the Aura design asks for: audit fields and soft delete.

* Audit: ``save()`` fills ``CreatedAt``/``UpdatedAt`` (UTC) and
  ``CreatedBy``/``ModifiedBy`` (the actor) on the models that have them.
  The actor is ``set_actor()``'s value, else ``AURA_DB_ACTOR``, else the OS user.
* Soft delete: on ``SoftDeleteModel``, ``delete_instance()`` marks the row
  (``IsDeleted``, ``DeletedAt``, ``DeletedBy``); ``select()`` and everything
  built on it (``get``, ``get_by_id``, ``count``) leave deleted rows out;
  ``select_with_deleted()`` includes them, ``restore()`` brings one back and
  ``hard_delete()`` removes it for good.
"""

from __future__ import annotations

import getpass
import os

import peewee as pw

from aura_db.fields import StringField, TimestampField, utcnow

database_proxy = pw.DatabaseProxy()

_actor: str | None = None


def set_actor(name: str | None) -> None:
    """Who is recorded in CreatedBy/ModifiedBy/DeletedBy; None restores the default."""
    global _actor
    _actor = name


def current_actor() -> str:
    if _actor:
        return _actor
    env = os.environ.get("AURA_DB_ACTOR")
    if env:
        return env
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return f"uid:{os.getuid()}"


class BaseModel(pw.Model):
    class Meta:
        database = database_proxy

    def _fill_audit(self, *, creating: bool) -> None:
        fields = self._meta.fields
        now = utcnow()
        actor = None
        if "created_by" in fields or "modified_by" in fields:
            actor = current_actor()
        if creating:
            if "created_at" in fields and getattr(self, "created_at", None) is None:
                self.created_at = now
            if "created_by" in fields and not getattr(self, "created_by", None):
                self.created_by = actor
        if "updated_at" in fields:
            self.updated_at = now
        if "modified_by" in fields:
            self.modified_by = actor

    def save(self, force_insert: bool = False, only=None):
        creating = force_insert or self._pk is None
        self._fill_audit(creating=creating)
        if only is not None and not creating:
            # Field objects overload ==, so compare by name.
            names = [f if isinstance(f, str) else f.name for f in only]
            names += [n for n in ("updated_at", "modified_by") if n in self._meta.fields and n not in names]
            only = names
        return super().save(force_insert=force_insert, only=only)


class SoftDeleteModel(BaseModel):
    """Rows are marked deleted, never removed, unless ``hard_delete()`` says so."""

    # Column names are each table's own (``IsDeleted`` or ``is_deleted``): every
    # soft-delete model declares these three fields again with its names.
    is_deleted = pw.BooleanField(column_name="IsDeleted", default=False)
    deleted_at = TimestampField(column_name="DeletedAt", null=True)
    deleted_by = StringField(200, column_name="DeletedBy", null=True)

    @classmethod
    def select(cls, *fields):
        return super().select(*fields).where(cls.is_deleted == False)  # noqa: E712

    @classmethod
    def select_with_deleted(cls, *fields):
        return super().select(*fields)

    @classmethod
    def select_deleted(cls, *fields):
        return super().select(*fields).where(cls.is_deleted == True)  # noqa: E712

    def delete_instance(self, recursive: bool = False, delete_nullable: bool = False):
        """Soft delete: mark the row; returns the number of rows marked."""
        self.is_deleted = True
        self.deleted_at = utcnow()
        self.deleted_by = current_actor()
        return self.save(only=["is_deleted", "deleted_at", "deleted_by"])

    def restore(self):
        self.is_deleted = False
        self.deleted_at = None
        self.deleted_by = None
        return self.save(only=["is_deleted", "deleted_at", "deleted_by"])

    def hard_delete(self, recursive: bool = False, delete_nullable: bool = False):
        """Remove the row for good (ON DELETE CASCADE takes its children)."""
        return super().delete_instance(recursive=recursive, delete_nullable=delete_nullable)
