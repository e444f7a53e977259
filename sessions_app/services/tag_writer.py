"""The one writer of what tag rows imply: each tag's `image_count` (its rows that are in a
caption: `in_caption`), each session image's `version`.

The caption cache (sessions_app/captions.py) trusts a session image's tags for
as long as its `version` stands, and the tag counts are read everywhere a tag
is shown, so every service that inserts, deletes or moves SessionImageTag rows calls these in
the same transaction. Nothing else in the apps updates either column:
tests/sessions_app/test_tag_writer.py scans the source for it.
"""

from collections.abc import Mapping, Sequence

from django.db import connection
from django.db.models import F

from sessions_app.models import SessionImage
from sessions_app.sql import update_from_values
from tagger_project.db import chunked, placeholders
from tags.models import Tag, TagSource


def in_caption(source: str) -> bool:
    """Whether a row of this source counts in its tag's `image_count`.

    A tagger's suggestion is not part of the caption until accepted, so it
    counts nowhere (the query language, the sidebar and autocomplete agree).
    """
    return source != TagSource.SUGGESTION


def tag_counts_add(deltas: Mapping[int, int]) -> None:
    """Add `deltas[tag_id]` images to each tag's count: one UPDATE per 1,000 tags.

    One statement, not one per distinct delta: an import's group of 32 images
    moves a hundred tags by a dozen different amounts. In tag id order, so
    two writers lock the rows they share in the same order.
    """
    rows = sorted((tag_id, delta) for tag_id, delta in deltas.items() if delta)
    update_from_values(Tag._meta.db_table, "image_count = image_count + v.column2", rows, 2)


def version_bump(entry_id: int) -> None:
    """Move one session image's version on (its tags changed)."""
    SessionImage.objects.filter(pk=entry_id).update(version=F("version") + 1)


def versions_bump_tagged(tag: Tag) -> None:
    """Move on the version of every session image carrying `tag` (before a rename or merge)."""
    SessionImage.objects.filter(tags__tag=tag).update(version=F("version") + 1)


def versions_bump(entry_ids: Sequence[int]) -> list[list[int]]:
    """Bump each session image's version; [entry id, new version] pairs in the order given."""
    image_ids = entry_ids
    table = SessionImage._meta.db_table
    bumped: dict[int, int] = {}
    for chunk in chunked(image_ids):
        with connection.cursor() as cursor:
            # RETURNING (SQLite ≥ 3.35, PostgreSQL) reads the new versions in the same statement.
            cursor.execute(
                f"UPDATE {table} SET version = version + 1"
                f" WHERE id IN ({placeholders(len(chunk))}) RETURNING id, version",
                list(chunk),
            )
            bumped.update(cursor.fetchall())
    return [[image_id, bumped[image_id]] for image_id in image_ids if image_id in bumped]
