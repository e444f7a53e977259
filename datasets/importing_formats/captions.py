"""Caption text as trainers write it, turned into ordered raw tags."""

from __future__ import annotations

from pathlib import PurePosixPath

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

    The first extension found wins. Extra caption lines are kept as alternate
    captions, an AUTOMATIC1111 infotext is generation metadata, a file that is
    not UTF-8 holds its image back (reported), an empty one is reported.
    """
    dataset = Dataset()
    present = set(source.names())
    for name in sorted(present):
        path = PurePosixPath(name)
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        image = DatasetImage(file=name)
        sidecar = next(
            (
                str(path.with_suffix(ext))
                for ext in extensions
                if str(path.with_suffix(ext)) in present
            ),
            None,
        )
        if sidecar is not None:
            try:
                caption = parse_caption(
                    source.read(sidecar, max_bytes=DEFAULT_MAX_BYTES),
                    filename=PurePosixPath(sidecar).name,
                )
            except (CaptionError, OSError) as error:
                reason = getattr(error, "reason", None) or str(error)
                dataset.problems.append(Problem(sidecar, f"{reason}; image not imported"))
                continue
            if caption.kind == "infotext":
                image.metadata = caption.metadata
            elif caption.kind == "prose":
                image.caption = caption.text
            elif not caption.tags:
                dataset.problems.append(
                    Problem(sidecar, "empty caption: the image is imported without tags")
                )
            image.tags = [DatasetTag(tag) for tag in caption.tags]
            if caption.alternates:
                image.metadata["alternate_captions"] = caption.alternates
        dataset.images.append(image)
    return dataset
