"""JSON Lines: `metadata.jsonl` beside the images, one object per image.

The shape of a Hugging Face `imagefolder` dataset: `file_name` and `text`
(the caption as kohya would read it), plus `tags`, the ordered tag names.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from datasets.exporting.base import Entry, ExportOptions, ExportReport, file_caption
from datasets.exporting.documents import NamedRows, images_then_document
from sessions_app.models import TaggingSession

METADATA_NAME = "metadata.jsonl"


def write_jsonl(
    session: TaggingSession, options: ExportOptions, report: ExportReport
) -> Iterator[Entry]:
    """Images (optional) and the JSON Lines document."""
    return images_then_document(
        session,
        options,
        report,
        stem="metadata",
        document_name=METADATA_NAME,
        document=lambda rows: _lines(rows, options),
    )


def _lines(rows: NamedRows, options: ExportOptions) -> Iterator[bytes]:
    for row, name in rows:
        tag_names = [tag.name for tag in row.tags]
        line = {
            "file_name": name,
            "text": file_caption(tag_names, row.caption, options).text(options),
            "tags": tag_names,
        }
        yield json.dumps(line, ensure_ascii=False).encode() + b"\n"
