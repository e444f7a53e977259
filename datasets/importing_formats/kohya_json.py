"""kohya fine-tuning metadata (`metadata.json`) and JSON Lines (`metadata.jsonl`) readers.

metadata.json maps an image key to a record: ``{"<image>": {"caption": …,
"tags": "a, b", …}}``. kohya's merge scripts write the image's stem as the
key (or its full path with ``--full_path``), so a key is matched to a file of
the dataset by relative path, then path without extension, then stem.
``tags`` (the caption as the `.txt` would hold it) gives the ordered tags;
without it, ``caption`` does; a natural-language ``caption`` beside ``tags``
is kept in the image's metadata.

metadata.jsonl has one object per line, Hugging Face `imagefolder` style:
``file_name`` plus ``tags`` (a list or a caption string) or ``text``.
"""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath
from typing import Any

from datasets.caption_style import CaptionStyle, most_common
from datasets.importing_formats.captions import (
    IMAGE_SUFFIXES,
    caption_layout,
    caption_tags,
    spelling_style,
)
from datasets.importing_formats.model import (
    Dataset,
    DatasetImage,
    DatasetTag,
    FormatError,
    Problem,
)
from datasets.importing_formats.source import DatasetSource
from images.sidecars import looks_like_prose

_FILE_KEYS = ("file_name", "image", "file", "path")


def read_kohya_json(source: DatasetSource, document: str, *, max_bytes: int) -> Dataset:
    """Read kohya's metadata.json; images are the dataset's files that its keys name."""
    text = _decode(source.read(document, max_bytes=max_bytes), document)
    data = _parse_json(text, document)
    if not isinstance(data, dict):
        raise FormatError(f"{document}: expected an object mapping images to records")
    files = ImageIndex(source)
    dataset = Dataset()
    for key, record in data.items():
        where = f"{document}: {key}"
        if not isinstance(record, dict):
            dataset.problems.append(Problem(where, "the record is not an object"))
            continue
        file = files.find(key)
        if file is None:
            dataset.problems.append(Problem(where, files.why_not(key)))
            continue
        dataset.images.append(_kohya_image(file, record, dataset.problems, where))
    dataset.style = _document_style(text, data)
    return dataset


def _document_style(text: str, data: dict[str, Any]) -> dict[str, Any]:
    """How the document is laid out: json.dumps(indent=2) as sd-scripts' merge scripts
    write it, or Tagger's one record a line; its tags' separator and spelling."""
    records = [record for record in data.values() if isinstance(record, dict)]
    both = next((r for r in records if "tags" in r and "caption" in r), None)
    order = tuple(k for k in both if k in ("tags", "caption")) if both else ("tags", "caption")
    indent_match = re.match(r"\{\n( +)\S", text)
    multiline = re.search(r":\s*\{\n", text) is not None
    indent = len(indent_match.group(1)) if indent_match and multiline else None
    ascii_only = not any(ord(ch) > 127 for ch in text) and (indent is not None or "\\u" in text)
    tags_texts = [r["tags"] for r in records if isinstance(r.get("tags"), str)]
    layouts = [caption_layout(tags, ".txt") for tags in tags_texts]
    style = CaptionStyle(
        format="kohya-json",
        ending="\n" if text.endswith("\n") else "",
        trailing=most_common((layout.trailing for layout in layouts), ""),
        json_indent=indent,
        json_ascii=ascii_only,
        json_order=order,
    )
    settings: dict[str, Any] = {"caption_style": style.as_stored()}
    separator = most_common((layout.separator for layout in layouts if layout.separator), "")
    if separator:
        settings["separator"] = separator
    tokens = [token for tags in tags_texts for token in caption_tags(tags)]
    return settings | spelling_style(tokens)


