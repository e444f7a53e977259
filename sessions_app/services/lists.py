"""Bulk rewrite of many session images' tag lists, and the "lists" inverse that undoes it.

Every "image id" key in this module is a session image's id (SessionImage.pk):
the tag rows hang on the session image.

Rule changes, batches under ordering rules, and their undo and redo all
write through `lists_write`: it compares each image's rows with the list it
should have and writes only the difference, set-based (a few multi-row
statements per thousand rows), never a save per row.
"""

from __future__ import annotations

import gc
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from django.utils import timezone

from sessions_app.models import SessionImageTag
from sessions_app.rules import TagRules
from sessions_app.services.tag_writer import in_caption, tag_counts_add
from sessions_app.sql import entry_tag_rows, update_from_values
from tagger_project.db import chunked, placeholders, rows_insert
from tags.models import Tag


class Row(NamedTuple):
    """A SessionImageTag row as the bulk writer sees it."""

    id: int
    tag_id: int
    position: int
    source: str
    confidence: float | None


# What an image's list should become: (tag id, position, source, confidence).
Target = tuple[int, int, str, float | None]


def rule_plans(
    current: dict[int, list[Row]], info: dict[int, tuple[str, str]], rules: TagRules
) -> dict[int, list[Target]]:
    """The new list of every image the rules change (positions renumbered from 0).

    Only a different order or a dropped tag is a change; gaps in positions are not.
    """
    # One sort key per tag (TagRules.sort_key, the rule that apply_rules uses), not per row.
    key_of = {tag_id: rules.sort_key(name, category) for tag_id, (name, category) in info.items()}
    reorders = bool(rules.pinned or rules.category_order)
    plans: dict[int, list[Target]] = {}
    for image_id, rows in current.items():
        kept = [row for row in rows if key_of[row.tag_id] is not None]
        if reorders:
            kept.sort(key=lambda row: key_of[row.tag_id])
        if len(kept) != len(rows) or any(a is not b for a, b in zip(kept, rows, strict=True)):
            plans[image_id] = [
                (row.tag_id, position, row.source, row.confidence)
                for position, row in enumerate(kept)
            ]
    return plans


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
                delta[row.tag_id] -= in_caption(row.source)
        for tag_id, position, source, confidence in target:
            row = have.get(tag_id)
            if row is None:
                inserts.append((image_id, tag_id, position, source, confidence))
                delta[tag_id] += in_caption(source)
            elif (row.source, row.confidence) != (source, confidence):
                # A suggestion accepted (or turned back into one) enters (leaves) the count.
                delta[tag_id] += in_caption(source) - in_caption(row.source)
                updates.append((row.id, position, source, confidence, False))
            elif row.position != position:
                updates.append((row.id, position, source, confidence, True))
    for chunk in chunked(deletes):
        SessionImageTag.objects.filter(pk__in=chunk).delete()
    _update_rows(updates)
    _insert_rows(inserts, actor=actor)
    tag_counts_add(delta)
    return {image_id: current.get(image_id, []) for image_id in targets}


def _update_rows(updates: Sequence[tuple]) -> None:
    # Most updates only move a row; writing source and confidence too would make
    # the database re-check their CHECK constraints on every row (~5× slower).
    table = SessionImageTag._meta.db_table
    position_only = [row[:2] for row in updates if row[4]]
    full = [row[:4] for row in updates if not row[4]]
    # UPDATE … FROM (VALUES …) runs on SQLite ≥ 3.33 and PostgreSQL alike, and
    # VALUES columns are called column1… on both.
    update_from_values(table, "position = v.column2", position_only, 2)
    # The casts give PostgreSQL the types that an all-NULL column would lack.
    update_from_values(
        table,
        "position = CAST(v.column2 AS INTEGER), source = CAST(v.column3 AS VARCHAR(16)),"
        " confidence = CAST(v.column4 AS DOUBLE PRECISION)",
        full,
        4,
    )


def _insert_rows(inserts: Sequence[tuple], *, actor) -> None:
    rows_insert(
        SessionImageTag,
        ("entry", "tag", "position", "source", "confidence"),
        inserts,
        added_by=getattr(actor, "pk", None),
        created_at=timezone.now(),
        spelling="",
    )


