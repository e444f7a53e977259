"""hydrus sidecars: `image.jpg.txt` beside each image, one tag per line, `namespace:tag`.

Namespaces map to categories: ``character:``; ``creator:`` and ``artist:``
→ artist; ``series:`` and ``copyright:`` → copyright; ``meta:``. A line
without a known namespace is a general tag, kept whole (``re:zero`` stays
``re:zero``); hydrus's leading ``:`` (``:a:b``) marks a bare tag with a colon.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from datasets.importing_formats.captions import IMAGE_SUFFIXES
from datasets.importing_formats.model import Dataset, DatasetImage, DatasetTag, Problem
from datasets.importing_formats.source import DatasetSource
from images.sidecars import CaptionError
from tags.models import TagCategory

NAMESPACES = {
    "character": TagCategory.CHARACTER,
    "creator": TagCategory.ARTIST,
    "artist": TagCategory.ARTIST,
    "series": TagCategory.COPYRIGHT,
    "copyright": TagCategory.COPYRIGHT,
    "meta": TagCategory.META,
    "general": TagCategory.GENERAL,
}
SIDECAR_MAX_BYTES = 1024 * 1024


def read_hydrus(source: DatasetSource) -> Dataset:
    """Every image of the source, with the tags of its `.txt` sidecar (if any)."""
    dataset = Dataset()
    names = source.names()
    present = set(names)
    for name in names:
        if PurePosixPath(name).suffix.lower() not in IMAGE_SUFFIXES:
            continue
        sidecar = name + ".txt"
        image = DatasetImage(file=name)
        if sidecar in present:
            try:
                lines = _sidecar_lines(source, sidecar)
            except CaptionError as error:
                # Like import_images: a broken sidecar holds its image back until fixed.
                dataset.problems.append(Problem(sidecar, f"{error.reason}; image not imported"))
                continue
            if not lines:
                dataset.problems.append(
                    Problem(sidecar, "empty tag file: the image is imported without tags")
                )
            image.tags = [hydrus_tag(line) for line in lines]
        dataset.images.append(image)
    return dataset


def hydrus_tag(line: str) -> DatasetTag:
    """A sidecar line as a tag with its category."""
    if line.startswith(":"):
        return DatasetTag(line[1:], TagCategory.GENERAL)
    namespace, colon, subtag = line.partition(":")
    category = NAMESPACES.get(namespace.strip().lower()) if colon else None
    if category is None or not subtag.strip():
        return DatasetTag(line)
    return DatasetTag(subtag, category)


def _sidecar_lines(source: DatasetSource, sidecar: str) -> list[str]:
    try:
        data = source.read(sidecar, max_bytes=SIDECAR_MAX_BYTES)
    except OSError as error:
        raise CaptionError(str(error)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        where = f"byte 0x{data[error.start]:02x} at offset {error.start}"
        raise CaptionError(f"{PurePosixPath(sidecar).name} is not UTF-8 text ({where})") from None
    return [line.strip() for line in text.splitlines() if line.strip()]
