"""Dataset export: writers per format, and the two ways out (a stream of bytes, or files).

Every writer is `write(session, options, report) -> Iterator[Entry]`: entries
are produced image by image from chunked reads, so memory stays bounded
whatever the session's size. Doors:

- the API: `export_stream(session, fmt, options)` → (content type, file name,
  iterator of bytes) for a StreamingHttpResponse; under ASGI wrap the chunks
  in `async_chunks`, or Django lists the whole iterator into memory first;
- the command: `export_to_path(session, fmt, path, options)` writes a folder,
  or a zip when the path ends in `.zip`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from asgiref.sync import sync_to_async
from django.utils.text import slugify

from datasets.exporting.archive import write_folder, write_zip, zip_stream
from datasets.exporting.base import Entry, ExportOptions, ExportReport, Writer
from datasets.exporting.hydrus import write_hydrus
from datasets.exporting.jsonl import write_jsonl
from datasets.exporting.kohya import write_kohya
from datasets.exporting.kohya_json import write_kohya_json
from datasets.exporting.tagger_json import write_tagger_json
from sessions_app.models import TaggingSession
from tagger_project.errors import InvalidInput

__all__ = [
    "FORMATS",
    "Entry",
    "ExportFormat",
    "ExportOptions",
    "ExportReport",
    "ExportStream",
    "async_chunks",
    "export_entries",
    "export_stream",
    "export_to_path",
]


@dataclass(frozen=True)
class ExportFormat:
    """A dataset format: its writer, and the content type of its lone document, if any."""

    name: str
    description: str
    writer: Writer
    # Without images, formats that are one document stream it bare instead of zipped.
    document_type: str | None = None


FORMATS: dict[str, ExportFormat] = {
    fmt.name: fmt
    for fmt in (
        ExportFormat("kohya", "images with name.txt captions and a dataset config", write_kohya),
        ExportFormat(
            "kohya-json", "images with kohya metadata.json", write_kohya_json, "application/json"
        ),
        ExportFormat("jsonl", "images with metadata.jsonl", write_jsonl, "application/x-ndjson"),
        ExportFormat("hydrus", "images with hydrus name.ext.txt sidecars", write_hydrus),
        ExportFormat(
            "json",
            "Tagger's own document (tagger.json) with the images",
            write_tagger_json,
            "application/json",
        ),
    )
}


class ExportStream(NamedTuple):
    content_type: str
    filename: str
    chunks: Iterator[bytes]


def export_format(fmt: str) -> ExportFormat:
    """The format called `fmt`, or InvalidInput naming the known ones."""
    try:
        return FORMATS[fmt]
    except KeyError:
        raise InvalidInput(
            f"unknown export format {fmt!r}", details=[{"allowed": sorted(FORMATS)}]
        ) from None


def export_entries(
    session: TaggingSession,
    fmt: str,
    options: ExportOptions | None = None,
    report: ExportReport | None = None,
) -> Iterator[Entry]:
    """The files of the export, lazily. Validates the format and options before the first."""
    writer = export_format(fmt).writer
    resolved = (options or ExportOptions()).resolved(session)
    return writer(session, resolved, report if report is not None else ExportReport())


def export_stream(
    session: TaggingSession,
    fmt: str,
    options: ExportOptions | None = None,
    report: ExportReport | None = None,
) -> ExportStream:
    """The export as one download: a zip, or the bare document when images are left out.

    Raises InvalidInput (unknown format, bad option) before any byte is produced;
    `report` fills in as the chunks are consumed.
    """
    options = options or ExportOptions()
    spec = export_format(fmt)
    entries = export_entries(session, fmt, options, report)
    stem = slugify(session.name) or f"session-{session.pk}"
    if spec.document_type and not options.include_images:
        suffix = ".jsonl" if fmt == "jsonl" else ".json"
        chunks = (chunk for entry in entries for chunk in entry.chunks)
        return ExportStream(spec.document_type, f"{stem}-{fmt}{suffix}", chunks)
    return ExportStream("application/zip", f"{stem}-{fmt}.zip", zip_stream(entries))


def export_to_path(
    session: TaggingSession,
    fmt: str,
    path: Path,
    options: ExportOptions | None = None,
    report: ExportReport | None = None,
) -> ExportReport:
    """Write the export to a folder, or to a zip when `path` ends in `.zip`."""
    report = report if report is not None else ExportReport()
    options = options if options is not None else ExportOptions()
    if options.image_dir is None and path.suffix.lower() != ".zip":
        # sd-scripts resolves image_dir from its own working directory, not the TOML's.
        options = replace(options, image_dir=str(path.resolve()))
    entries = export_entries(session, fmt, options, report)
    if path.suffix.lower() == ".zip":
        write_zip(entries, path)
    else:
        write_folder(entries, path)
    return report


async def async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Serve a synchronous chunk iterator under ASGI one chunk at a time.

    Given a plain iterator, StreamingHttpResponse under ASGI consumes it
    whole with list() before sending a byte; this pulls each chunk in the
    thread that serves sync code (where the ORM runs), so memory stays at
    one chunk. A client that goes away closes the iterator, releasing files.
    """
    pull = sync_to_async(_next_or_none, thread_sensitive=True)
    try:
        while (chunk := await pull(chunks)) is not None:
            yield chunk
    finally:
        await sync_to_async(_close, thread_sensitive=True)(chunks)


def _next_or_none(chunks: Iterator[bytes]) -> bytes | None:
    return next(chunks, None)


def _close(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