def image_rows(image_ids: Iterable[int]) -> dict[int, list[Row]]:
    """The current rows of these images, in caption order (chunked reads)."""
    current: dict[int, list[Row]] = defaultdict(list)
    for chunk in chunked(sorted(image_ids)):
        read_rows(current, f"WHERE it.entry_id IN ({placeholders(len(chunk))})", list(chunk))
    return current


def read_rows(into: dict[int, list[Row]], where: str, params: list) -> None:
    """Append the SessionImageTag rows matching `where` (alias `it`) to `into`, in caption order."""
    for image_id, row_id, tag_id, position, source, confidence in entry_tag_rows(where, params):
        into[image_id].append(Row(row_id, tag_id, position, source, confidence))


# Sources and confidences an image's rows have after an operation, by tag id.
After = dict[int, dict[int, tuple[str, float | None]]]


def lists_inverse(
    before: dict[int, list[Row]],
    after: After,
    versions: list[list[int]],
    *,
    rules: TagRules | None = None,
) -> dict[str, Any]:
    """The "lists" inverse: each image's previous list, compactly, and the versions left.

    Tags are indices into one name table; positions are kept only where they
    were not 0, 1, 2…; a row's source and confidence only where the operation
    changed or removed the row (otherwise undo finds them on the row itself).
    """
    tag_ids = sorted({row.tag_id for rows in before.values() for row in rows})
    names: dict[int, str] = {}
    for chunk in chunked(tag_ids):
        names.update(Tag.objects.filter(pk__in=chunk).values_list("pk", "name"))
    index = {tag_id: number for number, tag_id in enumerate(tag_ids)}
    images: list[list] = []
    kept: list[list] = []
    for image_id, rows in sorted(before.items()):
        entry: list = [image_id, [index[row.tag_id] for row in rows]]
        positions = [row.position for row in rows]
        if positions != list(range(len(rows))):
            entry.append(positions)
        images.append(entry)
        now = after.get(image_id, {})
        kept += [
            [image_id, index[row.tag_id], row.source, row.confidence]
            for row in rows
            if now.get(row.tag_id) != (row.source, row.confidence)
        ]
    inverse: dict[str, Any] = {
        "op": "lists",
        "tags": [names[tag_id] for tag_id in tag_ids],
        "images": images,
        "rows": kept,
        "versions": versions,
    }
    if rules is not None:
        inverse["rules"] = rules.as_dict()
    return inverse


def after_of(targets: dict[int, list[Target]]) -> After:
    """The sources and confidences that `lists_write(targets, …)` leaves."""
    return {
        image_id: {tag_id: (source, confidence) for tag_id, _, source, confidence in target}
        for image_id, target in targets.items()
    }


def after_of_rows(rows: dict[int, list[Row]]) -> After:
    """The sources and confidences of rows as read."""
    return {
        image_id: {row.tag_id: (row.source, row.confidence) for row in listed}
        for image_id, listed in rows.items()
    }


def lists_targets(
    inverse: dict[str, Any], current: dict[int, list[Row]], tag_ids: list[int]
) -> dict[int, list[Target]]:
    """Decode a "lists" inverse into targets; `tag_ids[i]` is the tag of name table entry i.

    Raises KeyError when a row the inverse relies on is gone (the caller
    checked versions first, so that means the log and the rows disagree).
    """
    kept = {(image, number): (source, conf) for image, number, source, conf in inverse["rows"]}
    targets: dict[int, list[Target]] = {}
    for image_id, order, *positions in inverse["images"]:
        have = {row.tag_id: row for row in current.get(image_id, [])}
        target: list[Target] = []
        for place, number in enumerate(order):
            tag_id = tag_ids[number]
            source, confidence = kept.get((image_id, number)) or (
                have[tag_id].source,
                have[tag_id].confidence,
            )
            target.append((tag_id, positions[0][place] if positions else place, source, confidence))
        targets[image_id] = target
    return targets


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector while hundreds of thousands of row tuples are made.

    Each collection rescans every young tuple, which tripled the cost of
    reading a 10,000-image session; tuples of numbers and strings form no
    cycles, so nothing is left for the collector to find later.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
