"""The display rendition that the panel shows: made in the import's one decode, never larger."""

from __future__ import annotations

import io

import pytest
from PIL import Image, PngImagePlugin

from images.processing import ImageRejected, ProcessedImage, process_image_bytes, render_display
from images.renditions import DISPLAY_SIZE, display_factor
from tests.support.images import encoded, photo

LIMITS = {"max_pixels": 100_000_000, "max_bytes": 64 * 1024 * 1024}


@pytest.fixture(autouse=True)
def _restore_pillow_globals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)


def process(data: bytes) -> ProcessedImage:
    return process_image_bytes(data, **LIMITS)


def opened(data: bytes | None) -> Image.Image:
    assert data is not None
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def test_a_camera_jpeg_shows_at_a_quarter_from_its_scaled_decode():
    data = encoded(photo((4000, 3000)), "JPEG", quality=90)
    processed = process(data)
    display = opened(processed.display)
    assert (display.format, display.size) == ("JPEG", (1000, 750))
    assert processed.display_extension == ".jpg"
    assert len(processed.display or b"") < len(data) / 10
    assert max(opened(processed.thumbnail).size) == 256
    assert (processed.width, processed.height) == (4000, 3000)


def test_a_png_within_the_display_size_becomes_a_jpeg_of_the_same_size():
    data = encoded(photo((832, 1216)), "PNG")
    display = opened(process(data).display)
    assert (display.format, display.size) == ("JPEG", (832, 1216))
    assert len(process(data).display or b"") < len(data) / 3


def test_a_large_png_is_halved_until_it_fits():
    display = opened(process(encoded(photo((3000, 2000)), "PNG")).display)
    assert display.size == (1500, 1000)
    assert max(display.size) <= DISPLAY_SIZE


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_compact_originals_within_the_display_size_are_their_own(fmt):
    processed = process(encoded(photo((1152, 864)), fmt))
    assert processed.display is None and processed.display_extension == ""


def test_transparency_is_kept_as_webp_with_alpha():
    im = photo((900, 600), "RGBA")
    im.putalpha(Image.linear_gradient("L").resize((900, 600)))
    display = opened(process(encoded(im, "PNG")).display)
    assert display.format == "WEBP" and display.mode == "RGBA"
    assert display.getchannel("A").getextrema()[0] < 50


def test_an_opaque_rgba_png_is_a_jpeg():
    display = opened(process(encoded(photo((900, 600), "RGBA"), "PNG")).display)
    assert display.format == "JPEG"


def test_a_palette_png_with_transparency_keeps_it():
    im = photo((2000, 1000)).quantize(64)
    im.info["transparency"] = 0
    display = opened(process(encoded(im, "PNG", transparency=0)).display)
    assert display.format == "WEBP" and display.size == (1000, 500)


def test_sixteen_bit_greyscale_is_scaled_not_clipped():
    im = Image.linear_gradient("L").resize((2048, 2048)).point(lambda v: v * 257, "I")
    display = opened(process(encoded(im.convert("I;16"), "PNG")).display)
    assert display.mode == "L" and display.size == (1024, 1024)
    assert display.getextrema()[1] > 200


def test_a_small_flat_png_is_its_own_rendition_when_jpeg_is_not_smaller():
    data = encoded(Image.new("RGB", (300, 200), (10, 20, 30)), "PNG")
    assert process(data).display is None


def test_exif_orientation_is_applied_to_the_rendition():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = encoded(photo((4000, 3000)), "JPEG", exif=exif)
    processed = process(data)
    assert (processed.width, processed.height) == (3000, 4000)
    assert opened(processed.display).size == (750, 1000)


def test_animations_are_their_own_rendition():
    frames = [photo((2000, 1500)).convert("P") for _ in range(2)]
    for fmt in ("GIF", "PNG"):
        data = encoded(frames[0], fmt, save_all=True, append_images=frames[1:])
        assert process(data).display is None, fmt


def test_the_lazy_path_renders_what_the_import_does():
    for data in (
        encoded(photo((4000, 3000)), "JPEG", quality=90),
        encoded(photo((1200, 900)), "PNG"),
        encoded(photo((1152, 864)), "JPEG"),
    ):
        made = render_display(data, **{"max_pixels": LIMITS["max_pixels"]})
        processed = process(data)
        assert (made.data if made else None) == processed.display
        assert (made.extension if made else "") == processed.display_extension


def test_the_display_factor_is_a_power_of_two():
    assert display_factor("PNG", (1536, 100), animated=False) == 1
    assert display_factor("PNG", (1537, 100), animated=False) == 2
    assert display_factor("JPEG", (12_289, 100), animated=False) == 16
    assert display_factor("JPEG", (1536, 1536), animated=False) is None
    assert display_factor("JPEG", (1537, 1536), animated=False) == 2


def test_the_metadata_survives_beside_the_rendition():
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "red scarf, smile\nSteps: 20, Sampler: Euler a, Seed: 7")
    processed = process(encoded(photo((1024, 1024)), "PNG", pnginfo=info))
    assert processed.display is not None
    assert processed.prompt_tokens == ["red scarf", "smile"]


def test_without_make_display_a_needed_rendition_is_deferred_not_made():
    camera = encoded(photo((4000, 3000)), "JPEG", quality=90)
    deferred = process_image_bytes(camera, **LIMITS, make_display=False)
    assert deferred.display is None and deferred.display_deferred
    # The same thumbnail size and the same checks, from a decode at 1/8 instead of 1/4.
    assert opened(deferred.thumbnail).size == opened(process(camera).thumbnail).size == (256, 192)
    small = encoded(photo((800, 600)), "JPEG")
    assert not process_image_bytes(small, **LIMITS, make_display=False).display_deferred
    with pytest.raises(ImageRejected):
        process_image_bytes(camera[: len(camera) // 2], **LIMITS, make_display=False)
