"""Tests for images.sidecars: caption files beside images."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from images.sidecars import (
    CaptionError,
    parse_caption,
    read_sidecar_caption,
    split_tags_and_sentence,
)


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "cat.final.png"
    path.write_bytes(b"not read here")
    return path


def write_caption(image: Path, data: bytes, extension: str = ".txt") -> None:
    image.with_suffix(extension).write_bytes(data)


@pytest.mark.parametrize(
    ("data", "tags"),
    [
        (b"1girl, cat ears, solo", ["1girl", "cat ears", "solo"]),
        (b"1girl\ncat ears\r\nsolo\n", ["1girl", "cat ears", "solo"]),
        (b" a ,, b ,\n\n c ", ["a", "b", "c"]),
        (codecs.BOM_UTF8 + "猫耳, 少女".encode(), ["猫耳", "少女"]),
        ("猫耳, 少女".encode("utf-16"), ["猫耳", "少女"]),  # Notepad's "Unicode"
        (b"", []),
        (b" \n ", []),
    ],
    ids=["commas", "newlines", "blanks", "utf8-bom", "utf16-bom", "empty", "whitespace"],
)
def test_caption_tags(image: Path, data: bytes, tags: list[str]) -> None:
    write_caption(image, data)
    caption = read_sidecar_caption(image)
    assert caption is not None
    assert (caption.filename, caption.kind, caption.tags, caption.metadata) == (
        "cat.final.txt",
        "tags",
        tags,
        {},
    )


def test_no_caption_file_gives_none(image: Path) -> None:
    assert read_sidecar_caption(image) is None


def test_caption_extension_is_the_fallback(image: Path) -> None:
    write_caption(image, b"from caption", ".caption")
    # A .caption file holds sentences (sd-scripts' and BLIP's extension for them), however short.
    caption = read_sidecar_caption(image)
    assert (caption.kind, caption.text, caption.tags) == ("prose", "from caption", [])
    write_caption(image, b"from txt")
    assert read_sidecar_caption(image).tags == ["from txt"]


def test_extensions_can_be_chosen(image: Path) -> None:
    write_caption(image, b"from txt")
    assert read_sidecar_caption(image, (".caption",)) is None


def test_non_utf8_caption_is_an_error_naming_the_file_only(image: Path) -> None:
    write_caption(image, "café".encode("latin-1"))
    with pytest.raises(CaptionError) as caught:
        read_sidecar_caption(image)
    assert caught.value.reason == "cat.final.txt is not UTF-8 text (byte 0xe9 at offset 3)"
    assert str(image.parent) not in str(caught.value)


def test_oversized_caption_is_an_error(image: Path) -> None:
    write_caption(image, b"a, " * 100)
    with pytest.raises(CaptionError, match="larger than 100 bytes"):
        read_sidecar_caption(image, max_bytes=100)


def test_caption_that_is_a_directory_is_not_a_caption(image: Path) -> None:
    image.with_suffix(".txt").mkdir()
    assert read_sidecar_caption(image) is None


PARAMETERS = "Steps: 15, Sampler: UniPC, CFG scale: 5, Seed: 1"


@pytest.mark.parametrize(
    "text",
    [
        f"photo of a duck\nNegative prompt: monochrome\n{PARAMETERS}",
        f"photo of a duck\n{PARAMETERS}",
        "photo of a duck\nNegative prompt: monochrome",
    ],
)
def test_infotext_caption_is_generation_metadata(image: Path, text: str) -> None:
    write_caption(image, text.encode())
    caption = read_sidecar_caption(image)
    assert (caption.kind, caption.tags) == ("infotext", [])
    assert caption.metadata["prompt"] == "photo of a duck"
    assert caption.metadata["generator"] == "AUTOMATIC1111"


def test_tags_mentioning_steps_are_still_tags(image: Path) -> None:
    write_caption(image, b"stairs, steps, negative prompt:")
    assert read_sidecar_caption(image).kind == "tags"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A tag list, then a sentence: both kept, and what joined them.
        (
            "1girl, solo, long hair. A girl standing in the rain.",
            ("1girl, solo, long hair", ". ", "A girl standing in the rain."),
        ),
        ('cat, no humans.  "Sleepy," she said.', ("cat, no humans", ".  ", '"Sleepy," she said.')),
        # Sentences only: the first piece starts with a capital, or there is one piece.
        ("A girl, smiling. She waves.", None),
        ("a girl stands. She smiles.", None),
        # A piece too long for a tag is a clause.
        ("solo, a girl who is standing in the rain. She smiles.", None),
        # No sentence after the period (lowercase), or no period at all.
        ("1girl, solo. looking at viewer", None),
        ("1girl, solo, long hair", None),
        # kohya's keep_tokens_separator marks a tag list; several lines are not one caption.
        ("ohwx ||| 1girl, solo. A girl.", None),
        ("1girl, solo. A girl.\nsecond line", None),
    ],
)
def test_tags_then_sentence_rule(text, expected) -> None:
    assert split_tags_and_sentence(text) == expected


def test_txt_with_tags_then_sentence_keeps_both() -> None:
    caption = parse_caption(b"1girl, Long_Hair. A girl in the rain.\n", filename="a.txt")
    assert (caption.kind, caption.tags, caption.text, caption.joint) == (
        "tags",
        ["1girl", "Long_Hair"],
        "A girl in the rain.\n",
        ". ",
    )


def test_semicolon_separated_tags() -> None:
    caption = parse_caption(b"ohwx; 1girl; long hair", filename="a.txt", separator=";")
    assert caption.tags == ["ohwx", "1girl", "long hair"]
