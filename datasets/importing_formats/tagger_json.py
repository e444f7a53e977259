"""Tagger's own document (`tagger.json`, as `export_dataset --format json` writes it).

The shape is documented in `datasets.exporting.tagger_json`: the session's
settings, the vocabulary (tags with categories, aliases, implications) and
the images in session order, each with its sha256, metadata, status and
tags in caption order with their categories, sources and confidences.
"""

from __future__ import annotations

import json
from typing import Any

from datasets.importing_formats.model import (
    Dataset,
    DatasetImage,
    DatasetTag,
    FormatError,
    Problem,
)
from datasets.importing_formats.source import DatasetSource

FORMAT_NAME = "tagger-dataset"
SUPPORTED_VERSIONS = (1,)
SESSION_SETTINGS = (
    "description",
    "trigger_word",
    "separator",
    "use_underscores",
    "escape_parentheses",
)


def is_tagger_document(data: Any) -> bool:
    return isinstance(data, dict) and data.get("format") == FORMAT_NAME


def read_tagger_json(source: DatasetSource, document: str, *, max_bytes: int) -> Dataset:
    """Read the document; image files are looked up beside it by their `file` name."""
    try:
        data = json.loads(source.read(document, max_bytes=max_bytes).decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise FormatError(f"{document} is not UTF-8 text (offset {error.start})") from None
    except json.JSONDecodeError as error:
        raise FormatError(f"{document} is not JSON: {error.msg} at line {error.lineno}") from None
    if not is_tagger_document(data):
        raise FormatError(f'{document} is not a Tagger document (no "format": "{FORMAT_NAME}")')
    if data.get("version") not in SUPPORTED_VERSIONS:
        raise FormatError(f"{document}: unsupported version {data.get('version')!r}")
    dataset = Dataset()
    session = data.get("session") if isinstance(data.get("session"), dict) else {}
    dataset.settings = {key: session[key] for key in SESSION_SETTINGS if key in session}
    _read_vocabulary(data.get("vocabulary") or {}, dataset, document)
    for index, record in enumerate(_list(data, "images")):
        where = f"{document}: images[{index}]"
        image = _image(record, where, dataset.problems)
        if image is not None:
            dataset.images.append(image)
    return dataset


def _read_vocabulary(vocabulary: Any, dataset: Dataset, document: str) -> None:
    if not isinstance(vocabulary, dict):
        dataset.problems.append(Problem(document, "vocabulary is not an object; ignored"))
        return
    for tag in _list(vocabulary, "tags"):
        if isinstance(tag, dict) and _strings(tag, "name", "category"):
            dataset.categories[tag["name"]] = tag["category"]
    for alias in _list(vocabulary, "aliases"):
        if isinstance(alias, dict) and _strings(alias, "name", "tag"):
            dataset.aliases.append((alias["name"], alias["tag"]))
    for implication in _list(vocabulary, "implications"):
        if isinstance(implication, dict) and _strings(implication, "tag", "implied"):
            dataset.implications.append((implication["tag"], implication["implied"]))


def _image(record: Any, where: str, problems: list[Problem]) -> DatasetImage | None:
    if not isinstance(record, dict) or not isinstance(record.get("file"), str):
        problems.append(Problem(where, 'not an image record with a "file"'))
        return None
    tags = []
    for tag in record.get("tags") or []:
        if not isinstance(tag, dict) or not isinstance(tag.get("name"), str):
            problems.append(Problem(where, f"tag {tag!r} is not an object with a name; skipped"))
            continue
        confidence = tag.get("confidence")
        tags.append(
            DatasetTag(
                tag["name"],
                tag.get("category") if isinstance(tag.get("category"), str) else None,
                tag.get("source") if isinstance(tag.get("source"), str) else None,
                float(confidence) if isinstance(confidence, int | float) else None,
            )
        )
    metadata = record.get("metadata")
    return DatasetImage(
        file=record["file"],
        tags=tags,
        status=record.get("status") if isinstance(record.get("status"), str) else None,
        sha256=record.get("sha256") if isinstance(record.get("sha256"), str) else None,
        original_name=record.get("original_name")
        if isinstance(record.get("original_name"), str)
        else None,
        metadata=metadata if isinstance(metadata, dict) else {},
        exact=True,
        caption=record["caption"] if isinstance(record.get("caption"), str) else "",
    )


def _list(data: dict, key: str) -> list:
    value = data.get(key)
    return value if isinstance(value, list) else []


def _strings(data: dict, *keys: str) -> bool:
    return all(isinstance(data.get(key), str) for key in keys)
