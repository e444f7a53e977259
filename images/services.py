"""Writes to the image library: one row per distinct content, its files stored first."""

from __future__ import annotations

import logging
from pathlib import PurePath
from typing import NamedTuple

from django.conf import settings

from images import storage
from images.models import Image
from images.processing import (
    ImageRejected,
    Limits,
    ProcessedImage,
    process_image_bytes,
    render_display,
)

logger = logging.getLogger(__name__)

_NAME_FIELD_MAX = Image._meta.get_field("original_name").max_length or 255


def image_limits() -> Limits:
    """The per-file limits this installation accepts (pixels, bytes, thumbnail size)."""
    return Limits(
        max_pixels=settings.TAGGER_MAX_IMAGE_PIXELS,
        max_bytes=settings.TAGGER_MAX_UPLOAD_BYTES,
        thumb_size=settings.TAGGER_THUMBNAIL_SIZE,
        display_size=settings.TAGGER_DISPLAY_SIZE,
    )


def image_process_bytes(data: bytes) -> ProcessedImage:
    """Check and process one file's bytes under those limits; raises ImageRejected."""
    limits = image_limits()
    return process_image_bytes(
        data,
        max_pixels=limits.max_pixels,
        max_bytes=limits.max_bytes,
        thumb_size=limits.thumb_size,
        display_size=limits.display_size,
    )


class StoredFiles(NamedTuple):
    """Storage names of an image's files; ``display`` is ``original`` when it is its own,
    empty when it is made on first request (ProcessedImage.display_deferred)."""

    original: str
    thumbnail: str
    display: str


def image_files_store(processed: ProcessedImage) -> StoredFiles:
    """Save the original, its thumbnail and display rendition (idempotent); return their names.

    Safe to call from worker threads: it touches storage only, not the database.
    """
    original = storage.store_content(
        storage.original_name(processed.sha256, processed.extension), processed.data
    )
    thumbnail = storage.store_content(
        storage.thumbnail_name(processed.sha256, processed.thumbnail_extension),
        processed.thumbnail,
    )
    display = "" if processed.display_deferred else original
    if processed.display is not None:
        display = storage.store_content(
            storage.display_name(processed.sha256, processed.display_extension),
            processed.display,
        )
    return StoredFiles(original, thumbnail, display)


def image_display_ensure(image: Image) -> str:
    """The storage name of the image's display rendition, made now if the row has none.

    Rows stored before renditions existed, and rows of a batch import, which
    leaves renditions to first view (images.importing.process_and_store), get
    theirs on first request, from the original (one decode), and keep it.
    Raises OSError when the original is missing; an original that no longer
    decodes under today's limits is shown as it is, not remembered.
    """
    if image.display:
        return str(image.display.name)
    original = str(image.file.name)
    data = storage.read_content(original)
    try:
        rendition = render_display(
            data,
            max_pixels=settings.TAGGER_MAX_IMAGE_PIXELS,
            display_size=settings.TAGGER_DISPLAY_SIZE,
        )
    except ImageRejected as rejected:
        logger.warning("image %s: no display rendition (%s)", image.pk, rejected.reason)
        image.display.name = original  # this answer only
        return original
    name = original
    if rendition is not None:
        name = storage.store_content(
            storage.display_name(image.sha256, rendition.extension), rendition.data
        )
    # Two first requests may race: content-addressed, both write the same name.
    Image.objects.filter(pk=image.pk, display="").update(display=name)
    image.display.name = name
    return name


def image_store(processed: ProcessedImage, *, original_name: str, actor) -> tuple[Image, bool]:
    """Get or create the Image for this content; returns (image, created).

    The files are written before the row, so a row never exists without its
    files; a crash in between leaves only content-addressed files that the
    next import of the same content reuses. Safe against concurrent imports of
    the same content: the unique sha256 decides, the loser gets the winner's row.
    """
    files = image_files_store(processed)
    # get_or_create inserts in a savepoint and, on a lost race, reads the winner's row.
    image, created = Image.objects.get_or_create(
        sha256=processed.sha256,
        defaults={
            "file": files.original,
            "thumbnail": files.thumbnail,
            "display": files.display,
            "original_name": display_name(original_name),
            "width": processed.width,
            "height": processed.height,
            "format": processed.format,
            "byte_size": processed.byte_size,
            "metadata": processed.metadata,
            "imported_by": actor,
        },
    )
    if not created and not image.display and files.display:
        # Stored before renditions, or by a batch import: this import has just made one.
        Image.objects.filter(pk=image.pk, display="").update(display=files.display)
        image.display.name = files.display
    return image, created


def display_name(original_name: str) -> str:
    """The file name part of a client- or disk-supplied name, bounded, never empty."""
    name = PurePath(original_name.replace("\\", "/")).name.strip()
    name = "".join(ch for ch in name if ch.isprintable())
    if len(name) > _NAME_FIELD_MAX:
        _stem, dot, suffix = name.rpartition(".")
        keep = suffix if dot and len(suffix) <= 16 else ""
        name = name[: _NAME_FIELD_MAX - len(keep) - 1] + ("." + keep if keep else "")
        name = name[:_NAME_FIELD_MAX]
    return name or "image"
