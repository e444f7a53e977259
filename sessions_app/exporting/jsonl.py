"""JSON Lines: `metadata.jsonl` beside the images, one object per image.

The shape of a Hugging Face `imagefolder` dataset: `file_name` and `text`
(the caption as kohya would read it), plus `tags`, the ordered tag names.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from sessions_app.exporting.base import (
    Entry,
    ExportOptions,
    ExportReport,
    allocator_for,
    caption_for,
)
from sessions_app.exporting.rows import export_rows, image_chunks, image_is_stored
from sessions_app.models import TaggingSession

METADATA_NAME = "metadata.jsonl"


def write_jsonl(
    session: TaggingSession, options: ExportOptions, report: ExportReport
) -> Iterator[Entry]:
    """Images (optional) and the JSON Lines document."""
    names = allocator_for(report, "metadata")
    exported: dict[int, str] | None = None
    if options.include_images:
        exported = {}
        for row in export_rows(session, statuses=options.statuses):
            if not image_is_stored(row.image):
                report.missing.append(row.image.original_name)
                continue
            exported[row.image.pk] = names.image_name(row.image)
            yield Entry(exported[row.image.pk], image_chunks(row.image), compress=False)
            report.image_done()
    yield Entry(METADATA_NAME, _lines(session, options, report, names, exported))


def _lines(session, options, report, names, exported) -> Iterator[bytes]:
    for row in export_rows(session, statuses=options.statuses):
        if exported is None:
            name = names.image_name(row.image)
            report.image_done()
        elif (name := exported.get(row.image.pk)) is None:
            continue
        tag_names = [tag.name for tag in row.tags]
        line = {
            "file_name": name,
            "text": caption_for(tag_names, options).text(options),
            "tags": tag_names,
        }
        yield json.dumps(line, ensure_ascii=False).encode() + b"\n"
