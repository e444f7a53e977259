"""kohya fine-tuning metadata: `metadata.json` mapping each image to its tags string.

Keys are image stems, as kohya's own merge scripts write them (without
`--full_path`); `tags` is the caption exactly as the `.txt` would hold it.
kohya joins `caption` and `tags` when both are present, so `caption` is
written only for images whose metadata carries a natural-language caption.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from datasets.exporting.base import Entry, ExportOptions, ExportReport, caption_for
from datasets.exporting.documents import NamedRows, images_then_document
from datasets.exporting.names import split_name
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
        record = {"tags": caption_for([tag.name for tag in row.tags], options).text(options)}
        caption = row.image.metadata.get("caption") if row.image.metadata else None
        if isinstance(caption, str) and caption:
            record["caption"] = caption
        key = json.dumps(split_name(name)[0], ensure_ascii=False)
        body = json.dumps(record, ensure_ascii=False)
        yield f"{'' if first else ','}\n  {key}: {body}".encode()
        first = False
    yield b"\n}\n"
