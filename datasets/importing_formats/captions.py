"""Caption text as trainers write it, turned into ordered raw tags."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any

from datasets.caption_style import CaptionStyle, most_common
from datasets.importing_formats.model import Dataset, DatasetImage, DatasetTag, Problem
from datasets.importing_formats.source import DatasetSource
from images.metadata import split_tags
from images.sidecars import DEFAULT_MAX_BYTES, CaptionError, parse_caption
from tags.normalize import InvalidTagName, normalize_tag_name

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".gif", ".bmp", ".avif"}
)
# kohya's keep_tokens_separator: "head ||| rest" keeps the head in place.
KEEP_TOKENS_SEPARATOR = "|||"


def caption_tags(text: str) -> list[str]:
    """Split a caption on commas and newlines (and kohya's `|||`) into raw tags."""
    return split_tags(text.replace(KEEP_TOKENS_SEPARATOR, ","))


def drop_trigger_word(tokens: list[str], trigger_word: str) -> list[str]:
    """Caption tokens without a leading trigger word.

    The trigger word is a session setting that export puts first; it is not a
    tag, so a caption that starts with the session's trigger word loses it.
    """
    if trigger_word and tokens and _same_name(tokens[0], trigger_word):
        return tokens[1:]
    return tokens


def drop_trigger_prefix(text: str, trigger_word: str, separator: str) -> str:
    """A written caption without the trigger word export put in front of it ("ohwx, A …")."""
    trigger = trigger_word.strip()
    if not trigger:
        return text
    for lead in (trigger + separator, trigger + separator.strip() + " ", trigger + " "):
        if text.startswith(lead):
            return text[len(lead) :]
    return text


def _same_name(token: str, trigger_word: str) -> bool:
    """Compare as tag names: export may have spelled the trigger with underscores or escapes."""
    try:
        return normalize_tag_name(token) == normalize_tag_name(trigger_word)
    except InvalidTagName:
        return token.strip() == trigger_word.strip()


def read_caption_folder(source: DatasetSource, extensions: tuple[str, ...]) -> Dataset:
    """Images with `name.txt` / `name.caption` beside them (kohya captions, as import_images reads).

    The first extension found holds the image's caption; when a `.txt` and a
    `.caption` both stand beside it, the `.txt` gives the tags and the
    `.caption` the written caption (sd-scripts' two extensions). Extra caption
    lines are kept as alternate captions, an AUTOMATIC1111 infotext is
    generation metadata, a file that is not UTF-8 holds its image back
    (reported), an empty one is reported. `Dataset.style` says how the files
    are spelled (caption_layout, spelling_style).
    """
    dataset = Dataset()
    present = set(source.names())
    layouts: list[CaptionLayout] = []
    tokens: list[str] = []
    for name in sorted(present):
        path = PurePosixPath(name)
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        image = DatasetImage(file=name)
        found = [
            str(path.with_suffix(ext))
            for ext in extensions
            if str(path.with_suffix(ext)) in present
        ]
        try:
            for sidecar in found[:1] if not _tags_and_text(found) else found:
                layout = _read_sidecar(source, sidecar, image, dataset)
                layouts.append(layout)
        except (CaptionError, OSError) as error:
            reason = getattr(error, "reason", None) or str(error)
            dataset.problems.append(Problem(sidecar, f"{reason}; image not imported"))
            continue
        tokens += [tag.name for tag in image.tags]
        dataset.images.append(image)
    dataset.style = folder_style(layouts, tokens)
    return dataset


def _tags_and_text(found: list[str]) -> bool:
    return [PurePosixPath(name).suffix.lower() for name in found] in (
        [".txt", ".caption"],
        [".caption", ".txt"],
    )


def _read_sidecar(
    source: DatasetSource, sidecar: str, image: DatasetImage, dataset: Dataset
) -> CaptionLayout:
    data = source.read(sidecar, max_bytes=DEFAULT_MAX_BYTES)
    layout = caption_layout(data.decode("utf-8", errors="replace"), PurePosixPath(sidecar).suffix)
    caption = parse_caption(
        data, filename=PurePosixPath(sidecar).name, separator=layout.separator.strip() or ","
    )
    if caption.kind == "infotext":
        image.metadata = caption.metadata
    elif caption.kind == "prose" or caption.text:
        # The file's last line break is the file's style, not the caption's.
        image.caption = _without_ending(caption.text)
        layout = replace(layout, joint=caption.joint, both=bool(caption.tags))
    elif not caption.tags:
        dataset.problems.append(
            Problem(sidecar, "empty caption: the image is imported without tags")
        )
    if caption.tags:
        image.tags = [DatasetTag(tag) for tag in caption.tags]
    if caption.alternates:
        image.metadata["alternate_captions"] = caption.alternates
    layout = replace(layout, holds="text" if caption.kind == "prose" else "tags")
    return layout


@dataclass(frozen=True)
class CaptionLayout:
    """How one caption file is laid out around its tokens."""

    extension: str
    separator: str = ""  # "" when the file has one token or none
    trailing: str = ""
    ending: str = ""
    holds: str = "tags"  # or "text": a written caption alone
    joint: str = ""
    both: bool = False  # tags and a sentence in this one file


_SEPARATORS = re.compile(r"[,;][ \t]*")
_TRAILING = re.compile(r"[,;][ \t]*$")


def caption_layout(text: str, extension: str) -> CaptionLayout:
    """Separator, trailing separator and final line break of a caption file's text."""
    text = text.removeprefix("\ufeff")
    ending = "\r\n" if text.endswith("\r\n") else "\n" if text.endswith("\n") else ""
    body = text[: len(text) - len(ending)] if ending else text
    trailing_match = _TRAILING.search(body)
    trailing = trailing_match.group() if trailing_match else ""
    body = body[: len(body) - len(trailing)] if trailing else body
    # A ";" separates only where no comma does.
    marks = _SEPARATORS.findall(body)
    if "," in body:
        marks = [mark for mark in marks if mark.startswith(",")]
    separator = Counter(marks).most_common(1)[0][0] if marks else ""
    return CaptionLayout(extension.lower(), separator, trailing, ending)


def folder_style(layouts: list[CaptionLayout], tokens: list[str]) -> dict[str, Any]:
    """The session style most of the folder's files agree on (see datasets/caption_style.py)."""
    if not layouts:
        return {}
    tag_files = [layout for layout in layouts if layout.holds == "tags"] or layouts
    style = CaptionStyle(
        format="kohya",
        extension=most_common((layout.extension for layout in tag_files), ".txt"),
        trailing=most_common((layout.trailing for layout in tag_files), ""),
        ending=most_common((layout.ending for layout in layouts), ""),
        joint=most_common((layout.joint for layout in layouts if layout.both), ""),
        caption_source=_caption_source(layouts),
    )
    settings: dict[str, Any] = {"caption_style": style.as_stored()}
    separator = most_common((layout.separator for layout in tag_files if layout.separator), "")
    if separator:
        settings["separator"] = separator
    return settings | spelling_style(tokens)


def _caption_source(layouts: list[CaptionLayout]) -> str:
    if any(layout.both for layout in layouts):
        return "both"
    if any(layout.holds == "text" for layout in layouts) and any(
        layout.holds == "tags" and layout.extension == ".txt" for layout in layouts
    ):
        extensions = {layout.extension for layout in layouts if layout.holds == "text"}
        return "files" if extensions == {".caption"} else "auto"
    return "auto"


def spelling_style(tokens: list[str]) -> dict[str, bool]:
    """use_underscores and escape_parentheses, as most tokens that show either are written."""
    words = [token for token in tokens if " " in token.strip() or "_" in token.strip("_")]
    parens = [token for token in tokens if "(" in token or ")" in token]
    style: dict[str, bool] = {}
    if words:
        underscored = sum("_" in token and " " not in token.strip() for token in words)
        style["use_underscores"] = underscored * 2 > len(words)
    if parens:
        escaped = sum("\\(" in token or "\\)" in token for token in parens)
        style["escape_parentheses"] = escaped * 2 > len(parens)
    return style


def _without_ending(text: str) -> str:
    for ending in ("\r\n", "\n"):
        if text.endswith(ending):
            return text[: -len(ending)]
    return text
