"""kohya fine-tuning metadata: `metadata.json` mapping each image to its tags string.

Keys are the images' file names, extension included, relative to the folder:
sd-scripts' FineTuningDataset opens `os.path.join(image_dir, key)`, so the
stems its own merge scripts write (without `--full_path`) cannot be opened.
`tags` is the tag list exactly as the `.txt` would hold it, and `caption`
the written caption, exactly; kohya joins `caption` and `tags` when both are
present (ExportOptions.caption_source "tags" or "text" writes only one).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from datasets.exporting.base import Entry, ExportOptions, ExportReport, caption_for, file_caption
from datasets.exporting.documents import NamedRows, images_then_document
from sessions_app.models import TaggingSession

METADATA_NAME = "metadata.json"


def write_kohya_json(
    session: TaggingSession, options: ExportOptions, report: ExportReport
) -> Iterator[Entry]:
    """Images (optional) and one metadata document, in two passes over the rows."""
    return images_then_document(
        session,
        options,
        report,
        stem="metadata",
        document_name=METADATA_NAME,
        document=lambda rows: _document(rows, options),
    )


def _document(rows: NamedRows, options: ExportOptions) -> Iterator[bytes]:
    yield b"{"
    first = True
    for row, name in rows:
        record = _record(row, options)
        key = json.dumps(name, ensure_ascii=False)
        body = json.dumps(record, ensure_ascii=False)
        yield f"{'' if first else ','}\n  {key}: {body}".encode()
        first = False
    yield b"\n}\n"


def _record(row, options: ExportOptions) -> dict[str, str]:
    """kohya's record: `caption` (the written caption) and `tags`, as the source asks."""
    names = [tag.name for tag in row.tags]
    written = row.caption or _embedded_caption(row)
    source = options.caption_source
    if source == "text" or (source == "auto" and written and not names):
        return {"caption": file_caption(names, written, options).text(options)}
    record = {"tags": caption_for(names, options).text(options)}
    if written and source != "tags":
        record["caption"] = written
    return record


def _embedded_caption(row) -> str:
    # A natural-language caption the image's own metadata carried before it had a written one.
    caption = row.image.metadata.get("caption") if row.image.metadata else None
    return caption if isinstance(caption, str) else ""
