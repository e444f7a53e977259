"""Import of one image into a session: its row, its place in the session, its tags.

The upload API calls `session_import_bytes`; the import command processes
files in worker threads and calls `session_import_processed` from its one
writer thread. Both write each image in one transaction, through the same
services as every other door (so the session log gets `images.added` and
`tags.changed` events and open browsers see the image arrive).

Counting, the same for every door: an image is "imported" when it joins the
session, a "duplicate" when the session already holds its content (an earlier
file of the same import, or a previous import: a rerun after a crash counts
what the crashed run committed as duplicates). A duplicate's caption tags are
merged into the image's tags. "skipped" files were refused with a reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max

from images.models import Image
from images.processing import ImageRejected, ProcessedImage, process_image_bytes
from images.services import image_files_store, image_store
from sessions_app.events import append_event
from sessions_app.models import SessionImage, TaggingSession
from sessions_app.rules import apply_rules_to_ids, session_rules
from sessions_app.services.sessions import session_images_add
from sessions_app.services.tagging import tags_add
from tagger_project.errors import Conflict
from tags.models import ImageTag, Tag, TagSource
from tags.normalize import InvalidTagName, normalize_tag_name
from tags.selectors import resolve_tag_names
from tags.services import implied_closure, tags_get_or_create

Status = Literal["imported", "duplicate", "skipped"]


@dataclass(frozen=True)
class SkippedTag:
    """A caption or prompt token that is not a valid tag name; the image still imports."""

    token: str
    reason: str


@dataclass(frozen=True)
class ImportOutcome:
    """What happened to one file: imported, duplicate (with the image) or skipped (with why)."""

    status: Status
    original_name: str
    image_id: int | None = None
    reason: str = ""
    skipped_tags: tuple[SkippedTag, ...] = ()

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "name": self.original_name,
            "image_id": self.image_id,
            "reason": self.reason,
            "skipped_tags": [{"tag": s.token, "reason": s.reason} for s in self.skipped_tags],
        }


def session_import_bytes(
    session: TaggingSession, *, actor, data: bytes, original_name: str
) -> ImportOutcome:
    """Check, store and add one uploaded image to the session, with its prompt tags.

    A file that is not an acceptable image is not an error: the outcome says
    "skipped" with the reason, so a multi-file upload reports per file.
    """
    try:
        processed = process_image_bytes(
            data,
            max_pixels=settings.TAGGER_MAX_IMAGE_PIXELS,
            max_bytes=settings.TAGGER_MAX_UPLOAD_BYTES,
            thumb_size=settings.TAGGER_THUMBNAIL_SIZE,
        )
    except ImageRejected as rejected:
        return ImportOutcome("skipped", original_name, reason=rejected.reason)
    # Files before the transaction: the database's write lock is not held during file I/O.
    image_files_store(processed)
    return session_import_processed(
        session, actor=actor, processed=processed, original_name=original_name
    )


def session_import_processed(
    session: TaggingSession, *, actor, processed: ProcessedImage, original_name: str
) -> ImportOutcome:
    """Add a processed image to the session in one transaction (retried once on a race).

    Caption tokens are merged as tags of source "caption"; without them, the
    embedded prompt's tokens become tags of source "prompt" if the image has
    no tags yet. Invalid tokens are skipped one by one, with their reason.
    """
    try:
        return _import_once(session, actor, processed, original_name)
    except Conflict:
        # Someone added the same image to this session at the same moment:
        # the second attempt finds it there and counts a duplicate.
        return _import_once(session, actor, processed, original_name)


@transaction.atomic
def _import_once(
    session: TaggingSession, actor, processed: ProcessedImage, original_name: str
) -> ImportOutcome:
    if processed.caption_tokens:
        names, skipped = valid_tag_names(processed.caption_tokens)
        source = TagSource.CAPTION
    else:
        names, skipped = valid_tag_names(processed.prompt_tokens)
        source = TagSource.PROMPT
    image, created = image_store(processed, original_name=original_name, actor=actor)
    if created:
        _add_new_image(session, actor=actor, image=image, names=names, source=source)
        status: Status = "imported"
    else:
        status = _add_known_image(session, actor=actor, image=image, names=names, source=source)
    return ImportOutcome(status, original_name, image_id=image.pk, skipped_tags=tuple(skipped))


def _add_new_image(
    session: TaggingSession, *, actor, image: Image, names: list[str], source: str
) -> None:
    """Give a just-created image its tags and its place in the session: one event.

    The image is new in this transaction, so no one has seen it, it has no
    tags and no session holds it: its tags are its initial state (version 0),
    set in a few set-based statements, and a client learns of both from the
    one `images.added` event. This is the hot path of a 10,000-image import.
    """
    tags = list(tags_get_or_create(resolve_tag_names(names)).values()) if names else []
    tag_ids = [tag.pk for tag in tags]
    entries = [(tag_id, source) for tag_id in tag_ids]
    entries += [(tag_id, TagSource.IMPLICATION) for tag_id in implied_closure(tag_ids)]
    entries = apply_rules_to_ids(entries, session_rules(session.pk), tag_id=lambda entry: entry[0])
    # The event first: its UPDATE locks the session row, so concurrent imports
    # into one session take positions one after the other.
    append_event(session.pk, kind="images.added", payload={"image_ids": [image.pk]}, actor=actor)
    top = SessionImage.objects.filter(session=session).aggregate(top=Max("position"))["top"]
    SessionImage.objects.create(session=session, image=image, position=(top or 0) + 1)
    if entries:
        ImageTag.objects.bulk_create(
            ImageTag(
                image=image, tag_id=tag_id, position=position, source=tag_source, added_by=actor
            )
            for position, (tag_id, tag_source) in enumerate(entries)
        )
        Tag.objects.filter(pk__in=[tag_id for tag_id, _ in entries]).update(
            image_count=F("image_count") + 1
        )


def _add_known_image(
    session: TaggingSession, *, actor, image: Image, names: list[str], source: str
) -> Status:
    """Add an image the library already holds; merge caption tags through the tag services."""
    added = session_images_add(session, actor=actor, images=[image])
    if names and source == TagSource.PROMPT and ImageTag.objects.filter(image=image).exists():
        # The prompt is only a starting point: never pile it onto curated tags.
        names = []
    if names:
        tags_add(image.pk, actor=actor, names=names, source=source)
    return "imported" if added else "duplicate"


def valid_tag_names(tokens: Iterable[str]) -> tuple[list[str], list[SkippedTag]]:
    """Split raw tokens into those that normalize to a tag name and those refused (why)."""
    names: list[str] = []
    skipped: list[SkippedTag] = []
    for token in tokens:
        try:
            names.append(normalize_tag_name(token))
        except InvalidTagName as error:
            skipped.append(SkippedTag(token, error.reason))
    return names, skipped
