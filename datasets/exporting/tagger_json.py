"""Tagger's own JSON document (`tagger.json`): everything needed to restore the session.

Shape (version 2)::

    {"format": "tagger-dataset", "version": 2,
     "session": {"name", "description", "trigger_word", "separator",
                 "use_underscores", "escape_parentheses", "caption_style"},
     "rules": {"blacklist", "pinned", "category_order"},
     "members": [{"username", "role"}],
     "subsets": [{"name", "num_repeats", "class_tokens", "images": [sha256]}],
     "vocabulary": {"tags": [{"name", "category", "description", "popularity"}],
                    "aliases": [{"name", "tag"}],
                    "implications": [{"tag", "implied"}]},
     "images": [{"file", "sha256", "original_name", "width", "height", "format",
                 "byte_size", "metadata", "position", "status", "caption",
                 "tags": [{"name", "category", "source", "confidence", "spelling"?}]}]}

`file` names the image inside the export (folder or zip) beside the
document; images are in session order (`position` counts them from 1) and
tags in caption order, suggestions included (a backup holds the rows as
stored). A tag's `spelling` is there only when the imported file wrote it
otherwise than the session would (`long_hair`, `Smile`): with the session's
`caption_style`, it is what lets a restored session export the dataset's
caption files byte for byte. Members are listed by user name, in name order; subsets (kohya's
repeat folders) in creation order, each naming its images by content. The vocabulary
holds every tag the images use, every tag their implications reach, the
aliases of those tags and the implications among them; `popularity` is the
imported vocabulary's count that breaks autocomplete's ties. Each tag's
image count is not written: it is derived from the images, and a restore
recomputes it.

No export time and nothing else that changes between two exports of the
same session: restored into an empty database and exported again, the
document comes back byte for byte (tests/datasets/test_backup.py).
Version 1 (no rules, members, written captions; an `exported_at`) still
imports (datasets.importing_formats.tagger_json).

Sections are written in the order of `SECTIONS`; a new one is one more
entry there, read back by datasets.importing_formats.tagger_json.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from django.db.models import Exists, OuterRef, Q

from datasets.exporting.base import Entry, ExportOptions, ExportReport, stored_spelling_reader
from datasets.exporting.documents import NamedRows, images_then_document
from datasets.exporting.rows import ExportRow, ExportTag
from sessions_app.models import SessionImageTag, SessionMember, TaggingSession
from sessions_app.rules import session_rules
from sessions_app.services.subsets import subsets_dump
from tags.models import Tag, TagAlias, TagImplication

DOCUMENT_NAME = "tagger.json"
FORMAT_NAME = "tagger-dataset"
FORMAT_VERSION = 2
SESSION_FIELDS = (
    "name",
    "description",
    "trigger_word",
    "separator",
    "use_underscores",
    "escape_parentheses",
    "caption_style",
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
        spelling_reader=stored_spelling_reader(options),
    )


def tagger_document(session: TaggingSession, rows: NamedRows) -> Iterator[bytes]:
    """The document, streamed image by image."""
    head: dict[str, Any] = {"format": FORMAT_NAME, "version": FORMAT_VERSION}
    head |= {key: section(session) for key, section in SECTIONS}
    # The head is a closed object; reopen it to stream the image list inside.
    yield json.dumps(head, ensure_ascii=False)[:-1].encode() + b', "images": ['
    for position, (row, name) in enumerate(rows, start=1):
        yield (b"\n" if position == 1 else b",\n") + json.dumps(
            image_record(row, name, position), ensure_ascii=False
        ).encode()
    yield b"\n]}\n"


def session_settings(session: TaggingSession) -> dict[str, Any]:
    settings = {field: getattr(session, field) for field in SESSION_FIELDS}
    # In key order: PostgreSQL's jsonb hands a JSON field back with its keys reordered,
    # and a restored session must write the same bytes as the one it came from.
    settings["caption_style"] = dict(sorted(settings["caption_style"].items()))
    return settings


def rules(session: TaggingSession) -> dict[str, list[str]]:
    return session_rules(session.pk).as_dict()


def members(session: TaggingSession) -> list[dict[str, str]]:
    """Who works on the session, by user name: a restore maps them onto its own users."""
    rows = SessionMember.objects.filter(session=session).values_list("user__username", "role")
    return [{"username": username, "role": role} for username, role in sorted(rows)]


def image_record(row: ExportRow, name: str, position: int) -> dict[str, Any]:
    """One image; `position` is its rank in session order (stored positions may have gaps)."""
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
        "position": position,
        "status": row.status,
        "caption": row.caption,
        "tags": [tag_record(tag) for tag in row.tags],
    }


def tag_record(tag: ExportTag) -> dict[str, Any]:
    record = {
        "name": tag.name,
        "category": tag.category,
        "source": tag.source,
        "confidence": tag.confidence,
    }
    if tag.spelling:
        record["spelling"] = tag.spelling
    return record


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


# The document's sections before "images", in this order. A section is a
# JSON value computed from the session; the reader's `BackupDocument` lists
# the same keys.
SECTIONS: tuple[tuple[str, Callable[[TaggingSession], Any]], ...] = (
    ("session", session_settings),
    ("rules", rules),
    ("members", members),
    ("subsets", subsets_dump),
    ("vocabulary", vocabulary),
)
