"""Writes to the image library: one row per distinct content, its files stored first."""

from __future__ import annotations

from pathlib import PurePath

from django.conf import settings

from images import storage
from images.models import Image
from images.processing import Limits, ProcessedImage, process_image_bytes

_NAME_FIELD_MAX = Image._meta.get_field("original_name").max_length or 255


def image_limits() -> Limits:
    """The per-file limits this installation accepts (pixels, bytes, thumbnail size)."""
    return Limits(
        max_pixels=settings.TAGGER_MAX_IMAGE_PIXELS,
        max_bytes=settings.TAGGER_MAX_UPLOAD_BYTES,
        thumb_size=settings.TAGGER_THUMBNAIL_SIZE,
    )


def image_process_bytes(data: bytes) -> ProcessedImage:
    """Check and process one file's bytes under those limits; raises ImageRejected."""
    limits = image_limits()
    return process_image_bytes(
        data,
        max_pixels=limits.max_pixels,
        max_bytes=limits.max_bytes,
        thumb_size=limits.thumb_size,
    )


def image_files_store(processed: ProcessedImage) -> tuple[str, str]:
    """Save the original and its thumbnail (idempotent); return their storage names.

    Safe to call from worker threads: it touches storage only, not the database.
    """
    original = storage.store_content(
        storage.original_name(processed.sha256, processed.extension), processed.data
    )
    thumbnail = storage.store_content(
        storage.thumbnail_name(processed.sha256, processed.thumbnail_extension),
        processed.thumbnail,
    )
    return original, thumbnail


def image_store(processed: ProcessedImage, *, original_name: str, actor) -> tuple[Image, bool]:
    """Get or create the Image for this content; returns (image, created).

    The files are written before the row, so a row never exists without its
    files; a crash in between leaves only content-addressed files that the
    next import of the same content reuses. Safe against concurrent imports of
    the same content: the unique sha256 decides, the loser gets the winner's row.
    """
    original, thumbnail = image_files_store(processed)
    # get_or_create inserts in a savepoint and, on a lost race, reads the winner's row.
    return Image.objects.get_or_create(
        sha256=processed.sha256,
        defaults={
            "file": original,
            "thumbnail": thumbnail,
            "original_name": display_name(original_name),
            "width": processed.width,
            "height": processed.height,
            "format": processed.format,
            "byte_size": processed.byte_size,
            "metadata": processed.metadata,
            "imported_by": actor,
        },
    )


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
