"""Edits of one session image's tag list: add, remove, set (with an optimistic version).

An edit names the session and the image (by image id), as every door does;
an image the session does not hold is NotFound, so no edit reaches another
session's list. Each edit locks the session image row, rewrites its
SessionImageTag rows under the session's rules, keeps the tags' counts and
the session image's version in step, and appends a `tags.changed` event to
that session, all in one transaction.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from sessions_app.event_kinds import Kind
from sessions_app.events import append_event
from sessions_app.models import SessionImage, SessionImageTag, TaggingSession
from sessions_app.outcome import Outcome
from sessions_app.rules import apply_rules_to_ids, session_rules
from sessions_app.services.tag_writer import in_caption, tag_counts_add, version_bump
from tagger_project.errors import NotFound, StaleVersion
from tags.models import Tag, TagSource
from tags.selectors import resolve_tag_names
from tags.services import implied_closure, tags_get_or_create

SessionRef = TaggingSession | int


@dataclass
class TagListState:
    """A session image's tags and version."""

    image_id: int
    version: int
    tags: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"image_id": self.image_id, "version": self.version, "tags": self.tags}


# (tag id, source, confidence) in caption order: the shape edits compute.
Entry = tuple[int, str, float | None]


def _session_id(session: SessionRef) -> int:
    return session if isinstance(session, int) else session.pk


def entry_tag_list(entry_id: int) -> list[dict]:
    """The session image's tags in caption order, shaped for clients."""
    rows = (
        SessionImageTag.objects.filter(entry_id=entry_id)
        .order_by("position", "id")
        .values_list("tag__name", "tag__category", "source", "confidence")
    )
    return [
        {"name": name, "category": category, "source": source, "confidence": confidence}
        for name, category, source, confidence in rows
    ]


def image_tag_state(session: SessionRef, image_id: int) -> TagListState:
    """The session image's current tags and version; NotFound when the session lacks it."""
    entry = (
        SessionImage.objects.filter(session_id=_session_id(session), image_id=image_id)
        .values_list("pk", "version")
        .first()
    )
    if entry is None:
        raise NotFound(f"image {image_id} is not in this session")
    return TagListState(image_id=image_id, version=entry[1], tags=entry_tag_list(entry[0]))


def _state_of(entry: SessionImage) -> TagListState:
    return image_tag_state(entry.session_id, entry.image_id)


@transaction.atomic
def tags_add(
    session: SessionRef,
    image_id: int,
    *,
    actor,
    names: Iterable[str],
    source: str = TagSource.MANUAL,
    confidence: float | None = None,
) -> Outcome[TagListState]:
    """Append tags (and what they imply) to the end of the session image's caption."""
    image = lock_entry(session, image_id)
    current = current_entries(image.pk)
    present = {tag_id for tag_id, _, _ in current}
    tags = tags_get_or_create(resolve_tag_names(names))
    added = [(tag.pk, source, confidence) for tag in tags.values() if tag.pk not in present]
    present |= {tag_id for tag_id, _, _ in added}
    implied: list[Entry] = [
        (tag_id, TagSource.IMPLICATION, None)
        for tag_id in implied_closure(tag_id for tag_id, _, _ in added)
        if tag_id not in present
    ]
    after = obey_rules(image.session_id, current + added + implied)
    return rewrite_tag_list(image, actor=actor, before=current, after=after)


@transaction.atomic
def tags_remove(
    session: SessionRef, image_id: int, *, actor, names: Iterable[str]
) -> Outcome[TagListState]:
    """Remove tags from the session image; names it does not have are ignored."""
    image = lock_entry(session, image_id)
    current = current_entries(image.pk)
    doomed = set(Tag.objects.filter(name__in=resolve_tag_names(names)).values_list("pk", flat=True))
    after = obey_rules(image.session_id, [entry for entry in current if entry[0] not in doomed])
    return rewrite_tag_list(image, actor=actor, before=current, after=after)


@transaction.atomic
def tags_set(
    session: SessionRef, image_id: int, *, actor, names: Iterable[str], version: int
) -> Outcome[TagListState]:
    """Replace the session image's tag list with `names` in that order.

    Raises StaleVersion (carrying the current state) when `version` is not the
    session image's current version: someone else edited it since the caller looked.
    """
    image = lock_entry(session, image_id)
    if image.version != version:
        raise StaleVersion(
            f"image {image_id} changed since version {version} (now {image.version})",
            current=_state_of(image).as_dict(),
        )
    current = current_entries(image.pk)
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
    after = obey_rules(image.session_id, after)
    return rewrite_tag_list(image, actor=actor, before=current, after=after)