def read_jsonl(source: DatasetSource, document: str, *, max_bytes: int) -> Dataset:
    """Read metadata.jsonl: one object per line naming its image file."""
    text = _decode(source.read(document, max_bytes=max_bytes), document)
    files = ImageIndex(source)
    dataset = Dataset()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{document}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            dataset.problems.append(Problem(where, f"not JSON: {error.msg}"))
            continue
        if not isinstance(record, dict):
            dataset.problems.append(Problem(where, "not a JSON object"))
            continue
        key = next((record[k] for k in _FILE_KEYS if isinstance(record.get(k), str)), None)
        if key is None:
            dataset.problems.append(Problem(where, "no file_name"))
            continue
        file = files.find(key)
        if file is None:
            dataset.problems.append(Problem(where, files.why_not(key)))
            continue
        dataset.images.append(_jsonl_image(file, record, dataset.problems, where))
    return dataset


def _kohya_image(
    file: str, record: dict[str, Any], problems: list[Problem], where: str
) -> DatasetImage:
    tags_text, caption = record.get("tags"), record.get("caption")
    image = DatasetImage(file=file)
    if isinstance(tags_text, str) and tags_text.strip():
        tokens = caption_tags(tags_text)
        if isinstance(caption, str) and caption.strip():
            # Beside the tags, `caption` is the natural-language caption (kohya joins the two).
            image.caption = caption
    elif isinstance(caption, str) and caption.strip():
        tokens, image.caption = _tags_or_prose(caption)
    else:
        tokens = []
        problems.append(Problem(where, "empty caption: the image is imported without tags"))
    image.tags = [DatasetTag(token) for token in tokens]
    return image


def _jsonl_image(
    file: str, record: dict[str, Any], problems: list[Problem], where: str
) -> DatasetImage:
    tags, text = record.get("tags"), record.get("text")
    if isinstance(tags, list) and all(isinstance(tag, str) for tag in tags) and tags:
        # Beside a tag list, a `text` in sentences is the written caption.
        written = text if isinstance(text, str) and looks_like_prose(text) else ""
        return DatasetImage(file=file, tags=[DatasetTag(t) for t in tags], caption=written)
    elif isinstance(tags, str) and tags.strip():
        tokens = caption_tags(tags)
    elif isinstance(text, str) and text.strip():
        tokens, written = _tags_or_prose(text)
        return DatasetImage(file=file, tags=[DatasetTag(t) for t in tokens], caption=written)
    else:
        tokens = []
        problems.append(Problem(where, "empty caption: the image is imported without tags"))
    return DatasetImage(file=file, tags=[DatasetTag(token) for token in tokens])


def _tags_or_prose(text: str) -> tuple[list[str], str]:
    """A lone caption string: a written caption (kept exactly) if in sentences, else tags."""
    return ([], text) if looks_like_prose(text) else (caption_tags(text), "")


class ImageIndex:
    """Find a dataset's image file from the key a metadata file uses for it."""

    def __init__(self, source: DatasetSource) -> None:
        self.files = [
            n for n in source.names() if PurePosixPath(n).suffix.lower() in IMAGE_SUFFIXES
        ]
        self.exact = set(self.files)
        self.by_path: dict[str, list[str]] = {}
        self.by_stem: dict[str, list[str]] = {}
        for name in self.files:
            path = PurePosixPath(name)
            self.by_path.setdefault(str(path.with_suffix("")), []).append(name)
            self.by_stem.setdefault(path.stem, []).append(name)

    def find(self, key: str) -> str | None:
        key = key.replace("\\", "/")
        if key in self.exact:
            return key
        for candidates in (
            self.by_path.get(key.lstrip("/")),
            self.by_stem.get(PurePosixPath(key).name),
            self.by_stem.get(PurePosixPath(key).stem),
        ):
            if candidates and len(candidates) == 1:
                return candidates[0]
        return None

    def why_not(self, key: str) -> str:
        stem = PurePosixPath(key.replace("\\", "/")).name
        if len(self.by_stem.get(stem, [])) > 1:
            return f"ambiguous: {', '.join(self.by_stem[stem])} all match"
        return "no image file for it in the dataset"


def _parse_json(text: str, document: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise FormatError(f"{document} is not JSON: {error.msg} at line {error.lineno}") from None


def _decode(data: bytes, document: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FormatError(f"{document} is not UTF-8 text (offset {error.start})") from None
