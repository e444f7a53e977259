"""Read a tag vocabulary in the a1111-tagcomplete CSV shape: ``name,type,count,"alias1,alias2"``.

The reader is pure (no database): it turns bytes into rows and problems, each
with its line number. `tags.services.vocabulary_import` writes the rows.

Type codes differ per booru (`TYPE_CODES`): danbooru's 0 general, 1 artist,
3 copyright, 4 character, 5 meta; e621's 0 general, 1 artist, 2 contributor,
3 copyright, 4 character, 5 species, 6 invalid, 7 meta, 8 lore. The caller
names the scheme, or the file does: a file using a code only e621 has (2, 6,
7 or 8) is e621's; any other is read as danbooru's, the default, and
`VocabularyFile.codes_from` says which rule chose. Category names are
accepted in the type column too.

Tolerated: a UTF-8 BOM, a header line, blank lines, missing trailing columns
(type → general, count → 0, no aliases). A name may start with ``#``
(danbooru has ``#compass``); only a ``#`` line with no type column is taken as
a comment, and it is reported as skipped.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tags.models import TagCategory

DANBOORU_TYPES: dict[str, str] = {
    "0": TagCategory.GENERAL,
    "1": TagCategory.ARTIST,
    "3": TagCategory.COPYRIGHT,
    "4": TagCategory.CHARACTER,
    "5": TagCategory.META,
}
E621_TYPES: dict[str, str] = {
    "0": TagCategory.GENERAL,
    "1": TagCategory.ARTIST,
    "2": TagCategory.CONTRIBUTOR,
    "3": TagCategory.COPYRIGHT,
    "4": TagCategory.CHARACTER,
    "5": TagCategory.SPECIES,
    "6": TagCategory.INVALID,
    "7": TagCategory.META,
    "8": TagCategory.LORE,
}
TYPE_CODES: dict[str, dict[str, str]] = {"danbooru": DANBOORU_TYPES, "e621": E621_TYPES}
DEFAULT_CODES = "danbooru"
# Codes danbooru never uses: one of them in a file settles it as e621's.
_ONLY_E621 = frozenset(E621_TYPES) - frozenset(DANBOORU_TYPES)
_HEADER_NAMES = frozenset({"name", "tag", "tag_name"})
# Shipped with the project so autocomplete and category colours work on a fresh
# install: Danbooru's 5,000 most used tags, from a1111-sd-webui-tagcomplete (MIT;
# the licence and the source are beside it).
BUILTIN_VOCABULARY = Path(__file__).resolve().parent / "data/vocabulary/danbooru-top-5000.csv"


@dataclass(frozen=True, slots=True)
class VocabularyRow:
    """One vocabulary entry, raw (names not yet normalized), from `line` of the file."""

    line: int
    name: str
    category: str = TagCategory.GENERAL
    count: int = 0
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VocabularyProblem:
    """A row (or part of one) that was not imported, and why."""

    line: int
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "reason": self.reason}


@dataclass
class VocabularyFile:
    rows: list[VocabularyRow] = field(default_factory=list)
    problems: list[VocabularyProblem] = field(default_factory=list)
    # The type-code scheme the rows were read with, and why: "option", "file" or "default".
    codes: str = DEFAULT_CODES
    codes_from: str = "default"


def read_vocabulary(data: bytes | Iterable[bytes], *, codes: str | None = None) -> VocabularyFile:
    """Parse a whole vocabulary file (bytes, or an iterable of byte lines).

    `codes` names the type-code scheme (a key of TYPE_CODES); None lets the file tell.
    """
    if codes is not None and codes not in TYPE_CODES:
        raise ValueError(f"unknown type codes {codes!r} (expected one of {sorted(TYPE_CODES)})")
    result = VocabularyFile()
    lines = data.splitlines(keepends=True) if isinstance(data, bytes) else data
    records = _records(_decode_lines(lines, result.problems), result.problems)
    if codes is not None:
        result.codes, result.codes_from = codes, "option"
    elif any(_type_field(fields) in _ONLY_E621 for _, fields in records):
        result.codes, result.codes_from = "e621", "file"
    types = TYPE_CODES[result.codes]
    for number, fields in records:
        parsed = parse_row(number, fields, types=types)
        (result.rows if isinstance(parsed, VocabularyRow) else result.problems).append(parsed)
    result.problems.sort(key=lambda problem: problem.line)
    return result


def _records(decoded: Iterator[str], problems: list[VocabularyProblem]) -> list[tuple[int, list]]:
    """(line, fields) of every record that may be a row: no blanks, header or comment."""
    records: list[tuple[int, list]] = []
    reader = csv.reader(decoded)
    for fields in reader:
        number = reader.line_num  # the file's line, even after a quoted multi-line field
        if not fields or not "".join(fields).strip():
            continue
        if len(fields) == 1 and fields[0].lstrip().startswith("#"):
            # A tag row has its type column; "#compass,3,252" is a tag, this is not.
            shown = fields[0].strip()[:40]
            problems.append(VocabularyProblem(number, f"skipped as a comment: {shown!r}"))
            continue
        if not records and _is_header(fields):
            continue
        records.append((number, fields))
    return records


def _type_field(fields: list[str]) -> str:
    return fields[1].strip() if len(fields) > 1 else ""


def parse_row(
    line: int, fields: list[str], *, types: dict[str, str] = DANBOORU_TYPES
) -> VocabularyRow | VocabularyProblem:
    """Turn one CSV record into a row, or say what is wrong with it."""
    name = fields[0].strip()
    if not name:
        return VocabularyProblem(line, "empty tag name")
    type_field = _type_field(fields)
    category = _category(type_field, types)
    if category is None:
        expected = ", ".join(f"{code} {category}" for code, category in types.items())
        return VocabularyProblem(
            line, f"{name!r}: unknown type {type_field!r} (expected {expected})"
        )
    count_field = fields[2].strip() if len(fields) > 2 else ""
    count = _count(count_field)
    if count is None:
        return VocabularyProblem(
            line, f"{name!r}: count {count_field!r} is not a non-negative integer"
        )
    aliases = tuple(a.strip() for a in fields[3].split(",") if a.strip()) if len(fields) > 3 else ()
    return VocabularyRow(line, name, category, count, aliases)


def _decode_lines(lines: Iterable[bytes], problems: list[VocabularyProblem]) -> Iterator[str]:
    """Decode line by line, so one bad byte costs one line (reported), not the file."""
    for number, raw in enumerate(lines, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as error:
            where = f"byte 0x{raw[error.start]:02x} at column {error.start + 1}"
            problems.append(VocabularyProblem(number, f"not UTF-8 text ({where})"))
            # An empty line keeps csv.reader's numbering in step with the file's.
            yield "\n"


def _is_header(fields: list[str]) -> bool:
    first = fields[0].strip().lower()
    return first in _HEADER_NAMES and _category(_type_field(fields), E621_TYPES) is None


def _category(value: str, types: dict[str, str]) -> str | None:
    if value == "":
        return TagCategory.GENERAL
    if value in types:
        return types[value]
    lowered = value.lower()
    return lowered if lowered in TagCategory.values else None


def _count(value: str) -> int | None:
    if value == "":
        return 0
    try:
        count = int(float(value)) if "." in value or "e" in value.lower() else int(value)
    except (ValueError, OverflowError):
        return None
    # PositiveBigIntegerField: keep inside a signed 64-bit column on every backend.
    return count if 0 <= count < 2**63 else None