def obey_rules(session_id: int, entries: list[Entry]) -> list[Entry]:
    """The entries as the session's rules want them (sessions_app.rules)."""
    return apply_rules_to_ids(entries, session_rules(session_id), tag_id=lambda entry: entry[0])


def lock_entry(session: SessionRef, image_id: int) -> SessionImage:
    """The session's entry for the image, locked; NotFound when the session does not hold it."""
    entry = (
        SessionImage.objects.select_for_update()
        .filter(session_id=_session_id(session), image_id=image_id)
        .first()
    )
    if entry is None:
        raise NotFound(f"image {image_id} is not in this session")
    return entry


def current_entries(entry_id: int) -> list[Entry]:
    """The session image's (tag id, source, confidence) in caption order."""
    return list(
        SessionImageTag.objects.filter(entry_id=entry_id)
        .order_by("position", "id")
        .values_list("tag_id", "source", "confidence")
    )


def rewrite_tag_list(
    image: SessionImage,
    *,
    actor,
    before: list[Entry],
    after: list[Entry],
    annotate: dict[str, Any] | None = None,
) -> Outcome[TagListState]:
    """Make the session image's rows match `after`, then log the change in its session.

    `annotate` adds fields to the event payload (undo and redo mark what they reverse).
    """
    if before == after:
        return Outcome(_state_of(image))
    before_ids = {entry[0] for entry in before}
    after_ids = {entry[0] for entry in after}
    removed, added = before_ids - after_ids, after_ids - before_ids
    SessionImageTag.objects.filter(entry_id=image.pk, tag_id__in=removed).delete()
    rows = {row.tag_id: row for row in SessionImageTag.objects.filter(entry_id=image.pk)}
    changed, created = [], []
    for position, (tag_id, source, confidence) in enumerate(after):
        row = rows.get(tag_id)
        if row is None:
            created.append(
                SessionImageTag(
                    entry_id=image.pk,
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
    SessionImageTag.objects.bulk_update(changed, ["position"])
    SessionImageTag.objects.bulk_create(created)
    source_before = {tag_id: source for tag_id, source, _ in before}
    source_after = {tag_id: source for tag_id, source, _ in after}
    tag_counts_add(
        {
            **{tag_id: int(in_caption(source_after[tag_id])) for tag_id in added},
            **{tag_id: -int(in_caption(source_before[tag_id])) for tag_id in removed},
        }
    )
    version_bump(image.pk)

    state = _state_of(image)
    names = dict(Tag.objects.filter(pk__in=before_ids | after_ids).values_list("pk", "name"))
    payload = {
        **state.as_dict(),
        "added": [names[tag_id] for tag_id, _, _ in after if tag_id in added],
        "removed": [names[tag_id] for tag_id, _, _ in before if tag_id in removed],
        **(annotate or {}),
    }
    inverse = {
        "op": "restore_tags",
        "image_id": image.image_id,
        "entries": [[names[tag_id], source, confidence] for tag_id, source, confidence in before],
        "version": state.version,
    }
    event = append_event(
        image.session_id, kind=Kind.TAGS_CHANGED, payload=payload, actor=actor, inverse=inverse
    )
    return Outcome(state, (event,))


def tag_spellings_set(session: SessionRef, image_id: int, *, spellings: dict[str, str]) -> None:
    """Record how the imported file wrote the image's tags (canonical name → token as written).

    Part of an import, inside its transaction and under its event: the tag
    list does not change, only the export's spelling of it
    (datasets/caption_style.py). A name the image does not carry is ignored.
    """
    if not spellings:
        return
    rows = SessionImageTag.objects.filter(
        entry__session_id=_session_id(session), entry__image_id=image_id, tag__name__in=spellings
    ).select_related("tag")
    changed = []
    for row in rows:
        wanted = spellings[row.tag.name][: SessionImageTag._meta.get_field("spelling").max_length]
        if row.spelling != wanted:
            row.spelling = wanted
            changed.append(row)
    SessionImageTag.objects.bulk_update(changed, ["spelling"])
