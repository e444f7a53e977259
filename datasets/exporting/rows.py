"""The reads behind every writer: a session's images in order, with their tags, chunk by chunk.

Keyset pagination on (position, id) keeps memory bounded and holds no cursor
open between chunks, so a slow download neither pins a read transaction
(SQLite WAL could not checkpoint) nor a server-side cursor (PostgreSQL).
Two queries per chunk, whatever the number of images.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from django.db.models import Q

from images.models import Image
from sessions_app.models import SessionImage, SessionImageTag, TaggingSession
from sessions_app.rules import NO_RULES, apply_rules, session_rules
from tags.models import TagSource
from tags.normalize import InvalidTagName, normalize_tag_name
from tags.selectors import resolve_tag_map

CHUNK_SIZE = 200
READ_SIZE = 256 * 1024


@dataclass(frozen=True)
class ExportTag:
    name: str
    category: str
    source: str
    confidence: float | None
    # The token as the imported file wrote it ("" to spell the name the session's way).
    spelling: str = ""


@dataclass
class ExportRow:
    """One image of the session as the writers need it."""

    image: Image
    position: int
    status: str
    tags: list[ExportTag] = field(default_factory=list)
    caption: str = ""  # the written caption, exactly
    name: str = ""  # the file name the session knows the image by
    subset_id: int | None = None  # its kohya repeat folder (sessions_app.models.SessionSubset)


def export_rows(
    session: TaggingSession,
    *,
    statuses: tuple[str, ...] = (),
    chunk_size: int = CHUNK_SIZE,
    obey_rules: bool = True,
    spelling_reader: Callable[[str], str] | None = None,
) -> Iterator[ExportRow]:
    """The session's images in session order, each with its tags in caption order.

    With `obey_rules` the session's tag rules (sessions_app.rules) order and
    filter each list, as they do on every edit, and an auto-tagger's
    suggestions are left out (not part of a caption until accepted); a backup
    passes False and gets the rows as stored, suggestions included.

    `spelling_reader` turns a stored spelling back into the raw tag name the
    writer's format reads it as; a spelling is kept only while it still names
    its row's tag (datasets/caption_style.py). Without one, spellings are dropped.
    """
    rules = session_rules(session.pk) if obey_rules else NO_RULES
    entries = SessionImage.objects.filter(session=session).select_related("image")
    if statuses:
        entries = entries.filter(status__in=statuses)
    after: Q | None = None
    while True:
        page = entries.filter(after) if after is not None else entries
        chunk = list(page.order_by("position", "id")[:chunk_size])
        if not chunk:
            return
        tags = _tags_of([entry.pk for entry in chunk], suggestions=not obey_rules)
        _check_spellings(tags, spelling_reader)
        for entry in chunk:
            ordered = apply_rules(
                tags.get(entry.pk, []),
                rules,
                name=lambda tag: tag.name,
                category=lambda tag: tag.category,
            )
            yield ExportRow(
                entry.image,
                entry.position,
                entry.status,
                ordered,
                entry.caption,
                entry.original_name or entry.image.original_name,
                entry.subset_id,
            )
        last = chunk[-1]
        after = Q(position__gt=last.position) | Q(position=last.position, id__gt=last.pk)


def _tags_of(entry_ids: list[int], *, suggestions: bool) -> dict[int, list[ExportTag]]:
    """Each session image's tags (this session's caption), by entry id."""
    rows = SessionImageTag.objects.filter(entry_id__in=entry_ids)
    if not suggestions:
        rows = rows.exclude(source=TagSource.SUGGESTION)
    rows = rows.order_by("entry_id", "position", "id").values_list(
        "entry_id", "tag__name", "tag__category", "source", "confidence", "spelling"
    )
    tags: dict[int, list[ExportTag]] = {}
    for image_id, name, category, source, confidence, spelling in rows:
        tags.setdefault(image_id, []).append(
            ExportTag(name, category, source, confidence, spelling)
        )
    return tags


def _check_spellings(tags: dict[int, list[ExportTag]], reader: Callable[[str], str] | None) -> None:
    """Blank every spelling that no longer names its tag (or all, without a reader)."""
    spelled = {tag.spelling for listed in tags.values() for tag in listed if tag.spelling}
    if not spelled:
        return
    normalized: dict[str, str] = {}
    if reader is not None:
        for spelling in spelled:
            try:
                normalized[spelling] = normalize_tag_name(reader(spelling))
            except InvalidTagName:
                continue
    canonical = resolve_tag_map(normalized.values())
    for listed in tags.values():
        for index, tag in enumerate(listed):
            if not tag.spelling:
                continue
            name = normalized.get(tag.spelling)
            if name is None or canonical.get(name) != tag.name:
                listed[index] = replace(tag, spelling="")


def image_chunks(image: Image) -> Iterator[bytes]:
    """The stored original's bytes, read through the storage API in bounded pieces."""
    with image.file.open("rb") as handle:
        while chunk := handle.read(READ_SIZE):
            yield chunk


def image_is_stored(image: Image) -> bool:
    """True when the storage holds the image's original (a row never should lack it)."""
    return bool(image.file.name) and image.file.storage.exists(image.file.name)
