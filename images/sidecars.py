"""Caption sidecar files: ``name.txt`` beside ``name.png``, as trainers read them."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from images.metadata import parse_infotext, split_tags

DEFAULT_EXTENSIONS = (".txt", ".caption")
# Captions are a few hundred bytes; anything far larger is not a caption.
DEFAULT_MAX_BYTES = 1024 * 1024

# AUTOMATIC1111 "Save text information about generation parameters as chunks
# to png files" off writes its infotext to name.txt instead.
_INFOTEXT_LINE = re.compile(r"^(?:Negative prompt:|Steps: )", re.MULTILINE)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class CaptionError(Exception):
    """A caption file exists but cannot be read; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SidecarCaption:
    """What the caption file beside an image holds.

    ``kind`` is "tags" for a trainer caption (``tags`` holds them, raw),
    "prose" for a caption written in sentences (``text`` holds it exactly, as
    SDXL, Flux and SD3 datasets are captioned), or "infotext" for
    AUTOMATIC1111 generation parameters (``metadata`` holds them, shaped like
    images.metadata.read_generation_metadata's result).
    """

    filename: str
    kind: Literal["tags", "prose", "infotext"]
    tags: list[str] = field(default_factory=list)
    text: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    # Further caption lines, kept verbatim: kohya reads only the first line.
    alternates: list[str] = field(default_factory=list)
    # A "tags" caption whose tag list a sentence follows (`a, b. A sentence.`):
    # `text` holds the sentence, `joint` what stood between them (". ").
    joint: str = ""


def read_sidecar_caption(
    image_path: str | Path,
    extensions: tuple[str, ...] = DEFAULT_EXTENSIONS,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> SidecarCaption | None:
    """Read the first ``name<ext>`` beside ``image_path``; None when there is none.

    Raises CaptionError (reason names the file, never its directory) when the
    file is unreadable, too large or not UTF-8.
    """
    for extension in extensions:
        path = Path(image_path).with_suffix(extension)
        if path.is_file():
            return parse_caption(_read(path, max_bytes), filename=path.name)
    return None


def parse_caption(
    data: bytes, *, filename: str = "caption", separator: str = ","
) -> SidecarCaption:
    """Parse caption file content: trainer tags, a written caption, or AUTOMATIC1111 infotext.

    A `.caption` file is a written caption whatever it looks like (sd-scripts'
    and BLIP's extension for sentences). In a `.txt`, a tag list followed by a
    sentence (see split_tags_and_sentence) keeps both. `separator` is the mark
    between tags when it is not a comma (`;`).
    """
    text = _decode(data, filename)
    if looks_like_infotext(text):
        return SidecarCaption(filename, "infotext", metadata=parse_infotext(text))
    if filename.lower().endswith(".caption"):
        return SidecarCaption(filename, "prose", text=text)
    if separator != ",":
        text = text.replace(separator, ",")
    both = split_tags_and_sentence(text)
    if both is not None:
        tags_text, joint, sentence = both
        return SidecarCaption(
            filename, "tags", tags=split_tags(tags_text), text=sentence, joint=joint
        )
    if looks_like_prose(text):
        return SidecarCaption(filename, "prose", text=text)
    first, alternates = split_alternate_captions(text)
    # kohya's keep_tokens_separator ("head ||| rest") separates tags too.
    tags = split_tags(first.replace("|||", ","))
    return SidecarCaption(filename, "tags", tags=tags, alternates=alternates)


# Where a sentence starts after a tag list: a period, white space, a capital or a quote.
_SENTENCE_START = re.compile(r"\.([ \t]+)(?=[\"'A-Z])")


def split_tags_and_sentence(text: str) -> tuple[str, str, str] | None:
    """(tag list, joint, sentence) of a caption holding both (`1girl, solo. A girl.`), else None.

    The rule: at the first period followed by a space and a capital letter (or
    a quote), the text before it is a tag list when it has two comma-separated
    pieces or more, each shorter than PROSE_WORDS words, and its first piece
    does not start with a capital (a sentence does: "A girl, smiling. She
    waves." stays one written caption). Only a single line is read this way.
    """
    if "\n" in text.strip() or "|||" in text:
        return None
    match = _SENTENCE_START.search(text)
    if match is None:
        return None
    head = text[: match.start()]
    pieces = [piece.strip() for piece in head.split(",")]
    if (
        len(pieces) < 2
        or not all(pieces)
        or any(len(piece.split()) >= PROSE_WORDS for piece in pieces)
        or pieces[0][:1].isupper()
    ):
        return None
    return head, "." + match.group(1), text[match.end() :]


def split_alternate_captions(text: str) -> tuple[str, list[str]]:
    """Return (the caption, alternate captions) of a caption file.

    Commas and newlines both separate tags, so a line is only a caption of its
    own when every line is a comma-separated caption (two tags or more) and
    none ends with a comma (a tag list wrapped over lines). kohya trains on the
    first line; the others are kept rather than dropped.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    separate = len(lines) > 1 and all(
        len(split_tags(line)) > 1 and not line.endswith(",") for line in lines
    )
    return (lines[0], lines[1:]) if separate else (text, [])


# A tag is a few words ("looking at viewer", "hand on own hip"); a piece between
# commas this long is a clause of a sentence.
PROSE_WORDS = 6
_SENTENCE_END = re.compile(r"[.!?…][\"')\]]*\s*$")


def looks_like_prose(text: str) -> bool:
    """Whether a caption is written in sentences rather than as a tag list.

    It ends a sentence ("... in the rain.") or one of its comma-separated
    pieces is longer than any tag. A tag list that happens to end with a
    period is rare; kohya's `|||` marks a tag list.
    """
    stripped = text.strip()
    if not stripped or "|||" in stripped:
        return False
    if _SENTENCE_END.search(stripped):
        return True
    return any(len(piece.split()) >= PROSE_WORDS for piece in re.split(r"[,\n]", stripped))


def looks_like_infotext(text: str) -> bool:
    """Tell AUTOMATIC1111 infotext from a tag list by its ``Negative prompt:``/``Steps:`` line."""
    return _INFOTEXT_LINE.search(text) is not None


def _read(path: Path, max_bytes: int) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(max_bytes + 1)
    except OSError as error:
        raise CaptionError(f"cannot read {path.name}: {error.strerror}") from None
    if len(data) > max_bytes:
        raise CaptionError(f"{path.name} is larger than {max_bytes} bytes")
    return data


def _decode(data: bytes, filename: str) -> str:
    """Decode UTF-8, tolerating the BOM that Windows editors write (and UTF-16 with one)."""
    codec, label = ("utf-16", "UTF-16") if data.startswith(_UTF16_BOMS) else ("utf-8-sig", "UTF-8")
    try:
        return data.decode(codec)
    except UnicodeDecodeError as error:
        where = f"byte 0x{data[error.start]:02x} at offset {error.start}"
        raise CaptionError(f"{filename} is not {label} text ({where})") from None
