"""Statements over thousands of image ids, shared by batch edits, rule changes and undo.

Raw SQL with plain parameter lists: the ORM prepares each id of an `__in`
lookup as an expression (~15 µs apiece), which was most of a 10,000-image
batch. Chunks stay well under SQLite's 32,766-parameter limit.
"""

from collections.abc import Iterator, Sequence

from django.db import connection

from images.models import Image
from sessions_app.models import SessionImage
from tags.models import ImageTag

ID_CHUNK = 5000


def chunked(items: Sequence, size: int = ID_CHUNK) -> Iterator[Sequence]:
    """The items in consecutive slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


def _column(sql: str, params: list) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def image_ids_in_session(session_id: int, image_ids: Sequence[int]) -> list[int]:
    """Those of the images that the session holds, sorted."""
    table = SessionImage._meta.db_table
    found: list[int] = []
    for chunk in chunked(sorted(set(image_ids))):
        found += _column(
            f"SELECT image_id FROM {table}"
            f" WHERE session_id = %s AND image_id IN ({_marks(len(chunk))})",
            [session_id, *chunk],
        )
    return sorted(found)


def image_ids_with_tag(tag_id: int, image_ids: Sequence[int]) -> set[int]:
    """Those of the images that have the tag."""
    table = ImageTag._meta.db_table
    having: set[int] = set()
    for chunk in chunked(image_ids):
        having.update(
            _column(
                f"SELECT image_id FROM {table}"
                f" WHERE tag_id = %s AND image_id IN ({_marks(len(chunk))})",
                [tag_id, *chunk],
            )
        )
    return having


def versions_bump(image_ids: Sequence[int]) -> list[list[int]]:
    """Bump each image's version; [image_id, new version] pairs in the order given."""
    table = Image._meta.db_table
    bumped: dict[int, int] = {}
    for chunk in chunked(image_ids):
        with connection.cursor() as cursor:
            # RETURNING (SQLite ≥ 3.35, PostgreSQL) reads the new versions in the same statement.
            cursor.execute(
                f"UPDATE {table} SET version = version + 1"
                f" WHERE id IN ({_marks(len(chunk))}) RETURNING id, version",
                list(chunk),
            )
            bumped.update(cursor.fetchall())
    return [[image_id, bumped[image_id]] for image_id in image_ids if image_id in bumped]
