"""The pass shared by the document formats: the images first, then one document naming them.

Only images whose file was written are described, so a document never names
a file that is not beside it; without images, every row is described under
the name its file would have had.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from datasets.exporting.base import Entry, ExportOptions, ExportReport, allocator_for
from datasets.exporting.names import NameAllocator
from datasets.exporting.rows import ExportRow, export_rows, image_chunks, image_is_stored
from sessions_app.models import TaggingSession

NamedRows = Iterator[tuple[ExportRow, str]]


def images_then_document(
    session: TaggingSession,
    options: ExportOptions,
    report: ExportReport,
    *,
    stem: str,
    document_name: str,
    document: Callable[[NamedRows], Iterator[bytes]],
    obey_rules: bool = True,
    spelling_reader: Callable[[str], str] | None = None,
) -> Iterator[Entry]:
    """Yield the stored images (when the options ask for them), then the document."""
    names = allocator_for(report, stem)
    exported: dict[int, str] | None = None
    if options.include_images:
        exported = {}
        for row in export_rows(session, statuses=options.statuses, obey_rules=obey_rules):
            if not image_is_stored(row.image):
                report.missing.append(row.name)
                continue
            exported[row.image.pk] = names.image_name(row.image, row.name)
            yield Entry(exported[row.image.pk], image_chunks(row.image), compress=False)
            report.image_done()
    rows = _named_rows(session, options, report, names, exported, obey_rules, spelling_reader)
    yield Entry(document_name, document(rows))


def _named_rows(
    session: TaggingSession,
    options: ExportOptions,
    report: ExportReport,
    names: NameAllocator,
    exported: dict[int, str] | None,
    obey_rules: bool,
    spelling_reader: Callable[[str], str] | None,
) -> NamedRows:
    rows = export_rows(
        session, statuses=options.statuses, obey_rules=obey_rules, spelling_reader=spelling_reader
    )
    for row in rows:
        if exported is None:
            name = names.image_name(row.image, row.name)
            report.image_done()
        elif (name := exported.get(row.image.pk)) is None:
            continue  # missing, or added to the session after its file was written
        yield row, name
