"""hydrus sidecars: `image.jpg.txt` beside each image, one tag per line.

Categories become hydrus namespaces (`character:`, `creator:`, `series:`,
`meta:`); a general tag that contains a colon gets hydrus's leading `:` so it
is not read as a namespace. hydrus spells tags with spaces, unescaped.
"""

from __future__ import annotations

from collections.abc import Iterator

from datasets.exporting.base import Entry, ExportOptions, ExportReport, allocator_for
from datasets.exporting.rows import ExportTag, export_rows, image_chunks, image_is_stored
from sessions_app.models import TaggingSession
from tags.models import TagCategory

NAMESPACES = {
    TagCategory.CHARACTER: "character",
    TagCategory.ARTIST: "creator",
    TagCategory.COPYRIGHT: "series",
    TagCategory.META: "meta",
}


def write_hydrus(
    session: TaggingSession, options: ExportOptions, report: ExportReport
) -> Iterator[Entry]:
    """Images and their hydrus tag sidecars."""
    names = allocator_for(report)
    for row in export_rows(session, statuses=options.statuses):
        if options.include_images and not image_is_stored(row.image):
            report.missing.append(row.image.original_name)
            continue
        name = names.image_name(row.image)
        if options.include_images:
            yield Entry(name, image_chunks(row.image), compress=False)
        lines = "".join(hydrus_tag(tag) + "\n" for tag in row.tags)
        yield Entry(name + ".txt", [lines.encode("utf-8")])
        report.image_done()


def hydrus_tag(tag: ExportTag) -> str:
    """The tag as hydrus writes it: `namespace:subtag`, or `:a:b` for a bare tag with a colon."""
    namespace = NAMESPACES.get(tag.category)
    if namespace:
        return f"{namespace}:{tag.name}"
    return f":{tag.name}" if ":" in tag.name else tag.name
