"""Batch edits over a selection of a session's images, done as set-based SQL.

The selection comes as image ids and is resolved inside the session once;
from there every id is a session image's (the tag rows hang on it), and the
event names the images by image id again, as every client does.

A selection of 10,000 images costs a handful of statements per tag (chunked
to stay under the database's parameter limits), never a save per image.
Whole-list changes (added at the front, sorted, reordered by the session's
rules) are written through services.lists, which writes only what moved.

The operations of one batch apply in this order: clear, replace, remove,
accept or drop a source, add (at the end or the front), sort, the rules.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django.db import transaction

from sessions_app.event_kinds import Kind
from sessions_app.events import append_event
from sessions_app.models import SessionImageTag, TaggingSession
from sessions_app.outcome import Outcome
from sessions_app.rules import session_rules
from sessions_app.services.lists import (
    Row,
    Target,
    after_of_rows,
    image_rows,
    lists_inverse,
    lists_write,
    rule_plans,
)
from sessions_app.services.tag_writer import in_caption, tag_counts_add, versions_bump
from sessions_app.sql import entries_in_session, entry_ids_with_tag, tag_append
from tagger_project.db import chunked, db_now
from tagger_project.errors import InvalidInput
from tags.models import Tag, TagSource
from tags.selectors import resolve_tag_names
from tags.services import implied_closure, tags_get_or_create


@dataclass
class BatchResult:
    changed_image_ids: list[int]

    @property
    def changed(self) -> int:
        return len(self.changed_image_ids)


@transaction.atomic
def batch_apply(
    session: TaggingSession,
    *,
    actor,
    image_ids: Sequence[int],
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    replace: tuple[str, str] | None = None,
    accept_source: str | None = None,
    drop_source: str | None = None,
    add_front: bool = False,
    sort: bool = False,
    keep_first: int = 0,
    clear: bool = False,
) -> Outcome[BatchResult]:
    """Add, remove and replace tags on every selected image of the session.

    `accept_source` turns every tag of that source into a manual one;
    `drop_source` removes every tag of that source. `add_front` puts the
    added tags first, in the order given, on the images that lacked them
    (an image that has one keeps it where it is, as BooruDatasetTagManager's
    "skip existing"); `sort` orders each list by name, leaving its first
    `keep_first` tags in place; `clear` removes every tag first. The
    session's rules apply to the result (blacklisted tags are not added;
    pinned tags and the category order place what is). Images not in the
    session are ignored. Returns which images changed.
    """
    add_names, remove_names = resolve_tag_names(add), resolve_tag_names(remove)
    replace_names = resolve_tag_names(replace) if replace else []
    if replace and len(replace_names) != 2:
        raise InvalidInput("replace needs two different tags")
    _check_sources(accept_source, drop_source)
    _check_arrangement(add_names, add_front=add_front, keep_first=keep_first, sort=sort)
    if not (
        add_names or remove_names or replace_names or accept_source or drop_source or sort or clear
    ):
        raise InvalidInput(
            "a batch needs something to add, remove, replace, accept, drop, sort or clear"
        )
    rules = session_rules(session.pk)
    if replace_names and replace_names[1] in rules.blacklist:
        raise InvalidInput(f"{replace_names[1]!r} is blacklisted in this session")
    entry_of = entries_in_session(session.pk, image_ids)
    image_of = {entry_id: image_id for image_id, entry_id in entry_of.items()}
    selected = sorted(image_of)
    # Reordering moves rows the batch itself does not touch: keep whole lists for undo.
    rearranges = bool(rules.pinned or rules.category_order or add_front or sort)
    before_lists = image_rows(selected) if rearranges else None
    changed: set[int] = set()
    added_rows: list[list] = []
    removed_rows: list[list] = []
    front: dict[int, list[int]] = defaultdict(list)

    if clear:
        rows = _source_rows(selected, None, accept=False)
        changed |= {row[0] for row in rows}
        removed_rows += rows
    implication_seeds: list[int] = []

    if replace_names:
        source, target = tags_get_or_create(replace_names).values()
        moved, dropped = _replace_tag(source, target, selected)
        changed |= {row[0] for row in moved} | {row[0] for row in dropped}
        removed_rows += [[image_id, source.name, *rest] for image_id, *rest in moved + dropped]
        added_rows += [[row[0], target.name] for row in moved]
        implication_seeds.append(target.pk)
    for tag in Tag.objects.filter(name__in=remove_names):
        rows = _remove_tag(tag, selected)
        changed |= {row[0] for row in rows}
        removed_rows += [[image_id, tag.name, *rest] for image_id, *rest in rows]
    if drop_source or accept_source:
        rows = _source_rows(selected, drop_source or accept_source, accept=bool(accept_source))
        changed |= {row[0] for row in rows}
        removed_rows += rows
        if accept_source:
            # Undo deletes the manual rows and re-inserts the originals.
            added_rows += [row[:2] for row in rows]
    tags = tags_get_or_create([name for name in add_names if name not in rules.blacklist])
    implication_seeds += [tag.pk for tag in tags.values()]
    implied = [
        name
        for name in _implied_names(implication_seeds)
        if name not in tags and name not in rules.blacklist
    ]
    plan = [(tag, TagSource.MANUAL) for tag in tags.values()]
    plan += [(tag, TagSource.IMPLICATION) for tag in tags_get_or_create(implied).values()]
    for tag, source in plan:
        gained = _add_tag(tag, selected, actor=actor, source=source)
        changed |= set(gained)
        added_rows += [[image_id, tag.name] for image_id in gained]
        if add_front and source == TagSource.MANUAL:
            for image_id in gained:
                front[image_id].append(tag.pk)

    after = None
    if before_lists is not None:
        # A sort may move the tags of images that nothing else touched.
        arrange = _arrangement(front, sort=sort, keep_first=keep_first)
        moved, after = _reorder(selected if sort else sorted(changed), rules, arrange, actor=actor)
        changed |= moved
    changed_ids = sorted(changed)
    if not changed_ids:
        return Outcome(BatchResult(changed_image_ids=[]))
    arrangement = {"add_front": add_front, "sort": sort, "keep_first": keep_first, "clear": clear}
    versions = versions_bump(changed_ids)
    inverse = {"op": "rows", "delete": added_rows, "insert": removed_rows, "versions": versions}
    if before_lists is not None and after is not None:
        kept = {image_id: before_lists.get(image_id, []) for image_id in changed_ids}
        inverse = lists_inverse(kept, after, versions)
    event = append_event(
        session.pk,
        kind=Kind.BATCH_APPLIED,
        payload={
            "image_ids": sorted(image_of[entry_id] for entry_id in changed_ids),
            "add": add_names,
            "remove": remove_names,
            "replace": replace_names or None,
            "accept_source": accept_source,
            "drop_source": drop_source,
            # The whole-list operations only when used: older events lack them.
            **{key: value for key, value in arrangement.items() if value},
        },
        actor=actor,
        # Undo deletes what was added and puts back what was removed, refused
        # when any image has changed since (its version moved on).
        inverse=inverse,
    )
    return Outcome(
        BatchResult(changed_image_ids=sorted(image_of[e] for e in changed_ids)), (event,)
    )


def _check_sources(accept_source: str | None, drop_source: str | None) -> None:
    for source in (accept_source, drop_source):
        if source is not None and source not in TagSource.values:
            raise InvalidInput(
                f"unknown source {source!r}", details=[{"allowed": list(TagSource.values)}]
            )
    if accept_source == TagSource.MANUAL:
        raise InvalidInput("manual tags are accepted already")
    if accept_source and drop_source:
        raise InvalidInput("accept one source or drop one, not both in one batch")


def _source_rows(image_ids: Sequence[int], source: str | None, *, accept: bool) -> list[list]:
    """Drop the tags of `source` (None: every tag), or make them manual; the rows, for undo."""
    found: list[list] = []
    lost: dict[int, int] = {}
    for chunk in chunked(image_ids):
        rows = SessionImageTag.objects.filter(entry_id__in=chunk)
        if source is not None:
            rows = rows.filter(source=source)
        for image_id, tag_id, name, *rest in rows.values_list(
            "entry_id", "tag_id", "tag__name", "position", "source", "confidence"
        ):
            found.append([image_id, name, *rest])
            row_source = rest[1]
            # Accepted, a suggestion enters its tag's count; dropped, a caption's row leaves it.
            moved = not in_caption(row_source) if accept else in_caption(row_source)
            lost[tag_id] = lost.get(tag_id, 0) + moved
        if accept:
            rows.update(source=TagSource.MANUAL, confidence=None)
        else:
            rows.delete()
    sign = 1 if accept else -1
    tag_counts_add({tag_id: sign * count for tag_id, count in lost.items()})
    return found


MAX_KEEP_FIRST = 1000

# Rearranges one image's rows (caption order) before the rules: (image id, rows, tag names).
Arrangement = Callable[[int, list[Row], dict[int, str]], list[Row]]


def _check_arrangement(add_names: list[str], *, add_front: bool, keep_first: int, sort: bool):
    if add_front and not add_names:
        raise InvalidInput("add_front needs tags to add")
    if not 0 <= keep_first <= MAX_KEEP_FIRST:
        raise InvalidInput(f"keep_first must be between 0 and {MAX_KEEP_FIRST}")
    if keep_first and not sort:
        raise InvalidInput("keep_first applies to a sort")


def _arrangement(front: dict[int, list[int]], *, sort: bool, keep_first: int) -> Arrangement:
    """Tags added at the front moved there (in the order given), then the sort by name."""

    def arrange(image_id: int, rows: list[Row], names: dict[int, str]) -> list[Row]:
        first = front.get(image_id)
        if first:
            rank = {tag_id: place for place, tag_id in enumerate(first)}
            head = sorted((row for row in rows if row.tag_id in rank), key=lambda r: rank[r.tag_id])
            rows = head + [row for row in rows if row.tag_id not in rank]
        if sort:
            rows = rows[:keep_first] + sorted(rows[keep_first:], key=lambda r: names[r.tag_id])
        return rows

    return arrange


def _reorder(
    image_ids: Sequence[int], rules, arrange: Arrangement, *, actor
) -> tuple[set[int], dict]:
    """Arrange the images' tags, then order them as the session's rules want.

    Returns the images whose lists moved, and the sources of the rows left.
    """
    current = image_rows(image_ids)
    info = dict(
        (pk, (name, category))
        for pk, name, category in Tag.objects.filter(
            pk__in={row.tag_id for rows in current.values() for row in rows}
        ).values_list("pk", "name", "category")
    )
    names = {tag_id: name for tag_id, (name, _) in info.items()}
    arranged = {image_id: arrange(image_id, rows, names) for image_id, rows in current.items()}
    plans: dict[int, list[Target]] = rule_plans(arranged, info, rules)
    for image_id, rows in arranged.items():
        if image_id not in plans and rows != current[image_id]:
            plans[image_id] = [
                (row.tag_id, place, row.source, row.confidence) for place, row in enumerate(rows)
            ]
    lists_write(plans, current, actor=actor)
    return set(plans), after_of_rows(current)


def _implied_names(tag_ids: list[int]) -> list[str]:
    implied = implied_closure(tag_ids)
    names = dict(Tag.objects.filter(pk__in=implied).values_list("pk", "name"))
    return [names[tag_id] for tag_id in implied]


def _add_tag(tag: Tag, image_ids: Sequence[int], *, actor, source: str) -> list[int]:
    """Append `tag` at the end of each image's caption where it is missing."""
    gained: list[int] = []
    now = db_now(SessionImageTag)
    for chunk in chunked(image_ids):
        having = entry_ids_with_tag(tag.pk, chunk)
        missing = [image_id for image_id in chunk if image_id not in having]
        if not missing:
            continue
        tag_append(tag.pk, missing, source=source, added_by=getattr(actor, "pk", None), now=now)
        gained += missing
    tag_counts_add({tag.pk: len(gained) * in_caption(source)})
    return gained


