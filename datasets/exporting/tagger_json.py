"""Tagger's own JSON document (`tagger.json`): everything needed to restore the session.

Shape (version 1)::

    {"format": "tagger-dataset", "version": 1, "exported_at": "<iso time>",
     "session": {"name", "description", "trigger_word", "separator",
                 "use_underscores", "escape_parentheses"},
     "vocabulary": {"tags": [{"name", "category", "description", "popularity"}],
                    "aliases": [{"name", "tag"}],
                    "implications": [{"tag", "implied"}]},
     "images": [{"file", "sha256", "original_name", "width", "height", "format",
                 "byte_size", "metadata", "position", "status",
                 "tags": [{"name", "category", "source", "confidence"}]}]}

`file` names the image inside the export (folder or zip) beside the
document; images are in session order and tags in caption order. The
vocabulary holds every tag the images use, every tag their implications
reach, the aliases of those tags and the implications among them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from datasets.exporting.base import Entry, ExportOptions, ExportReport
from datasets.exporting.documents import NamedRows, images_then_document
from datasets.exporting.rows import ExportRow
from sessions_app.models import SessionImageTag, TaggingSession
from tags.models import Tag, TagAlias, TagImplication

DOCUMENT_NAME = "tagger.json"
FORMAT_NAME = "tagger-dataset"
FORMAT_VERSION = 1
SESSION_FIELDS = (
    "name",
    "description",
    "trigger_word",
    "separator",
    "use_underscores",
    "escape_parentheses",
)


def write_tagger_json(
    session: TaggingSession, options: ExportOptions, report: ExportReport
) -> Iterator[Entry]:
    """Images (optional), then the document that describes them.

    A backup: the tags as stored, not reordered or filtered by the session's rules.
    """
    return images_then_document(
        session,
        options,
        report,
        stem="tagger",
        document_name=DOCUMENT_NAME,
        document=lambda rows: tagger_document(session, rows),
        obey_rules=False,
    )


def tagger_document(session: TaggingSession, rows: NamedRows) -> Iterator[bytes]:
    """The document, streamed image by image."""
    head = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "exported_at": timezone.now().isoformat(),
        "session": {field: getattr(session, field) for field in SESSION_FIELDS},
        "vocabulary": vocabulary(session),
    }
    # The head is a closed object; reopen it to stream the image list inside.
    yield json.dumps(head, ensure_ascii=False)[:-1].encode() + b', "images": ['
    first = True
    for row, name in rows:
        yield (b"\n" if first else b",\n") + json.dumps(
            image_record(row, name), ensure_ascii=False
        ).encode()
        first = False
    yield b"\n]}\n"


def image_record(row: ExportRow, name: str) -> dict[str, Any]:
    image = row.image
    return {
        "file": name,
        "sha256": image.sha256,
        "original_name": row.name,
        "width": image.width,
        "height": image.height,
        "format": image.format,
        "byte_size": image.byte_size,
        "metadata": image.metadata,
        "position": row.position,
        "status": row.status,
        "caption": row.caption,
        "tags": [
            {
                "name": tag.name,
                "category": tag.category,
                "source": tag.source,
                "confidence": tag.confidence,
            }
            for tag in row.tags
        ],
    }


def vocabulary(session: TaggingSession) -> dict[str, list[dict[str, Any]]]:
    """The session's tags, what they imply (transitively), and their aliases."""

    def used(field: str) -> Exists:
        # Subqueries rather than id lists: a session can use more tags than a
        # statement may carry parameters.
        on_images = SessionImageTag.objects.filter(tag_id=OuterRef(field), entry__session=session)
        return Exists(on_images)

    implications_of_used = TagImplication.objects.filter(used("tag_id"))
    extra = set(
        implications_of_used.exclude(used("implied_id")).values_list("implied_id", flat=True)
    )
    frontier = set(extra)
    while frontier:
        reached = TagImplication.objects.filter(tag_id__in=frontier).exclude(used("implied_id"))
        frontier = set(reached.values_list("implied_id", flat=True)) - extra
        extra |= frontier
    tags = Tag.objects.filter(Q(used("pk")) | Q(pk__in=extra)).order_by("name")
    aliases = TagAlias.objects.filter(Q(used("tag_id")) | Q(tag_id__in=extra)).order_by("name")
    implications = TagImplication.objects.filter(Q(used("tag_id")) | Q(tag_id__in=extra)).order_by(
        "tag__name", "implied__name"
    )
    return {
        "tags": [
            {
                "name": tag.name,
                "category": tag.category,
                "description": tag.description,
                "popularity": tag.popularity,
            }
            for tag in tags
        ],
        "aliases": [
            {"name": name, "tag": tag} for name, tag in aliases.values_list("name", "tag__name")
        ],
        "implications": [
            {"tag": tag, "implied": implied}
            for tag, implied in implications.values_list("tag__name", "implied__name")
        ],
    }
