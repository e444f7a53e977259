"""Read a tag vocabulary in the a1111-tagcomplete CSV shape: ``name,type,count,"alias1,alias2"``.

The reader is pure (no database): it turns bytes into rows and problems, each
with its line number. `tags.services.vocabulary_import` writes the rows.
Types are danbooru's codes (0 general, 1 artist, 3 copyright, 4 character,
5 meta); category names are accepted too. Tolerated: a UTF-8 BOM, header and
``#`` comment lines, blank lines, missing trailing columns (type → general,
count → 0, no aliases).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from tags.models import TagCategory

DANBOORU_TYPES: dict[str, str] = {
    "0": TagCategory.GENERAL,
    "1": TagCategory.ARTIST,
    "3": TagCategory.COPYRIGHT,
    "4": TagCategory.CHARACTER,
    "5": TagCategory.META,
}
_HEADER_NAMES = frozenset({"name", "tag", "tag_name"})


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


def read_vocabulary(data: bytes | Iterable[bytes]) -> VocabularyFile:
    """Parse a whole vocabulary file (bytes, or an iterable of byte lines)."""
    result = VocabularyFile()
    lines = data.splitlines(keepends=True) if isinstance(data, bytes) else data
    decoded = _decode_lines(lines, result.problems)
    reader = csv.reader(decoded)
    for fields in reader:
        number = reader.line_num  # the file's line, even after a quoted multi-line field
        if not fields or not "".join(fields).strip() or fields[0].lstrip().startswith("#"):
            continue
        if not result.rows and _is_header(fields):
            continue
        parsed = parse_row(number, fields)
        (result.rows if isinstance(parsed, VocabularyRow) else result.problems).append(parsed)
    result.problems.sort(key=lambda problem: problem.line)
    return result


def parse_row(line: int, fields: list[str]) -> VocabularyRow | VocabularyProblem:
    """Turn one CSV record into a row, or say what is wrong with it."""
    name = fields[0].strip()
    if not name:
        return VocabularyProblem(line, "empty tag name")
    type_field = fields[1].strip() if len(fields) > 1 else ""
    category = _category(type_field)
    if category is None:
        return VocabularyProblem(
            line,
            f"{name!r}: unknown type {type_field!r} "
            "(expected 0 general, 1 artist, 3 copyright, 4 character, 5 meta)",
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
    second = fields[1].strip() if len(fields) > 1 else ""
    return first in _HEADER_NAMES and _category(second) is None


def _category(value: str) -> str | None:
    if value == "":
        return TagCategory.GENERAL
    if value in DANBOORU_TYPES:
        return DANBOORU_TYPES[value]
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
