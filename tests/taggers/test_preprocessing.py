"""Our preprocessing against the plain numpy reference, pixel for pixel."""

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from taggers.preprocessing import prepare_batch, prepare_image
from tests.taggers.reference_preprocessing import reference_prepare

RNG = np.random.default_rng(2024)


def noise(mode: str, size: tuple[int, int], rng=RNG) -> Image.Image:
    width, height = size
    channels = {"RGB": 3, "RGBA": 4, "L": 1, "LA": 2}[mode]
    pixels = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
    return Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode)


def rgba_with_edges(size: tuple[int, int]) -> Image.Image:
    """Noise whose alpha covers 0 and 255 as well as every value between."""
    image = noise("RGBA", size)
    pixels = np.asarray(image).copy()
    pixels[0, :, 3] = 0
    pixels[-1, :, 3] = 255
    return Image.fromarray(pixels, "RGBA")


def palette(size: tuple[int, int], transparency=None) -> Image.Image:
    image = noise("RGB", size).quantize(colors=64)
    if transparency is not None:
        image.info["transparency"] = transparency
    return image


def through_png(image: Image.Image) -> Image.Image:
    """Saved and reopened, so the mode and tRNS are what a real file gives."""
    buffer = io.BytesIO()
    extra = {"transparency": image.info["transparency"]} if "transparency" in image.info else {}
    image.save(buffer, "PNG", **extra)
    buffer.seek(0)
    reopened = Image.open(buffer)
    reopened.load()
    return reopened


CASES = {
    "rgb square downscale": lambda: noise("RGB", (96, 96)),
    "rgba wide": lambda: rgba_with_edges((120, 45)),
    "rgba tall": lambda: rgba_with_edges((33, 101)),
    "palette": lambda: through_png(palette((70, 50))),
    "palette, one transparent index": lambda: through_png(palette((50, 70), transparency=3)),
    "palette, alpha per index": lambda: through_png(
        palette((61, 40), transparency=bytes(range(0, 256, 4)))
    ),
    "grayscale tall": lambda: noise("L", (20, 77)),
    "grayscale + alpha wide": lambda: noise("LA", (90, 31)),
    "rgb upscale, odd padding": lambda: noise("RGB", (13, 8)),
    "already the input size": lambda: noise("RGB", (48, 48)),
}


@pytest.mark.parametrize("case", CASES)
def test_matches_the_numpy_reference_pixel_for_pixel(case):
    image = CASES[case]()
    if "palette" in case:
        assert image.mode == "P"
        assert ("transparency" in image.info) == ("transparen" in case or "alpha" in case)
    ours = prepare_image(image, 48)
    reference = reference_prepare(image, 48)
    assert ours.shape == (48, 48, 3) and ours.dtype == np.float32
    assert np.array_equal(ours, reference), f"{np.abs(ours - reference).max()} off"


def test_grayscale_colour_key_becomes_white():
    image = noise("L", (30, 30))
    image.info["transparency"] = int(np.asarray(image)[0, 0])
    ours = prepare_image(image, 30)
    assert np.array_equal(ours, reference_prepare(image, 30))
    assert (ours[0, 0] == 255).all()


def test_transparent_pixels_become_white_and_channels_are_bgr():
    pixels = np.zeros((4, 4, 4), dtype=np.uint8)
    pixels[..., 0] = 255  # red…
    pixels[..., 3] = 255
    pixels[0, 0, 3] = 0  # …except one transparent corner
    ours = prepare_image(Image.fromarray(pixels, "RGBA"), 4)
    assert ours[0, 0].tolist() == [255, 255, 255]
    assert ours[1, 1].tolist() == [0, 0, 255]  # BGR: red is the last channel


def test_padding_is_white_and_centred():
    ours = prepare_image(Image.new("RGB", (2, 6), (0, 0, 0)), 6)
    assert (ours[:, :2] == 255).all() and (ours[:, 4:] == 255).all()
    assert (ours[:, 2:4] == 0).all()


def test_batch_stacks_images_in_order():
    images = [noise("RGB", (20, 30)), noise("RGBA", (31, 12))]
    batch = prepare_batch(images, 24)
    assert batch.shape == (2, 24, 24, 3) and batch.flags["C_CONTIGUOUS"]
    assert np.array_equal(batch[1], reference_prepare(images[1], 24))


@settings(max_examples=25, deadline=None)
@given(
    width=st.integers(1, 80),
    height=st.integers(1, 80),
    size=st.integers(8, 64),
    mode=st.sampled_from(["RGB", "RGBA", "L", "LA"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_size_and_mode_matches_the_reference(width, height, size, mode, seed):
    image = noise(mode, (width, height), np.random.default_rng(seed))
    assert np.array_equal(prepare_image(image, size), reference_prepare(image, size))
