"""Vocabulary curation that changes what sessions show: rename, merge, category.

These touch every session that shows an affected image, so each such
session gets an event (clients refetch what they show).
"""

from django.db import transaction

from sessions_app.event_kinds import Kind
from sessions_app.events import append_event
from sessions_app.models import SessionEvent, SessionImage, SessionImageTag
from sessions_app.outcome import Outcome
from sessions_app.services.tag_writer import tag_counts_add, versions_bump_tagged
from tagger_project.errors import Conflict, InvalidInput
from tags.models import Tag, TagAlias, TagImplication, TagSource
from tags.normalize import normalize_tag_name
from tags.services import implied_closure, tag_set_category


def _sessions_showing(tag: Tag) -> list[int]:
    entries = SessionImageTag.objects.filter(tag=tag).values("entry_id")
    return sorted(
        set(SessionImage.objects.filter(pk__in=entries).values_list("session_id", flat=True))
    )


def _log(session_ids: list[int], *, kind: str, payload: dict, actor) -> list[SessionEvent]:
    """One event in each session's log, in session order."""
    return [
        append_event(session_id, kind=kind, payload=payload, actor=actor)
        for session_id in session_ids
    ]


@transaction.atomic
def tag_rename(tag: Tag, *, actor, new_name: str) -> Outcome[Tag]:
    """Rename a tag; the old name becomes an alias so old captions still resolve."""
    new_name = normalize_tag_name(new_name)
    old_name = tag.name
    if new_name == old_name:
        return Outcome(tag)
    if Tag.objects.filter(name=new_name).exists():
        raise Conflict(f"a tag called {new_name!r} exists; merge into it instead")
    alias = TagAlias.objects.filter(name=new_name).first()
    if alias is not None:
        if alias.tag_id != tag.pk:
            raise Conflict(f"{new_name!r} is an alias of {alias.tag.name!r}")
        alias.delete()
    tag.name = new_name
    tag.save(update_fields=["name"])
    TagAlias.objects.create(name=old_name, tag=tag)
    versions_bump_tagged(tag)
    events = _log(
        _sessions_showing(tag),
        kind=Kind.TAG_RENAMED,
        payload={"from": old_name, "to": new_name},
        actor=actor,
    )
    return Outcome(tag, tuple(events))


@transaction.atomic
def tag_recategorize(tag: Tag, *, actor, category: str) -> Outcome[Tag]:
    """Change a tag's category and tell the sessions showing it (their chips change colour)."""
    previous = tag.category
    tag = tag_set_category(tag, category=category)
    if tag.category == previous:
        return Outcome(tag)
    events = _log(
        _sessions_showing(tag),
        kind=Kind.TAG_RECATEGORIZED,
        payload={"tag": tag.name, "from": previous, "to": tag.category},
        actor=actor,
    )
    return Outcome(tag, tuple(events))


@transaction.atomic
def tag_merge(source: Tag, *, actor, into: Tag) -> Outcome[Tag]:
    """Merge `source` into `into`: its images, aliases and implications move over.

    Caption positions are kept; an image that had both keeps `into` where it was.
    `source` becomes an alias of `into`.
    """
    if source.pk == into.pk:
        raise InvalidInput("cannot merge a tag into itself")
    sessions = _sessions_showing(source)
    versions_bump_tagged(source)
    both = SessionImageTag.objects.filter(tag=into).values("entry_id")
    SessionImageTag.objects.filter(tag=source, entry_id__in=both).delete()
    moving = SessionImageTag.objects.filter(tag=source)
    counted = moving.exclude(source=TagSource.SUGGESTION).count()
    # A file's spelling of the old tag is not a spelling of the new one.
    moving.update(tag=into, spelling="")
    tag_counts_add({into.pk: counted})
    _move_implications(source, into)
    TagAlias.objects.filter(tag=source).update(tag=into)
    source_name = source.name
    source.delete()
    TagAlias.objects.create(name=source_name, tag=into)
    events = _log(
        sessions,
        kind=Kind.TAGS_MERGED,
        payload={"from": source_name, "to": into.name},
        actor=actor,
    )
    into.refresh_from_db()
    return Outcome(into, tuple(events))


def _move_implications(source: Tag, into: Tag) -> None:
    """Re-point implications from `source` to `into`, dropping self-links and cycles."""
    for implication in TagImplication.objects.filter(tag=source).select_related("implied"):
        implied = implication.implied
        if implied.pk != into.pk and into.pk not in implied_closure([implied.pk]):
            TagImplication.objects.get_or_create(tag=into, implied=implied)
    for implication in TagImplication.objects.filter(implied=source).select_related("tag"):
        implier = implication.tag
        if implier.pk != into.pk and implier.pk not in implied_closure([into.pk]):
            TagImplication.objects.get_or_create(tag=implier, implied=into)
    TagImplication.objects.filter(tag=source).delete()
    TagImplication.objects.filter(implied=source).delete()
