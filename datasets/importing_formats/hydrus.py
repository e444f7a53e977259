"""hydrus sidecars: `image.jpg.txt` beside each image, one tag per line, `namespace:tag`.

A line is split as hydrus's HydrusTags.CleanTag and SplitTag split it: at the
first colon, after a leading `:` that marks an unnamespaced tag with a colon
in it (`:re:zero` is the tag `re:zero`; `::d` and `:d` the emoticon `:d`).

Namespaces that are Tagger categories become them (`NAMESPACES`: `character:`;
`creator:` and `artist:` → artist; `series:` and `copyright:` → copyright;
`meta:`, `species:`, `lore:`, `contributor:`, `invalid:`, `general:`). Any
other namespace (`rating:`, `person:`, `title:`, one of the user's own) stays
in the tag's name, `rating:safe`, so that it keeps its meaning and goes back
out as it came (datasets/exporting/hydrus.py).

A category read here is a hint for tags the import creates; it never changes
the category of a tag that exists (sessions_app.services.datasets).
"""

from __future__ import annotations

from pathlib import PurePosixPath

from datasets.caption_style import CaptionStyle, most_common
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
    "species": TagCategory.SPECIES,
    "lore": TagCategory.LORE,
    "contributor": TagCategory.CONTRIBUTOR,
    "invalid": TagCategory.INVALID,
    "general": TagCategory.GENERAL,
}
SIDECAR_MAX_BYTES = 1024 * 1024


def read_hydrus(source: DatasetSource) -> Dataset:
    """Every image of the source, with the tags of its `.txt` sidecar (if any)."""
    dataset = Dataset()
    names = source.names()
    present = set(names)
    endings: list[str] = []
    for name in names:
        if PurePosixPath(name).suffix.lower() not in IMAGE_SUFFIXES:
            continue
        sidecar = name + ".txt"
        image = DatasetImage(file=name)
        if sidecar in present:
            try:
                lines, ending = _sidecar_lines(source, sidecar)
                endings.append(ending)
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
    if endings:
        style = CaptionStyle(format="hydrus", ending=most_common(endings, "\n"))
        dataset.style = {"caption_style": style.as_stored()}
    return dataset


def split_tag(line: str) -> tuple[str, str]:
    """(namespace, subtag) as hydrus reads the line; namespace "" when it has none."""
    tag = line.strip()
    if tag.startswith(":"):
        # CleanTag: ":d" (one leading colon, no other) is "::d"; either way the
        # leading colon says "no namespace" and the rest is the subtag.
        rest = tag[1:]
        return ("", tag) if ":" not in rest else ("", rest)
    namespace, colon, subtag = tag.partition(":")
    if not colon or not subtag.strip() or not namespace.strip():
        return "", tag
    return namespace.strip().lower(), subtag.strip()


def hydrus_tag(line: str) -> DatasetTag:
    """A sidecar line as a tag, with the category its namespace names (if it names one)."""
    namespace, subtag = split_tag(line)
    written = line.strip()
    if not namespace:
        return DatasetTag(subtag, written=written)
    category = NAMESPACES.get(namespace)
    if category is None:
        return DatasetTag(f"{namespace}:{subtag}", written=written)
    return DatasetTag(subtag, category, written=written)


def _sidecar_lines(source: DatasetSource, sidecar: str) -> tuple[list[str], str]:
    """The sidecar's tag lines, and what ends its last line ("\n", "\r\n" or "")."""
    try:
        data = source.read(sidecar, max_bytes=SIDECAR_MAX_BYTES)
    except OSError as error:
        raise CaptionError(str(error)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        where = f"byte 0x{data[error.start]:02x} at offset {error.start}"
        raise CaptionError(f"{PurePosixPath(sidecar).name} is not UTF-8 text ({where})") from None
    ending = "\r\n" if text.endswith("\r\n") else "\n" if text.endswith("\n") else ""
    return [line.strip() for line in text.splitlines() if line.strip()], ending
