"""Statements over thousands of image ids or rows, shared by batch edits, rules, undo and import.

Raw SQL with plain parameter lists: the ORM prepares each id of an `__in`
lookup as an expression (~15 µs apiece), which was most of a 10,000-image
batch, and each value of a bulk_create row likewise. Chunks stay well under
SQLite's 32,766-parameter limit.
"""

from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection, models

from sessions_app.models import SessionImage
from tagger_project.db import placeholders
from tags.models import ImageTag

ID_CHUNK = 5000
ROW_CHUNK = 1000  # rows per INSERT: a handful of columns each


def chunked(items: Sequence, size: int = ID_CHUNK) -> Iterator[Sequence]:
    """The items in consecutive slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


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
            f" WHERE session_id = %s AND image_id IN ({placeholders(len(chunk))})",
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
                f" WHERE tag_id = %s AND image_id IN ({placeholders(len(chunk))})",
                [tag_id, *chunk],
            )
        )
    return having


def rows_insert(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence], **same: Any
) -> None:
    """Insert what bulk_create would: each row's values in ``fields`` order, plus ``same``.

    Per-row values go in as given, so they must be what the database stores
    (ids, integers, strings); the shared values are prepared once by their
    field, as the ORM would (a datetime, a user's pk). Every column but the
    primary key needs a value: a new field fails here instead of missing a
    default only the ORM knows.
    """
    meta = model._meta
    columns = [meta.get_field(name) for name in (*fields, *same)]
    unset = {f.column for f in meta.concrete_fields if not f.primary_key}
    unset -= {f.column for f in columns}
    if unset:
        raise ValueError(f"{meta.label}: no value for {', '.join(sorted(unset))}")
    shared = [meta.get_field(name).get_db_prep_save(v, connection) for name, v in same.items()]
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in columns)})"
    marks = f"({placeholders(len(columns))})"
    for chunk in chunked(rows, ROW_CHUNK):
        with connection.cursor() as cursor:
            cursor.execute(
                f"{head} VALUES {', '.join([marks] * len(chunk))}",
                [value for row in chunk for value in (*row, *shared)],
            )
