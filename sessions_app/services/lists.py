"""Bulk rewrite of many images' tag lists, and the "lists" inverse that undoes it.

Rule changes, batches under ordering rules, and their undo and redo all
write through `lists_write`: it compares each image's rows with the list it
should have and writes only the difference, set-based (a few multi-row
statements per thousand rows), never a save per row.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import F
from django.utils import timezone

from sessions_app.rules import TagRules
from tags.models import ImageTag, Tag

# Rows per multi-row UPDATE/INSERT: 5 parameters each stays far below
# SQLite's and PostgreSQL's parameter limits.
WRITE_CHUNK = 2000
# Ids per IN (…) list.
ID_CHUNK = 500


class Row(NamedTuple):
    """An ImageTag row as the bulk writer sees it."""

    id: int
    tag_id: int
    position: int
    source: str
    confidence: float | None


# What an image's list should become: (tag id, position, source, confidence).
Target = tuple[int, int, str, float | None]


def lists_write(
    targets: dict[int, list[Target]], current: dict[int, list[Row]], *, actor
) -> dict[int, list[Row]]:
    """Make each image's rows match its target, writing only what differs.

    Returns the previous rows of the target images (what an inverse needs).
    Tag image counts follow the deleted and inserted rows.
    """
    deletes: list[int] = []
    updates: list[tuple] = []
    inserts: list[tuple] = []
    delta: Counter[int] = Counter()
    for image_id, target in targets.items():
        have = {row.tag_id: row for row in current.get(image_id, [])}
        wanted = {tag_id for tag_id, *_ in target}
        for row in have.values():
            if row.tag_id not in wanted:
                deletes.append(row.id)
                delta[row.tag_id] -= 1
        for tag_id, position, source, confidence in target:
            row = have.get(tag_id)
            if row is None:
                inserts.append((image_id, tag_id, position, source, confidence))
                delta[tag_id] += 1
            elif (row.position, row.source, row.confidence) != (position, source, confidence):
                updates.append((row.id, position, source, confidence))
    for chunk in _chunks(deletes):
        ImageTag.objects.filter(pk__in=chunk).delete()
    _update_rows(updates)
    _insert_rows(inserts, actor=actor)
    by_delta: dict[int, list[int]] = defaultdict(list)
    for tag_id, change in delta.items():
        if change:
            by_delta[change].append(tag_id)
    for change, tag_ids in by_delta.items():
        for chunk in _chunks(tag_ids):
            Tag.objects.filter(pk__in=chunk).update(image_count=F("image_count") + change)
    return {image_id: current.get(image_id, []) for image_id in targets}


def _update_rows(updates: Sequence[tuple]) -> None:
    table = ImageTag._meta.db_table
    for start in range(0, len(updates), WRITE_CHUNK):
        chunk = updates[start : start + WRITE_CHUNK]
        values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
        # UPDATE … FROM (VALUES …) runs on SQLite ≥ 3.33 and PostgreSQL alike;
        # VALUES columns are column1… on both, and the casts give PostgreSQL
        # the types an all-NULL column would not have.
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {table} SET
                    position = CAST(v.column2 AS INTEGER),
                    source = CAST(v.column3 AS VARCHAR(16)),
                    confidence = CAST(v.column4 AS DOUBLE PRECISION)
                FROM (VALUES {values}) AS v
                WHERE {table}.id = CAST(v.column1 AS BIGINT)
                """,
                [value for row in chunk for value in row],
            )


def _insert_rows(inserts: Sequence[tuple], *, actor) -> None:
    table = ImageTag._meta.db_table
    now, actor_id = timezone.now(), getattr(actor, "pk", None)
    for start in range(0, len(inserts), WRITE_CHUNK):
        chunk = inserts[start : start + WRITE_CHUNK]
        values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (image_id, tag_id, position, source, confidence,"
                f" added_by_id, created_at) VALUES {values}",
                [value for row in chunk for value in (*row, actor_id, now)],
            )


def image_rows(image_ids: Iterable[int]) -> dict[int, list[Row]]:
    """The current rows of these images, in caption order (chunked reads)."""
    current: dict[int, list[Row]] = defaultdict(list)
    for chunk in _chunks(sorted(image_ids)):
        rows = (
            ImageTag.objects.filter(image_id__in=chunk)
            .order_by("image_id", "position", "id")
            .values_list("image_id", "id", "tag_id", "position", "source", "confidence")
        )
        for image_id, *rest in rows:
            current[image_id].append(Row(*rest))
    return current


def lists_inverse(
    before: dict[int, list[Row]],
    names: dict[int, str],
    versions: list[list[int]],
    *,
    rules: TagRules | None = None,
) -> dict[str, Any]:
    """The "lists" inverse: each image's full previous list, by tag name, and the versions left."""
    inverse: dict[str, Any] = {
        "op": "lists",
        "images": [
            [image_id, [[names[r.tag_id], r.position, r.source, r.confidence] for r in rows]]
            for image_id, rows in sorted(before.items())
        ],
        "versions": versions,
    }
    if rules is not None:
        inverse["rules"] = rules.as_dict()
    return inverse


def _chunks(items: Sequence, size: int = ID_CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
