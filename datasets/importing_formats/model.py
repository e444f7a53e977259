"""What every dataset reader produces: images with ordered tags, plus the vocabulary bits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class FormatError(Exception):
    """The dataset as a whole cannot be read (no metadata file, not JSON…); nothing was written."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class DatasetTag:
    """A raw tag name; category, source and confidence only where the format carries them."""

    name: str
    category: str | None = None
    source: str | None = None
    confidence: float | None = None
    # The token exactly as the file wrote it, when `name` is not that (a hydrus
    # line's namespace was taken off): kept as the tag's spelling.
    written: str | None = field(default=None, compare=False)


@dataclass
class DatasetImage:
    """One image of a dataset: where its file is inside the source, and what it carries."""

    file: str
    tags: list[DatasetTag] = field(default_factory=list)
    status: str | None = None
    sha256: str | None = None
    original_name: str | None = None
    # Stored on Image.metadata for a new image (generation data, alternate captions…).
    metadata: dict[str, Any] = field(default_factory=dict)
    # True when the format records tag sources: restore them exactly, no implications added.
    exact: bool = False
    # The written caption, exactly as the dataset holds it ("" when it has none).
    caption: str = ""


@dataclass(frozen=True)
class Problem:
    """Something in the dataset that was not imported as it stands, and where."""

    where: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.where, "reason": self.reason}


@dataclass
class Dataset:
    images: list[DatasetImage] = field(default_factory=list)
    # Session settings (trigger word, separator…) when the format carries them.
    settings: dict[str, Any] = field(default_factory=dict)
    # Tag name → category for tags the format describes (Tagger JSON's vocabulary).
    categories: dict[str, str] = field(default_factory=dict)
    aliases: list[tuple[str, str]] = field(default_factory=list)
    implications: list[tuple[str, str]] = field(default_factory=list)
    # Tag name → popularity and description (Tagger JSON's vocabulary): given to
    # the tags a restore creates.
    popularity: dict[str, int] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    # A backup's tag rules (blacklist, pinned, category_order); None: the format has none.
    rules: dict[str, list[str]] | None = None
    # A backup's members: (user name, role), restored where the user exists.
    members: list[tuple[str, str]] = field(default_factory=list)
    # A backup's subsets, as sessions_app.services.subsets.subsets_dump writes them.
    subsets: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # How the dataset spells its captions (separator, use_underscores,
    # escape_parentheses, caption_style): the session's export style when the
    # import is the session's first (datasets/caption_style.py).
    style: dict[str, Any] = field(default_factory=dict)
