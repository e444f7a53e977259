"""kohya fine-tuning metadata: `metadata.json` mapping each image to its tags string.

Keys are the images' file names, extension included, relative to the folder:
sd-scripts' FineTuningDataset opens `os.path.join(image_dir, key)`, so the
stems its own merge scripts write (without `--full_path`) cannot be opened.
`tags` is the caption exactly as the `.txt` would hold it.
kohya joins `caption` and `tags` when both are present, so `caption` is
written only for images whose metadata carries a natural-language caption.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from datasets.exporting.base import Entry, ExportOptions, ExportReport, caption_for
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
        record = {"tags": caption_for([tag.name for tag in row.tags], options).text(options)}
        caption = row.image.metadata.get("caption") if row.image.metadata else None
        if isinstance(caption, str) and caption:
            record["caption"] = caption
        key = json.dumps(name, ensure_ascii=False)
        body = json.dumps(record, ensure_ascii=False)
        yield f"{'' if first else ','}\n  {key}: {body}".encode()
        first = False
    yield b"\n}\n"
