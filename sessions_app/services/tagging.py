"""Edits of one image's tag list: add, remove, set (with an optimistic version).

Each edit locks the image row, rewrites its ImageTag rows, keeps the tags'
image counts and the image's version in step, and appends a `tags.changed`
event to every session that holds the image, all in one transaction.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from images.models import Image
from sessions_app.event_kinds import Kind
from sessions_app.events import append_event
from sessions_app.models import SessionImage
from sessions_app.rules import apply_rules_to_ids, image_rules
from sessions_app.services.tag_writer import tag_counts_add, version_bump
from tagger_project.errors import NotFound, StaleVersion
from tags.models import ImageTag, Tag, TagSource
from tags.selectors import resolve_tag_names, tag_list_for_image
from tags.services import implied_closure, tags_get_or_create


@dataclass
class TagListState:
    """An image's tags after an edit, and the seq of the event it wrote per session."""

    image_id: int
    version: int
    tags: list[dict[str, Any]]
    seqs: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"image_id": self.image_id, "version": self.version, "tags": self.tags}


# (tag id, source, confidence) in caption order: the shape edits compute.
Entry = tuple[int, str, float | None]


def image_tag_state(image_id: int) -> TagListState:
    """The image's current tags and version."""
    version = Image.objects.values_list("version", flat=True).filter(pk=image_id).first()
    if version is None:
        raise NotFound(f"image {image_id} does not exist")
    return TagListState(image_id=image_id, version=version, tags=tag_list_for_image(image_id))


@transaction.atomic
def tags_add(
    image_id: int,
    *,
    actor,
    names: Iterable[str],
    source: str = TagSource.MANUAL,
    confidence: float | None = None,
) -> TagListState:
    """Append tags (and what they imply) to the end of the image's caption."""
    image = lock_image(image_id)
    current = _current_entries(image_id)
    present = {tag_id for tag_id, _, _ in current}
    tags = tags_get_or_create(resolve_tag_names(names))
    added = [(tag.pk, source, confidence) for tag in tags.values() if tag.pk not in present]
    present |= {tag_id for tag_id, _, _ in added}
    implied = [
        (tag_id, TagSource.IMPLICATION, None)
        for tag_id in implied_closure(tag_id for tag_id, _, _ in added)
        if tag_id not in present
    ]
    after = obey_rules(image_id, current + added + implied)
    return rewrite_tag_list(image, actor=actor, before=current, after=after)


@transaction.atomic
def tags_remove(image_id: int, *, actor, names: Iterable[str]) -> TagListState:
    """Remove tags from the image; names it does not have are ignored."""
    image = lock_image(image_id)
    current = _current_entries(image_id)
    doomed = set(Tag.objects.filter(name__in=resolve_tag_names(names)).values_list("pk", flat=True))
    after = obey_rules(image_id, [entry for entry in current if entry[0] not in doomed])
    return rewrite_tag_list(image, actor=actor, before=current, after=after)


@transaction.atomic
def tags_set(image_id: int, *, actor, names: Iterable[str], version: int) -> TagListState:
    """Replace the image's tag list with `names` in that order.

    Raises StaleVersion (carrying the current state) when `version` is not the
    image's current version: someone else edited it since the caller looked.
    """
    image = lock_image(image_id)
    if image.version != version:
        current = image_tag_state(image_id)
        raise StaleVersion(
            f"image {image_id} changed since version {version} (now {image.version})",
            current=current.as_dict(),
        )
    current = _current_entries(image_id)
    kept = {tag_id: (source, confidence) for tag_id, source, confidence in current}
    tags = tags_get_or_create(resolve_tag_names(names))
    after: list[Entry] = [
        (tag.pk, *kept.get(tag.pk, (TagSource.MANUAL, None))) for tag in tags.values()
    ]
    new_ids = [tag.pk for tag in tags.values() if tag.pk not in kept]
    listed = {tag_id for tag_id, _, _ in after}
    after += [
        (tag_id, TagSource.IMPLICATION, None)
        for tag_id in implied_closure(new_ids)
        if tag_id not in listed
    ]
    return rewrite_tag_list(image, actor=actor, before=current, after=obey_rules(image_id, after))


def obey_rules(image_id: int, entries: list[Entry]) -> list[Entry]:
    """The entries as the rules of the sessions holding the image want them (sessions_app.rules)."""
    return apply_rules_to_ids(entries, image_rules(image_id), tag_id=lambda entry: entry[0])


def lock_image(image_id: int) -> Image:
    image = Image.objects.select_for_update().filter(pk=image_id).first()
    if image is None:
        raise NotFound(f"image {image_id} does not exist")
    return image


def _current_entries(image_id: int) -> list[Entry]:
    return list(
        ImageTag.objects.filter(image_id=image_id)
        .order_by("position", "id")
        .values_list("tag_id", "source", "confidence")
    )


def rewrite_tag_list(
    image: Image,
    *,
    actor,
    before: list[Entry],
    after: list[Entry],
    annotate: dict[str, Any] | None = None,
) -> TagListState:
    """Make the image's rows match `after`, then log the change where the image is shown.

    `annotate` adds fields to the event payload (undo and redo mark what they reverse).
    """
    if before == after:
        return image_tag_state(image.pk)
    before_ids = {entry[0] for entry in before}
    after_ids = {entry[0] for entry in after}
    removed, added = before_ids - after_ids, after_ids - before_ids
    ImageTag.objects.filter(image_id=image.pk, tag_id__in=removed).delete()
    rows = {row.tag_id: row for row in ImageTag.objects.filter(image_id=image.pk)}
    changed, created = [], []
    for position, (tag_id, source, confidence) in enumerate(after):
        row = rows.get(tag_id)
        if row is None:
            created.append(
                ImageTag(
                    image_id=image.pk,
                    tag_id=tag_id,
                    position=position,
                    source=source,
                    confidence=confidence,
                    added_by=actor,
                )
            )
        elif row.position != position:
            row.position = position
            changed.append(row)
    ImageTag.objects.bulk_update(changed, ["position"])
    ImageTag.objects.bulk_create(created)
    tag_counts_add({**dict.fromkeys(added, 1), **dict.fromkeys(removed, -1)})
    version_bump(image.pk)

    state = image_tag_state(image.pk)
    names = dict(Tag.objects.filter(pk__in=before_ids | after_ids).values_list("pk", "name"))
    payload = {
        **state.as_dict(),
        "added": [names[tag_id] for tag_id, _, _ in after if tag_id in added],
        "removed": [names[tag_id] for tag_id, _, _ in before if tag_id in removed],
        **(annotate or {}),
    }
    inverse = {
        "op": "restore_tags",
        "image_id": image.pk,
        "entries": [[names[tag_id], source, confidence] for tag_id, source, confidence in before],
        "version": state.version,
    }
    session_ids = SessionImage.objects.filter(image_id=image.pk).values_list(
        "session_id", flat=True
    )
    for session_id in sorted(session_ids):
        event = append_event(
            session_id, kind=Kind.TAGS_CHANGED, payload=payload, actor=actor, inverse=inverse
        )
        state.seqs[session_id] = event.seq
    return state
