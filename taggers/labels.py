"""selected_tags.csv: the labels of a WD14-family tagger's outputs, in output order.

The file is `tag_id,name,category,count`, one row per output column. Only the
three categories the reference tagger reads are accepted: an unknown one means
a model this code would misread, so it is refused rather than guessed at.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from taggers.errors import BadTaggerModel

RATING = 9
GENERAL = 0
CHARACTER = 4
CATEGORY_NAMES = {RATING: "rating", GENERAL: "general", CHARACTER: "character"}
HEADER = ["tag_id", "name", "category", "count"]


@dataclass(frozen=True)
class Labels:
    names: tuple[str, ...]
    # One category code per output column, so selection masks with numpy.
    categories: np.ndarray

    def __len__(self) -> int:
        return len(self.names)

    def indexes(self, category: int) -> np.ndarray:
        return np.flatnonzero(self.categories == category)

    def counts(self) -> dict[str, int]:
        return {name: int((self.categories == code).sum()) for code, name in CATEGORY_NAMES.items()}


def read_labels(path: Path) -> Labels:
    """Read and check a selected_tags.csv; raise BadTaggerModel naming the first bad line."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise BadTaggerModel(f"{path.name} is missing") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BadTaggerModel(f"{path.name} is not a readable UTF-8 CSV: {exc}") from None
    if not rows or [cell.strip() for cell in rows[0]] != HEADER:
        raise BadTaggerModel(f"{path.name}: the first line must be {','.join(HEADER)}")
    names: list[str] = []
    categories: list[int] = []
    for line, row in enumerate(rows[1:], start=2):
        name, category = _parse_row(path.name, line, row)
        names.append(name)
        categories.append(category)
    if not names:
        raise BadTaggerModel(f"{path.name} has no tags")
    return Labels(names=tuple(names), categories=np.array(categories, dtype=np.int8))


def _parse_row(file_name: str, line: int, row: list[str]) -> tuple[str, int]:
    if len(row) != len(HEADER):
        raise BadTaggerModel(f"{file_name} line {line}: expected 4 fields, found {len(row)}")
    tag_id, name, category, count = row
    if not name.strip():
        raise BadTaggerModel(f"{file_name} line {line}: the tag name is empty")
    try:
        int(tag_id), int(count)
        code = int(category)
    except ValueError:
        raise BadTaggerModel(
            f"{file_name} line {line}: tag_id, category and count must be integers"
        ) from None
    if code not in CATEGORY_NAMES:
        known = ", ".join(f"{c} {n}" for c, n in CATEGORY_NAMES.items())
        raise BadTaggerModel(f"{file_name} line {line}: unknown category {code} (known: {known})")
    return name, code
