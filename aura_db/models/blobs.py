"""ContentBlobs as content-addressed storage.

The key of a blob is the sha256 of its content (UTF-8).  Storing content that
is already there reuses the blob and counts one more reference; releasing a
reference decrements ``ReferenceCount``.  Counts change with a single UPDATE
(``ReferenceCount = ReferenceCount + 1``), so concurrent writers never lose
an increment.
"""

from __future__ import annotations

import hashlib

import peewee as pw

from aura_db.fields import utcnow
from aura_db.models.base import current_actor
from aura_db.models.schema import ContentBlob


def content_hash(content: str | bytes) -> str:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return hashlib.sha256(data).hexdigest()


def store_blob(content: str, content_type: str = "application/json") -> ContentBlob:
    """Store ``content`` (or reuse the blob that has it) and count one reference."""
    key = content_hash(content)
    db = ContentBlob._meta.database
    now = utcnow()
    with db.atomic():
        bumped = (
            ContentBlob.update(
                reference_count=ContentBlob.reference_count + 1,
                last_referenced_at=now,
                updated_at=now,
                modified_by=current_actor(),
            )
            .where(ContentBlob.content_hash == key)
            .execute()
        )
        if not bumped:
            try:
                with db.atomic():
                    ContentBlob.create(
                        content_hash=key,
                        content=content,
                        content_type=content_type,
                        size_bytes=len(content.encode("utf-8")),
                        last_referenced_at=now,
                        reference_count=1,
                    )
            except pw.IntegrityError:  # another writer stored it first
                return store_blob(content, content_type)
    return ContentBlob.get_by_id(key)


def release_blob(key: str) -> int:
    """Drop one reference to the blob ``key``; returns the references left.

    The count never goes below zero; a blob left with none stays until a
    garbage collection decides to delete it (``delete_unreferenced``).
    """
    (
        ContentBlob.update(
            reference_count=ContentBlob.reference_count - 1,
            updated_at=utcnow(),
            modified_by=current_actor(),
        )
        .where((ContentBlob.content_hash == key) & (ContentBlob.reference_count > 0))
        .execute()
    )
    blob = ContentBlob.get_or_none(ContentBlob.content_hash == key)
    if blob is None:
        raise KeyError(key)
    return blob.reference_count


def delete_unreferenced() -> int:
    """Delete blobs no version refers to any more; returns how many."""
    return ContentBlob.delete().where(ContentBlob.reference_count <= 0).execute()
