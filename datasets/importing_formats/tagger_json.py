"""Tagger's own document (`tagger.json`, as `export_dataset --format json` writes it).

The shape is documented in `datasets.exporting.tagger_json`. The document
is a backup that a restore trusts (members, rules, a vocabulary), so it is
checked whole before anything is written: an unknown field, a value of the
wrong type, an unknown status, source, category or role, a number or string
past its bound refuses the document with the path of the first offence
(`images[3].tags[0].confidence: …`). Version 1 documents (no rules, members
or written captions; an `exported_at` time) still import.

Where a new section goes: a field on `BackupDocument` (and on `ImageRecord`
for a per-image value), copied onto the `Dataset` in `read_tagger_json`,
restored by a step in `datasets.backup` (BEFORE_IMAGES or AFTER_IMAGES).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from datasets.importing_formats.model import Dataset, DatasetImage, DatasetTag, FormatError
from datasets.importing_formats.source import DatasetSource
from sessions_app.models import ImageStatus, Role
from tags.models import TagCategory, TagSource

FORMAT_NAME = "tagger-dataset"
SUPPORTED_VERSIONS = (1, 2)
SESSION_SETTINGS = (
    "description",
    "trigger_word",
    "separator",
    "use_underscores",
    "escape_parentheses",
    "caption_style",
)
# Bounds past anything a real session holds; the services check their own on top.
MAX_TEXT = 100_000
MAX_NAME = 1_000
MAX_LIST = 100_000
MAX_BIGINT = 2**63 - 1

Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
Name = Annotated[str, StringConstraints(max_length=MAX_NAME)]
Count = Annotated[int, Field(ge=0, le=MAX_BIGINT)]
Category = Literal[tuple(TagCategory.values)]  # type: ignore[valid-type]
Source = Literal[tuple(TagSource.values)]  # type: ignore[valid-type]
Status = Literal[tuple(ImageStatus.values)]  # type: ignore[valid-type]
RoleName = Literal[tuple(Role.values)]  # type: ignore[valid-type]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SessionRecord(_Strict):
    name: Name | None = None
    description: Text = ""
    trigger_word: Name = ""
    separator: Annotated[str, StringConstraints(max_length=8)] = ", "
    use_underscores: bool = False
    escape_parentheses: bool = False
    # How the dataset spelled its captions (datasets.caption_style); checked there on use.
    caption_style: Annotated[dict[str, Any], Field(max_length=100)] = {}


class RulesRecord(_Strict):
    blacklist: Annotated[list[Name], Field(max_length=1_000)] = []
    pinned: Annotated[list[Name], Field(max_length=50)] = []
    category_order: Annotated[list[Category], Field(max_length=len(TagCategory.values))] = []


class MemberRecord(_Strict):
    username: Annotated[str, StringConstraints(min_length=1, max_length=150)]
    role: RoleName


class VocabularyTag(_Strict):
    name: Name
    category: Category
    description: Text = ""
    popularity: Count = 0


class AliasRecord(_Strict):
    name: Name
    tag: Name


class ImplicationRecord(_Strict):
    tag: Name
    implied: Name


class VocabularyRecord(_Strict):
    tags: Annotated[list[VocabularyTag], Field(max_length=MAX_LIST * 10)] = []
    aliases: Annotated[list[AliasRecord], Field(max_length=MAX_LIST * 10)] = []
    implications: Annotated[list[ImplicationRecord], Field(max_length=MAX_LIST * 10)] = []


class TagRecord(_Strict):
    name: Name
    category: Category | None = None
    source: Source | None = None
    confidence: Annotated[float, Field(ge=0, le=1)] | None = None
    # The token as the imported file wrote it (sessions_app.models.SessionImageTag.spelling).
    spelling: Annotated[str, StringConstraints(min_length=1, max_length=400)] | None = None


class ImageRecord(_Strict):
    file: Annotated[str, StringConstraints(min_length=1, max_length=4_096)]
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None
    original_name: Annotated[str, StringConstraints(max_length=4_096)] | None = None
    # Facts about the bytes, recomputed from the file on restore: checked, not trusted.
    width: Count | None = None
    height: Count | None = None
    format: Name | None = None
    byte_size: Count | None = None
    metadata: dict[str, Any] = {}
    position: Count | None = None
    status: Status | None = None
    caption: Text = ""
    tags: Annotated[list[TagRecord], Field(max_length=MAX_LIST)] = []


class SubsetRecord(_Strict):
    name: Name
    num_repeats: Annotated[int, Field(ge=1, le=MAX_BIGINT)] = 1
    class_tokens: Name = ""
    images: Annotated[
        list[Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]],
        Field(max_length=MAX_LIST * 10),
    ] = []


class BackupDocument(_Strict):
    format: Literal["tagger-dataset"]
    version: Literal[SUPPORTED_VERSIONS]  # type: ignore[valid-type]
    exported_at: Name | None = None  # version 1 only; version 2 has no time, so it round-trips
    session: SessionRecord = SessionRecord()
    rules: RulesRecord | None = None
    members: Annotated[list[MemberRecord], Field(max_length=MAX_LIST)] = []
    subsets: Annotated[list[SubsetRecord], Field(max_length=MAX_LIST)] = []
    vocabulary: VocabularyRecord = VocabularyRecord()
    images: list[ImageRecord] = []


def is_tagger_document(data: Any) -> bool:
    return isinstance(data, dict) and data.get("format") == FORMAT_NAME


def read_tagger_json(source: DatasetSource, document: str, *, max_bytes: int) -> Dataset:
    """Read and check the document; image files are looked up beside it by their `file` name."""
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
    try:
        parsed = BackupDocument.model_validate(data)
    except ValidationError as error:
        raise FormatError(f"{document} refused, nothing imported: {_first_error(error)}") from None
    return _dataset(parsed, data)


def _first_error(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"])
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where.lstrip('.') or 'document'}: {first['msg']}{more}"


def _dataset(parsed: BackupDocument, data: dict[str, Any]) -> Dataset:
    dataset = Dataset()
    given = data.get("session") or {}
    dataset.settings = {
        key: getattr(parsed.session, key) for key in SESSION_SETTINGS if key in given
    }
    if parsed.rules is not None:
        dataset.rules = parsed.rules.model_dump()
    dataset.members = [(member.username, member.role) for member in parsed.members]
    dataset.subsets = [subset.model_dump() for subset in parsed.subsets]
    for tag in parsed.vocabulary.tags:
        dataset.categories[tag.name] = tag.category
        dataset.popularity[tag.name] = tag.popularity
        if tag.description:
            dataset.descriptions[tag.name] = tag.description
    dataset.aliases = [(alias.name, alias.tag) for alias in parsed.vocabulary.aliases]
    dataset.implications = [(i.tag, i.implied) for i in parsed.vocabulary.implications]
    dataset.images = [_image(record) for record in parsed.images]
    return dataset


def _image(record: ImageRecord) -> DatasetImage:
    return DatasetImage(
        file=record.file,
        tags=[
            DatasetTag(t.name, t.category, t.source, t.confidence, written=t.spelling)
            for t in record.tags
        ],
        status=record.status,
        sha256=record.sha256,
        original_name=record.original_name,
        metadata=record.metadata,
        exact=True,
        caption=record.caption,
    )
