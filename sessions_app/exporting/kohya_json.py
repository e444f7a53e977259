"""kohya fine-tuning metadata: `metadata.json` mapping each image to its tags string.

Keys are image stems, as kohya's own merge scripts write them (without
`--full_path`); `tags` is the caption exactly as the `.txt` would hold it.
kohya joins `caption` and `tags` when both are present, so `caption` is
written only for images whose metadata carries a natural-language caption.
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
from sessions_app.exporting.names import split_name
from sessions_app.exporting.rows import export_rows, image_chunks, image_is_stored
from sessions_app.models import TaggingSession

METADATA_NAME = "metadata.json"


def write_kohya_json(
    session: TaggingSession, options: ExportOptions, report: ExportReport
) -> Iterator[Entry]:
    """Images (optional) and one metadata document, in two passes over the rows."""
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
    yield Entry(METADATA_NAME, _document(session, options, report, names, exported))


def _document(session, options, report, names, exported) -> Iterator[bytes]:
    yield b"{"
    first = True
    for row in export_rows(session, statuses=options.statuses):
        if exported is None:
            name = names.image_name(row.image)
            report.image_done()
        elif (name := exported.get(row.image.pk)) is None:
            continue  # missing, or added to the session after its file was written
        record = {"tags": caption_for([tag.name for tag in row.tags], options).text(options)}
        caption = row.image.metadata.get("caption") if row.image.metadata else None
        if isinstance(caption, str) and caption:
            record["caption"] = caption
        key = json.dumps(split_name(name)[0], ensure_ascii=False)
        body = json.dumps(record, ensure_ascii=False)
        yield f"{'' if first else ','}\n  {key}: {body}".encode()
        first = False
    yield b"\n}\n"
