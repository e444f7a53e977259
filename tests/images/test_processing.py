"""Tests for images.processing: checks, thumbnails and metadata of real and drawn images."""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFile, PngImagePlugin

from images.processing import (
    ImageRejected,
    ProcessedImage,
    process_image_bytes,
    process_image_file,
)
from tests.support.samples import SAMPLES

GENERATED = SAMPLES / "generation-metadata"
BAD = SAMPLES / "bad-images"

MAX_PIXELS = 100_000_000
MAX_BYTES = 50 * 1024 * 1024

# (file, generator, positive prompt, negative prompt or its start), from samples/README.md.
GENERATION_SAMPLES = [
    ("automatic1111_cropped.png", "AUTOMATIC1111", "photo of a duck", "monochrome"),
    ("automatic1111_cropped.jpg", "AUTOMATIC1111", "photo of a duck", "monochrome"),
    (
        "img2img_cropped.png",
        "ComfyUI",
        "photograph of victorian woman with wings, sky clouds, meadow grass",
        "watermark, text",
    ),
    (
        "novelai1_cropped.png",
        "NovelAI",
        "masterpiece, best quality,  cat, space, icon",
        "lowres, bad anatomy, bad hands",
    ),
    ("fooocus1_cropped.png", "Fooocus", "a smiling goldfish", ""),
]


@pytest.fixture(autouse=True)
def _restore_pillow_globals(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo changes to Pillow's process-wide limit so other tests see the default."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)


def process(data: bytes, **limits: int) -> ProcessedImage:
    return process_image_bytes(
        data,
        max_pixels=limits.get("max_pixels", MAX_PIXELS),
        max_bytes=limits.get("max_bytes", MAX_BYTES),
    )


def rejection(data: bytes, **limits: int) -> str:
    with pytest.raises(ImageRejected) as caught:
        process(data, **limits)
    return caught.value.reason


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, fmt, **params)
    return buffer.getvalue()


def noise(size: tuple[int, int]) -> Image.Image:
    """Draw an image that compresses badly, so truncation cuts real image data."""
    return Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))


