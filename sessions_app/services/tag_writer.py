"""The one writer of what tag rows imply: each tag's `image_count`, each image's `version`.

The caption cache (tags/captions.py) trusts an image's tags for as long as
its `version` stands, and the tag counts are read everywhere a tag is shown,
so every service that inserts, deletes or moves ImageTag rows calls these in
the same transaction. Nothing else in the apps updates either column:
tests/sessions_app/test_tag_writer.py scans the source for it.
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence

from django.db import connection
from django.db.models import F

from images.models import Image
from sessions_app.sql import chunked
from tagger_project.db import placeholders
from tags.models import Tag


def tag_counts_add(deltas: Mapping[int, int]) -> None:
    """Add `deltas[tag_id]` images to each tag's count: one UPDATE per distinct delta."""
    by_delta: dict[int, list[int]] = defaultdict(list)
    for tag_id, delta in deltas.items():
        if delta:
            by_delta[delta].append(tag_id)
    for delta, tag_ids in by_delta.items():
        for chunk in chunked(tag_ids):
            Tag.objects.filter(pk__in=chunk).update(image_count=F("image_count") + delta)


def version_bump(image_id: int) -> None:
    """Move one image's version on (its tags changed)."""
    Image.objects.filter(pk=image_id).update(version=F("version") + 1)


def versions_bump_tagged(tag: Tag) -> None:
    """Move on the version of every image that carries `tag` (before a rename or merge)."""
    Image.objects.filter(image_tags__tag=tag).update(version=F("version") + 1)


def versions_bump(image_ids: Sequence[int]) -> list[list[int]]:
    """Bump each image's version; [image_id, new version] pairs in the order given."""
    table = Image._meta.db_table
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
