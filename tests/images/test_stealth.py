"""images.stealth: A1111 stealth parameters, written here the way the extension writes them."""

from __future__ import annotations

import gzip
import io
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from images.metadata import read_stealth_metadata
from images.processing import process_image_bytes
from images.stealth import read_stealth_parameters
from tests.support.stealth import stealth_bits, stealth_png, write_stealth

INFOTEXT = (
    "(masterpiece:1.2), 1girl, pokemon \\(creature\\)\nNegative prompt: lowres\n"
    "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 64x64, Model: anything-v3"
)


def reopened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("mode", ["alpha", "rgb"])
@pytest.mark.parametrize("compressed", [True, False], ids=["comp", "info"])
def test_reads_what_the_extension_writes(mode: str, compressed: bool) -> None:
    image = reopened(stealth_png(INFOTEXT, mode=mode, compressed=compressed))
    assert image.info.get("parameters") is None  # nothing in the chunks
    assert read_stealth_parameters(image) == INFOTEXT


def test_stealth_metadata_gives_the_prompt_and_parameters() -> None:
    metadata = read_stealth_metadata(reopened(stealth_png(INFOTEXT)))
    assert metadata["prompt"] == "(masterpiece:1.2), 1girl, pokemon \\(creature\\)"
    assert metadata["negative_prompt"] == "lowres"
    assert (metadata["steps"], metadata["seed"], metadata["model"]) == (20, 1234, "anything-v3")


def test_an_image_too_narrow_for_one_column_reads_across_columns() -> None:
    """The stream runs down column 0, then column 1…: a 3-pixel-tall image spans many."""
    image = reopened(stealth_png("cat, dog", size=(400, 3), mode="alpha", compressed=False))
    assert read_stealth_parameters(image) == "cat, dog"


def test_images_without_stealth_data_give_none() -> None:
    plain = Image.new("RGBA", (64, 64), (10, 20, 30, 255))
    assert read_stealth_parameters(plain) is None
    assert read_stealth_parameters(Image.new("L", (64, 64))) is None
    assert read_stealth_parameters(Image.new("RGB", (2, 2))) is None  # too small for a header
    assert read_stealth_metadata(plain) == {}


def test_a_length_beyond_the_limit_or_the_image_is_refused() -> None:
    image = reopened(stealth_png("x" * 2000, size=(200, 200), compressed=False))
    assert read_stealth_parameters(image, max_bytes=1999) is None
    assert read_stealth_parameters(image, max_bytes=2000) == "x" * 2000
    # A header claiming more bits than the image has pixels.
    lying = stealth_bits("cat", mode="alpha", compressed=False)[:120] + format(10**8, "032b")
    image = Image.new("RGBA", (16, 16), (0, 0, 0, 254))
    pixels = image.load()
    for index, bit in enumerate(lying):
        x, y = divmod(index, 16)
        pixels[x, y] = (0, 0, 0, 254 | int(bit))
    assert read_stealth_parameters(image) is None


def test_a_gzip_bomb_is_refused() -> None:
    bomb = gzip.compress(b"a" * 5_000_000)
    image = Image.new("RGB", (300, 300))
    # Write the compressed signature with the bomb as the payload, bit by bit.
    signature = "".join(format(byte, "08b") for byte in b"stealth_pngcomp")
    payload = "".join(format(byte, "08b") for byte in bomb)
    bits = signature + format(len(payload), "032b") + payload
    image = image.convert("RGBA")
    pixels = image.load()
    for index, bit in enumerate(bits):
        x, y = divmod(index, 300)
        pixels[x, y] = (0, 0, 0, 254 | int(bit))
    assert read_stealth_parameters(image, max_bytes=1_000_000) is None
    assert read_stealth_parameters(image, max_bytes=5_000_000) == "a" * 5_000_000


def test_threads_each_read_their_own_image() -> None:
    """No state is shared: sd-parsers' reader cached the last image by id() and mixed them up."""
    texts = [f"prompt number {n}, tag {n}" for n in range(16)]
    images = [
        reopened(stealth_png(text, size=(48, 48), mode="rgb" if n % 2 else "alpha"))
        for n, text in enumerate(texts)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(read_stealth_parameters, images * 8))
    assert found == texts * 8


def test_writer_matches_the_extensions_bit_layout() -> None:
    """Column-major: bit 1 of the stream sits at (0, 1), not (1, 0)."""
    image = write_stealth(Image.new("RGB", (32, 32)), "a", mode="alpha", compressed=False)
    bits = stealth_bits("a", mode="alpha", compressed=False)
    assert image.getpixel((0, 1))[3] & 1 == int(bits[1])
    assert [image.getpixel((0, y))[3] & 1 for y in range(32)] == [int(b) for b in bits[:32]]


def test_an_imported_stealth_png_brings_its_prompt_and_tags() -> None:
    """The import's one decode hands the pixels to the stealth reader (chunks gave nothing)."""
    processed = process_image_bytes(stealth_png(INFOTEXT), max_pixels=10**8, max_bytes=10**8)
    assert processed.metadata["prompt"] == "(masterpiece:1.2), 1girl, pokemon \\(creature\\)"
    assert processed.metadata["seed"] == 1234
    assert processed.prompt_tokens == ["masterpiece", "1girl", "pokemon \\(creature\\)"]
