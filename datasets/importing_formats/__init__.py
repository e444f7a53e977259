"""Dataset readers for `import_dataset`: Tagger JSON, kohya metadata JSON, JSON Lines, hydrus.

Each reader turns a folder or zip (as `export_dataset` writes them, or as the
other tools lay them out) into a `Dataset`: images by their file name inside
the source, with ordered raw tags and, where the format has them, categories,
sources, statuses, session settings, aliases and implications. Readers touch
no database; `datasets.services.dataset_import` writes.

PATH may be the metadata file itself (the images are the files beside it),
the folder holding it, or a zip of that folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from datasets.importing_formats.captions import read_caption_folder
from datasets.importing_formats.hydrus import read_hydrus
from datasets.importing_formats.kohya_json import read_jsonl, read_kohya_json
from datasets.importing_formats.model import (
    Dataset,
    DatasetImage,
    DatasetTag,
    FormatError,
    Problem,
)
from datasets.importing_formats.source import DatasetSource
from datasets.importing_formats.tagger_json import read_tagger_json

__all__ = [
    "DOCUMENTS",
    "FORMATS",
    "Dataset",
    "DatasetImage",
    "DatasetSource",
    "DatasetTag",
    "FormatError",
    "OpenedDataset",
    "Problem",
    "open_dataset",
]

FORMATS = ("json", "kohya-json", "jsonl", "hydrus", "kohya")
CAPTION_EXTENSIONS = (".txt", ".caption")
# The metadata file each format keeps at the top of the folder or zip.
DOCUMENTS = {"json": "tagger.json", "kohya-json": "metadata.json", "jsonl": "metadata.jsonl"}
DOCUMENT_MAX_BYTES = 512 * 1024 * 1024


@dataclass
class OpenedDataset:
    format: str
    source: DatasetSource
    dataset: Dataset


def open_dataset(
    path: Path, fmt: str | None = None, *, caption_extensions: tuple[str, ...] = CAPTION_EXTENSIONS
) -> OpenedDataset:
    """Read the dataset at `path` (format guessed when None). Raises FormatError."""
    if fmt is not None and fmt not in FORMATS:
        raise FormatError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    if not path.exists():
        raise FormatError(f"no such file or folder: {path}")
    document = None
    if path.is_file() and path.suffix.lower() in (".json", ".jsonl"):
        document, path = path.name, path.parent
    source = DatasetSource(path)
    try:
        fmt = fmt or _guess(source, document)
        document = document or DOCUMENTS.get(fmt)
        if document is not None and not source.exists(document):
            raise FormatError(f"{fmt}: {document} not found in {path.name}")
        dataset = (
            read_caption_folder(source, caption_extensions)
            if fmt == "kohya"
            else _read(source, fmt, document)
        )
    except BaseException:
        source.close()
        raise
    return OpenedDataset(fmt, source, dataset)


def _read(source: DatasetSource, fmt: str, document: str | None) -> Dataset:
    if fmt == "json":
        return read_tagger_json(source, document or "", max_bytes=DOCUMENT_MAX_BYTES)
    if fmt == "kohya-json":
        return read_kohya_json(source, document or "", max_bytes=DOCUMENT_MAX_BYTES)
    if fmt == "jsonl":
        return read_jsonl(source, document or "", max_bytes=DOCUMENT_MAX_BYTES)
    return read_hydrus(source)


def _guess(source: DatasetSource, document: str | None) -> str:
    if document is not None:
        if document.lower().endswith(".jsonl"):
            return "jsonl"
        head = source.read(document, max_bytes=DOCUMENT_MAX_BYTES)[:4096]
        return "json" if b'"tagger-dataset"' in head else "kohya-json"
    for fmt, name in DOCUMENTS.items():
        if source.exists(name):
            return fmt
    if any(
        name.endswith(".txt") and "." in name[:-4].rsplit("/", 1)[-1] for name in source.names()
    ):
        return "hydrus"
    if any(name.endswith(CAPTION_EXTENSIONS) for name in source.names()):
        return "kohya"
    raise FormatError("cannot tell the format: pass --format json|kohya-json|jsonl|hydrus|kohya")