def _remove_tag(tag: Tag, image_ids: Sequence[int]) -> list[tuple]:
    """Delete `tag` from the images; returns the deleted rows for undo."""
    removed: list[tuple] = []
    for chunk in chunked(image_ids):
        rows = SessionImageTag.objects.filter(tag=tag, entry_id__in=chunk)
        removed += rows.values_list("entry_id", "position", "source", "confidence")
        rows.delete()
    tag_counts_add({tag.pk: -sum(in_caption(row[2]) for row in removed)})
    return removed


def _replace_tag(source: Tag, target: Tag, image_ids: Sequence[int]):
    """Put `target` where `source` was; where the image has both, drop `source`.

    Returns the rows moved to `target` and the rows dropped, as
    (image_id, position, source, confidence).
    """
    moved: list[tuple] = []
    dropped: list[tuple] = []
    for chunk in chunked(image_ids):
        had_target = set(
            SessionImageTag.objects.filter(tag=target, entry_id__in=chunk).values_list(
                "entry_id", flat=True
            )
        )
        rows = SessionImageTag.objects.filter(tag=source, entry_id__in=chunk)
        for row in rows.values_list("entry_id", "position", "source", "confidence"):
            (dropped if row[0] in had_target else moved).append(row)
        rows.filter(entry_id__in=had_target).delete()
        rows.update(tag=target)
    counted = sum(in_caption(row[2]) for row in moved)
    tag_counts_add(
        {source.pk: -counted - sum(in_caption(row[2]) for row in dropped), target.pk: counted}
    )
    return moved, dropped
