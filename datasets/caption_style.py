"""How a dataset writes its captions, recorded at import so that export writes the same way.

Two levels, because a dataset is mostly consistent and only here and there not:

- the session's style: `separator`, `use_underscores`, `escape_parentheses`
  (TaggingSession fields, which a person can change) and the rest in
  `TaggingSession.caption_style` (`CaptionStyle` below): the format it came
  in, the caption file extension, what follows the last tag (an editor's
  trailing ", "), a final newline, the joint between a tag list and the
  sentence after it, what a caption file holds, kohya-json's layout;
- each tag row's `spelling` (SessionImageTag.spelling): the token exactly as
  the file wrote it, kept only where it differs from the session's spelling
  of the tag's canonical name (`Smile` in a lowercase dataset). A tag a person
  adds later has none, so it is spelled the session's way.

Tag identity never depends on either: tags are still normalized and aliases
resolved. A spelling is used on the way out only by a writer of the family it
was read in (caption files and kohya-json share one; hydrus lines are
another), and only while it still names the row's tag (a merge moves rows to
another tag: the old spelling is then ignored).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

# Writers whose tokens are spelled alike (a caption file's token is a kohya-json `tags` token).
FAMILIES = {"kohya": "caption", "kohya-json": "caption", "hydrus": "hydrus"}


@dataclass(frozen=True)
class CaptionStyle:
    """The part of a session's export style that is not a field of its own."""

    # The dataset format the spellings were read in ("" when none were).
    format: str = ""
    # kohya: the caption file's extension, and the one the dataset config names.
    extension: str = ".txt"
    # After the last tag of a tag caption (BooruDatasetTagManager can end with ", ").
    trailing: str = ""
    # What ends the file: "", "\n" or "\r\n".
    ending: str = ""
    # Between the tag list and the sentence when one file holds both ("" means the separator).
    joint: str = ""
    # What a caption file holds by default (datasets/exporting/base.py CAPTION_SOURCES).
    caption_source: str = "auto"
    # kohya-json, as json.dumps writes it: indent (None: Tagger's one record a line),
    # ASCII escapes, the record's key order.
    json_indent: int | None = None
    json_ascii: bool = False
    json_order: tuple[str, ...] = ("tags", "caption")

    @classmethod
    def of(cls, stored: dict[str, Any] | None) -> CaptionStyle:
        """The style a session stored (unknown keys ignored, so old rows still read)."""
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in (stored or {}).items() if key in known}
        if "json_order" in values:
            values["json_order"] = tuple(values["json_order"])
        return cls(**values)

    def as_stored(self) -> dict[str, Any]:
        stored = asdict(self)
        stored["json_order"] = list(self.json_order)
        return stored

    def family(self) -> str:
        return FAMILIES.get(self.format, "")


def family_of(fmt: str) -> str:
    return FAMILIES.get(fmt, "")


def most_common(values: Iterable[Any], default: Any) -> Any:
    """The value most files agree on; ties go to the first seen."""
    counts = Counter(values)
    return counts.most_common(1)[0][0] if counts else default


def spell_name(name: str, *, use_underscores: bool, escape_parentheses: bool) -> str:
    """A canonical tag name spelled for a caption file: underscores, escaped parentheses."""
    if use_underscores:
        name = name.replace(" ", "_")
    if escape_parentheses:
        name = name.replace("(", r"\(").replace(")", r"\)")
    return name
