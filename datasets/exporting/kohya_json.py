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

from datasets.exporting.base import (
    Entry,
    ExportOptions,
    ExportReport,
    caption_for,
    file_caption,
    spelling_reader,
    spellings_of,
)
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
        spelling_reader=spelling_reader(options, "kohya-json"),
    )


def _document(rows: NamedRows, options: ExportOptions) -> Iterator[bytes]:
    """The document as the session's style lays it out (CaptionStyle.json_*).

    With an indent, as sd-scripts' merge scripts write it (json.dumps(indent=2),
    ASCII escapes); without, Tagger's own layout, one record a line.
    """
    style = options.style
    indent = style.json_indent
    ascii_only = style.json_ascii
    yield b"{"
    first = True
    for row, name in rows:
        record = _record(row, options)
        key = json.dumps(name, ensure_ascii=ascii_only)
        body = json.dumps(record, ensure_ascii=ascii_only, indent=indent)
        if indent:
            pad = " " * indent
            body = body.replace("\n", "\n" + pad)
        else:
            pad = "  "
        yield f"{'' if first else ','}\n{pad}{key}: {body}".encode()
        first = False
    yield b"}" if first and indent else b"\n}"
    yield (style.ending if style.format == "kohya-json" else "\n").encode()


def _record(row, options: ExportOptions) -> dict[str, str]:
    """kohya's record: `caption` (the written caption) and `tags`, as the source asks."""
    names = [tag.name for tag in row.tags]
    spellings = spellings_of(row.tags)
    written = row.caption or _embedded_caption(row)
    source = options.caption_source
    if source == "text" or (source == "auto" and written and not names):
        return {"caption": file_caption(names, written, options, spellings).text(options)}
    record = {"tags": caption_for(names, options, spellings).text(options)}
    if options.style.format == "kohya-json":
        record["tags"] += options.style.trailing
    if written and source != "tags":
        record["caption"] = written
    order = [key for key in options.style.json_order if key in record]
    return {key: record[key] for key in [*order, *(k for k in record if k not in order)]}


def _embedded_caption(row) -> str:
    # A natural-language caption the image's own metadata carried before it had a written one.
    caption = row.image.metadata.get("caption") if row.image.metadata else None
    return caption if isinstance(caption, str) else ""