def halves(size: tuple[int, int] = (300, 100)) -> Image.Image:
    """Draw a red left half and a blue right half."""
    im = Image.new("RGB", size, (0, 0, 255))
    ImageDraw.Draw(im).rectangle((0, 0, size[0] // 2 - 1, size[1]), fill=(255, 0, 0))
    return im


def thumb_of(processed: ProcessedImage) -> Image.Image:
    im = Image.open(io.BytesIO(processed.thumbnail))
    im.load()
    return im


def close_to(pixel: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


def png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = struct.pack(">I", zlib.crc32(kind + body))
    return struct.pack(">I", len(body)) + kind + body + crc


def png_header(width: int, height: int) -> bytes:
    """Build a PNG whose header claims width × height, with almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0"))
        + png_chunk(b"IEND", b"")
    )


def a1111_exif(comment: bytes) -> Image.Exif:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = comment
    return exif


# --- real generator files -------------------------------------------------------------


def test_every_generation_sample_is_covered() -> None:
    assert {path.name for path in GENERATED.glob("*.*")} == {s[0] for s in GENERATION_SAMPLES}


@pytest.mark.parametrize(("name", "generator", "positive", "negative"), GENERATION_SAMPLES)
def test_generation_samples_give_exact_prompts(
    name: str, generator: str, positive: str, negative: str
) -> None:
    metadata = process_image_file(
        GENERATED / name, max_pixels=MAX_PIXELS, max_bytes=MAX_BYTES
    ).metadata
    assert metadata["generator"] == generator
    assert metadata["prompt"] == positive
    if name.startswith("novelai"):
        assert metadata["negative_prompt"].startswith(negative)
    else:
        assert metadata["negative_prompt"] == negative
    assert json.loads(json.dumps(metadata)) == metadata


@pytest.mark.parametrize("name", ["automatic1111_cropped.png", "automatic1111_cropped.jpg"])
def test_a1111_samples_carry_generation_parameters(name: str) -> None:
    metadata = process((GENERATED / name).read_bytes()).metadata
    assert metadata["steps"] == 15
    assert metadata["sampler"] == "UniPC"
    assert metadata["cfg_scale"] == 5
    assert metadata["seed"] == 235284042
    assert metadata["model"] == "realistic_realisticVisionV20_v20"
    assert metadata["model_hash"] == "c0d1994c73"
    assert metadata["raw"]["extra"]["Size"] == "512x400"


def test_prompt_tokens_come_from_the_positive_prompt() -> None:
    comfy = process((GENERATED / "img2img_cropped.png").read_bytes())
    novelai = process((GENERATED / "novelai1_cropped.png").read_bytes())
    assert comfy.prompt_tokens == [
        "photograph of victorian woman with wings",
        "sky clouds",
        "meadow grass",
    ]
    assert novelai.prompt_tokens == ["masterpiece", "best quality", "cat", "space", "icon"]


def test_seed_too_large_for_javascript_stays_exact_as_text() -> None:
    metadata = process((GENERATED / "fooocus1_cropped.png").read_bytes()).metadata
    assert metadata["seed"] == "6952411511246973023"
    assert metadata["steps"] == 30


def test_empty_file_is_refused() -> None:
    assert rejection((BAD / "empty_file.png").read_bytes()) == "empty file"
    with pytest.raises(ImageRejected, match="empty file"):
        process_image_file(BAD / "empty_file.png", max_pixels=MAX_PIXELS, max_bytes=MAX_BYTES)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("empty_image.jpg", "JPEG"), ("empty_image.png", "PNG"), ("text_after_idat.png", "PNG")],
)
def test_valid_odd_images_are_accepted(name: str, fmt: str) -> None:
    processed = process((BAD / name).read_bytes())
    assert (processed.format, processed.width, processed.height) == (fmt, 1, 1)
    assert thumb_of(processed).size == (1, 1)


def test_text_chunk_after_image_data_is_read() -> None:
    metadata = process((BAD / "text_after_idat.png").read_bytes()).metadata
    assert (metadata["prompt"], metadata["negative_prompt"]) == ("photo of a duck", "monochrome")


def test_images_without_metadata_give_empty_metadata() -> None:
    processed = process((BAD / "empty_image.jpg").read_bytes())
    assert (processed.metadata, processed.prompt_tokens, processed.caption_tokens) == ({}, [], [])


# --- refusals -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data", [os.urandom(4096), b"tags, more tags\n", b"<svg xmlns='http://www.w3.org/2000/svg'/>"]
)
def test_non_images_are_refused(data: bytes) -> None:
    assert rejection(data) == "not an image"


def test_known_but_unsupported_format_is_named() -> None:
    tiff = encode(Image.new("RGB", (8, 8)), "TIFF")
    assert rejection(tiff) == "unsupported image format: TIFF"


def test_file_over_max_bytes_is_refused() -> None:
    data = encode(noise((64, 64)), "PNG")
    assert (
        rejection(data, max_bytes=100)
        == f"file too large: {len(data)} bytes exceeds the limit of 100"
    )


def test_large_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    with path.open("wb") as file:
        file.truncate(10_000_000)  # sparse: nothing to read, only a size
    with pytest.raises(ImageRejected, match="file too large: 10000000 bytes"):
        process_image_file(path, max_pixels=MAX_PIXELS, max_bytes=1_000_000)


def test_missing_file_is_refused_without_its_path(tmp_path: Path) -> None:
    with pytest.raises(ImageRejected) as caught:
        process_image_file(tmp_path / "gone.png", max_pixels=MAX_PIXELS, max_bytes=MAX_BYTES)
    assert caught.value.reason == "cannot read file: No such file or directory"


def test_header_claiming_huge_size_is_refused_before_decode() -> None:
    reason = rejection(png_header(100_000, 100_000))
    assert reason == "decompression bomb: 10000000000 pixels exceeds the limit of 100000000"


def test_real_image_over_max_pixels_is_refused() -> None:
    data = encode(Image.new("1", (3000, 3000)), "PNG")  # a few kilobytes
    assert len(data) < 10_000
    reason = rejection(data, max_pixels=1_000_000)
    assert reason == "decompression bomb: 9000000 pixels exceeds the limit of 1000000"


@pytest.mark.parametrize("action", ["ignore", "error"])
def test_pillow_bomb_warning_becomes_a_refusal(
    monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    # 7,000 pixels sits between Pillow's warning (5,000) and error (10,000) limits.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)
    data = encode(Image.new("L", (100, 70)), "PNG")
    with warnings.catch_warnings():
        warnings.simplefilter(action, Image.DecompressionBombWarning)
        reason = rejection(data, max_pixels=5000)
    assert reason == "decompression bomb: 7000 pixels exceeds the limit of 5000"


def test_pillow_bomb_warning_shown_is_still_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)
    data = encode(Image.new("L", (100, 70)), "PNG")
    with pytest.warns(Image.DecompressionBombWarning):
        reason = rejection(data, max_pixels=5000)
    assert reason == "decompression bomb: 7000 pixels exceeds the limit of 5000"


def test_pillow_bomb_error_is_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)
    reason = rejection(encode(Image.new("L", (200, 100)), "PNG"), max_pixels=5000)
    assert reason == "decompression bomb: 20000 pixels exceeds the limit of 5000"


def test_pillow_limit_is_raised_to_ours_never_lowered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    process(encode(Image.new("L", (10, 10)), "PNG"), max_pixels=2000)
    assert Image.MAX_IMAGE_PIXELS == 2000
    process(encode(Image.new("L", (10, 10)), "PNG"), max_pixels=500)
    assert Image.MAX_IMAGE_PIXELS == 2000


def test_load_truncated_images_must_stay_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        process((BAD / "empty_image.png").read_bytes())


@pytest.mark.parametrize("size", [(512, 512), (200, 100)])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_truncated_image_is_refused(fmt: str, size: tuple[int, int]) -> None:
    data = encode(noise(size), fmt)
    assert rejection(data[: len(data) // 2]) == "truncated or corrupt image data"


def test_png_with_huge_compressed_text_is_refused_with_its_reason() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("workflow", os.urandom(800_000).hex(), zip=True)  # 1.6 MB inflated
    assert rejection(encode(halves(), "PNG", pnginfo=info)) == "embedded text chunk too large"


def test_png_with_corrupt_pixel_data_is_refused() -> None:
    data = bytearray(encode(noise((64, 64)), "PNG"))
    data[len(data) // 2] ^= 0x01  # inside IDAT: decodes fine, the CRC disagrees
    assert rejection(bytes(data)) == "truncated or corrupt image data"


def png_chunk_data(data: bytes, kind: bytes) -> list[tuple[int, int]]:
    """(start, end) of the data of every chunk of this type, in file order."""
    spans, position = [], 8
    while position < len(data):
        length, found = struct.unpack_from(">I4s", data, position)
        if found == kind:
            spans.append((position + 8, position + 8 + length))
        position += 12 + length
    return spans


def split_idat(data: bytes, pieces: int) -> bytes:
    """The same PNG with its image data spread over several IDAT chunks, as large files have."""
    [(start, end)] = png_chunk_data(data, b"IDAT")
    body = data[start:end]
    step = -(-len(body) // pieces)
    idats = b"".join(png_chunk(b"IDAT", body[i : i + step]) for i in range(0, len(body), step))
    return data[: start - 8] + idats + data[end + 4 :]


def test_png_with_a_flipped_bit_anywhere_in_idat_data_is_refused() -> None:
    # A smooth image: many of these flips still inflate to a plausible picture
    # (noise is caught by zlib's own checksum), so only the chunk CRC refuses them.
    data = split_idat(encode(Image.linear_gradient("L").resize((64, 64)), "PNG"), 3)
    idats = png_chunk_data(data, b"IDAT")
    assert len(idats) == 3
    for start, end in idats:
        for index in range(start, end):
            flipped = bytearray(data)
            flipped[index] ^= 1 << index % 8
            assert rejection(bytes(flipped)) == "truncated or corrupt image data", index


def test_png_with_a_flipped_bit_in_text_after_image_data_is_refused() -> None:
    data = bytearray((BAD / "text_after_idat.png").read_bytes())
    start, end = png_chunk_data(bytes(data), b"tEXt")[-1]
    assert start > png_chunk_data(bytes(data), b"IDAT")[-1][1]
    data[end - 1] ^= 0x01  # in the value: still a valid text chunk but for its CRC
    assert rejection(bytes(data)) == "truncated or corrupt image data"


# --- what comes back ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "params", "expected"),
    [
        ("JPEG", {}, ("JPEG", ".jpg", "image/jpeg")),
        ("MPO", {}, ("JPEG", ".jpg", "image/jpeg")),
        ("PNG", {}, ("PNG", ".png", "image/png")),
        ("WEBP", {}, ("WEBP", ".webp", "image/webp")),
        ("GIF", {}, ("GIF", ".gif", "image/gif")),
        ("BMP", {}, ("BMP", ".bmp", "image/bmp")),
    ],
)
def test_format_is_recognized_by_content(fmt: str, params: dict, expected: tuple) -> None:
    data = encode(halves((400, 300)), fmt, **params)
    processed = process(data)
    assert (processed.format, processed.extension, processed.content_type) == expected
    assert (processed.width, processed.height) == (400, 300)
    assert processed.data == data
    assert processed.byte_size == len(data)
    assert processed.sha256 == hashlib.sha256(data).hexdigest()


def test_file_extension_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "really-a-png.jpg"
    path.write_bytes(encode(halves(), "PNG"))
    assert process_image_file(path, max_pixels=MAX_PIXELS, max_bytes=MAX_BYTES).format == "PNG"


def test_thumbnail_is_jpeg_with_longest_side_256_and_same_aspect() -> None:
    processed = process(encode(halves((4000, 3000)), "JPEG"))
    thumb = thumb_of(processed)
    assert (thumb.format, thumb.mode, thumb.size) == ("JPEG", "RGB", (256, 192))
    assert processed.thumbnail_extension == ".jpg"
    assert close_to(thumb.getpixel((10, 96)), (255, 0, 0))
    assert close_to(thumb.getpixel((245, 96)), (0, 0, 255))


def test_thumbnail_can_be_webp() -> None:
    processed = process_image_bytes(
        encode(halves(), "PNG"), max_pixels=MAX_PIXELS, max_bytes=MAX_BYTES, thumb_format="WEBP"
    )
    assert processed.thumbnail_extension == ".webp"
    assert thumb_of(processed).format == "WEBP"


def test_unknown_thumbnail_format_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="thumb_format"):
        process_image_bytes(b"x", max_pixels=1, max_bytes=1, thumb_format="PNG")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    width=st.integers(1, 1500),
    height=st.integers(1, 1500),
    fmt=st.sampled_from(["PNG", "JPEG"]),
)
def test_thumbnail_longest_side_is_256_or_less_keeping_aspect(
    width: int, height: int, fmt: str
) -> None:
    processed = process(encode(Image.new("L", (width, height), 128), fmt))
    thumb_width, thumb_height = thumb_of(processed).size
    longest = max(thumb_width, thumb_height)
    assert longest == min(256, max(width, height))
    scale = longest / max(width, height)
    assert abs(thumb_width - width * scale) <= 1.5
    assert abs(thumb_height - height * scale) <= 1.5


@pytest.mark.parametrize(
    ("orientation", "size", "top", "bottom"),
    [
        (1, (300, 100), (255, 0, 0), (255, 0, 0)),  # left column red, as drawn
        (6, (100, 300), (255, 0, 0), (0, 0, 255)),  # rotate 90° clockwise: left goes on top
        (8, (100, 300), (0, 0, 255), (255, 0, 0)),  # rotate 90° counter-clockwise
        (3, (300, 100), (0, 0, 255), (0, 0, 255)),  # rotate 180°: left column blue
    ],
)
def test_exif_orientation_is_applied(
    orientation: int, size: tuple[int, int], top: tuple, bottom: tuple
) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    processed = process(encode(halves((300, 100)), "JPEG", exif=exif))
    thumb = thumb_of(processed)
    assert (processed.width, processed.height) == size
    assert max(thumb.size) == 256
    assert (thumb.width < thumb.height) == (size[0] < size[1])
    assert close_to(thumb.getpixel((2, 2)), top)
    assert close_to(thumb.getpixel((2, thumb.height - 3)), bottom)


@pytest.mark.parametrize(
    ("im", "fmt", "expected"),
    [
        (Image.new("RGBA", (300, 200), (255, 0, 0, 0)), "PNG", (255, 255, 255)),
        (Image.new("RGBA", (300, 200), (255, 0, 0, 128)), "PNG", (255, 127, 127)),
        (Image.new("LA", (300, 200), (0, 0)), "PNG", (255, 255, 255)),
        (Image.new("1", (300, 200), 0), "PNG", (0, 0, 0)),
        (Image.new("I;16", (300, 200), 40000), "PNG", (156, 156, 156)),
        (Image.new("CMYK", (300, 200), (0, 255, 255, 0)), "JPEG", (255, 0, 0)),
        (Image.new("L", (300, 200), 200), "JPEG", (200, 200, 200)),
        (Image.new("RGBA", (300, 200), (0, 255, 0, 255)), "WEBP", (0, 255, 0)),
    ],
    ids=["rgba-clear", "rgba-half", "la", "bilevel", "16-bit", "cmyk", "grey-jpeg", "webp-alpha"],
)
def test_modes_become_rgb_on_white(im: Image.Image, fmt: str, expected: tuple) -> None:
    thumb = thumb_of(process(encode(im, fmt)))
    assert thumb.mode == "RGB"
    assert max(thumb.size) == 256
    assert close_to(thumb.getpixel((128, 85)), expected)


def test_palette_transparency_becomes_white() -> None:
    im = Image.new("P", (300, 200), 1)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    thumb = thumb_of(process(encode(im, "GIF", transparency=1)))
    assert close_to(thumb.getpixel((128, 85)), (255, 255, 255))


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animation_thumbnail_shows_the_first_frame(fmt: str) -> None:
    frames = [Image.new("RGB", (300, 200), colour) for colour in ("red", "blue", "green")]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100)
    processed = process(data)
    assert (processed.width, processed.height) == (300, 200)
    assert close_to(thumb_of(processed).getpixel((128, 85)), (255, 0, 0))


# --- embedded metadata in drawn files -------------------------------------------------

INFOTEXT = (
    "猫耳, 少女, <lora:catgirl:0.8>\n"
    "Negative prompt: lowres\n"
    "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42"
)


@pytest.mark.parametrize(
    "comment",
    [
        b"UNICODE\0" + INFOTEXT.encode("utf-16-be"),  # piexif, as A1111 writes it
        b"UNICODE\0" + INFOTEXT.encode("utf-16-le"),
        b"ASCII\0\0\0" + INFOTEXT.encode("utf-8"),
        b"\0" * 8 + INFOTEXT.encode("utf-8"),
    ],
    ids=["utf16-be", "utf16-le", "ascii-header", "undefined-header"],
)
@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_exif_user_comment_is_read(comment: bytes, fmt: str) -> None:
    processed = process(encode(halves(), fmt, exif=a1111_exif(comment)))
    assert processed.metadata["prompt"] == "猫耳, 少女, <lora:catgirl:0.8>"
    assert processed.metadata["negative_prompt"] == "lowres"
    assert processed.metadata["seed"] == 42
    assert processed.prompt_tokens == ["猫耳", "少女"]


def test_utf8_written_into_latin1_text_chunk_is_repaired() -> None:
    info = PngImagePlugin.PngInfo()
    info.add(b"tEXt", b"parameters\0" + INFOTEXT.encode("utf-8"))
    metadata = process(encode(halves(), "PNG", pnginfo=info)).metadata
    assert metadata["prompt"] == "猫耳, 少女, <lora:catgirl:0.8>"


def test_international_text_chunk_is_read() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("parameters", INFOTEXT, zip=True)
    metadata = process(encode(halves(), "PNG", pnginfo=info)).metadata
    assert metadata["prompt"] == "猫耳, 少女, <lora:catgirl:0.8>"


@pytest.mark.parametrize(
    "chunks",
    [
        {"parameters": "not infotext at all"},
        {"parameters": "{broken json"},
        {"prompt": "{}", "workflow": "[]"},
        {"prompt": "[1, 2]", "workflow": '{"links": 5}'},
        {"Description": "x", "Comment": "{", "Source": "y", "Software": "NovelAI"},
        {"invokeai_metadata": '{"positive_prompt": 3}'},
        {"invokeai_metadata": "[]"},  # ParserManager raises TypeError here
        {"sd-metadata": '{"image": null}'},  # ParserManager raises AttributeError here
        {"Dream": '"unterminated'},
    ],
)
def test_unparseable_metadata_never_refuses_the_image(chunks: dict[str, str]) -> None:
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    processed = process(encode(halves(), "PNG", pnginfo=info))
    assert processed.metadata == {}
    assert processed.format == "PNG"


@pytest.mark.parametrize("action", ["default", "ignore"])
@pytest.mark.parametrize(
    "exif",
    [b"Exif\0\0garbage-garbage", b"Exif\0\0II*\0\xff\xff\xff\x7f"],
    ids=["no-tiff-header", "offset-past-end"],
)
def test_malformed_exif_never_refuses_the_image(exif: bytes, action: str) -> None:
    data = encode(halves(), "JPEG", exif=exif)
    with warnings.catch_warnings():
        warnings.simplefilter(action)  # Pillow warns "Corrupt EXIF data"
        processed = process(data)
    assert (processed.width, processed.height, processed.metadata) == (300, 100, {})


# --- sidecars through process_image_file ----------------------------------------------


def test_caption_file_gives_caption_tokens(tmp_path: Path) -> None:
    (tmp_path / "cat.png").write_bytes(encode(halves(), "PNG"))
    (tmp_path / "cat.txt").write_text("1girl, cat ears\nsolo,", encoding="utf-8")
    processed = process_image_file(tmp_path / "cat.png", max_pixels=MAX_PIXELS, max_bytes=MAX_BYTES)
    assert processed.caption_tokens == ["1girl", "cat ears", "solo"]
    assert processed.prompt_tokens == []


def test_infotext_caption_file_gives_metadata_when_image_has_none(tmp_path: Path) -> None:
    (tmp_path / "cat.png").write_bytes(encode(halves(), "PNG"))
    (tmp_path / "cat.txt").write_text(INFOTEXT, encoding="utf-8")
    processed = process_image_file(tmp_path / "cat.png", max_pixels=MAX_PIXELS, max_bytes=MAX_BYTES)
    assert processed.metadata["negative_prompt"] == "lowres"
    assert processed.prompt_tokens == ["猫耳", "少女"]
    assert processed.caption_tokens == []


def test_embedded_metadata_wins_over_infotext_caption_file(tmp_path: Path) -> None:
    (tmp_path / "duck.png").write_bytes((GENERATED / "automatic1111_cropped.png").read_bytes())
    (tmp_path / "duck.txt").write_text(INFOTEXT, encoding="utf-8")
    processed = process_image_file(
        tmp_path / "duck.png", max_pixels=MAX_PIXELS, max_bytes=MAX_BYTES
    )
    assert processed.metadata["prompt"] == "photo of a duck"


def test_unreadable_caption_file_refuses_the_pair(tmp_path: Path) -> None:
    (tmp_path / "cat.png").write_bytes(encode(halves(), "PNG"))
    (tmp_path / "cat.txt").write_bytes("café, naïve".encode("latin-1"))
    with pytest.raises(ImageRejected) as caught:
        process_image_file(tmp_path / "cat.png", max_pixels=MAX_PIXELS, max_bytes=MAX_BYTES)
    assert caught.value.reason == "cat.txt is not UTF-8 text (byte 0xe9 at offset 3)"


# --- concurrency ----------------------------------------------------------------------


def test_results_are_the_same_from_many_threads() -> None:
    # Alternate files with and without EXIF metadata: sd-parsers' ParserManager
    # caches the last EXIF comment in a global and would leak it across images.
    files = [p.read_bytes() for p in sorted(GENERATED.glob("*.*"))]
    files += [(BAD / "empty_image.jpg").read_bytes(), encode(noise((800, 600)), "JPEG")]
    work = files * 6
    expected = [process(data) for data in work]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(process, work)) == expected
