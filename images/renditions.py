"""The display rendition: what the workspace panel shows instead of the original.

Pure Pillow, no Django. An original is halved (a power of two, so JPEGs get
it from their DCT-scaled decode for free and other formats from a box
average) until its longest side is at most the display size: a 4000×3000
photo shows at 1000×750, a 2048² PNG at 1024², an 832×1216 PNG as it is.
Opaque results are JPEG, ones with real transparency WebP with alpha.

A JPEG, WebP or AVIF already within the display size, a GIF (it may move),
and any animated file serve as their own rendition: re-encoding them saves
little or loses the animation.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

# The panel is ~350 px wide and the large preview fits a screen: 1536 covers a
# full-HD window at fit; the preview's 1:1 loads the original.
DISPLAY_SIZE = 1536
# Formats that browsers show compactly: within the display size, their own rendition.
_COMPACT_FORMATS = frozenset({"JPEG", "MPO", "WEBP", "AVIF"})
_KEEP_FORMATS = frozenset({"GIF"})
_JPEG_QUALITY = 85
_WEBP_QUALITY = 85
_ALPHA_MODES = ("RGBA", "LA", "RGBa", "La", "PA")


@dataclass(frozen=True, slots=True)
class Rendition:
    data: bytes
    extension: str


def display_factor(
    image_format: str, size: tuple[int, int], *, animated: bool, display_size: int = DISPLAY_SIZE
) -> int | None:
    """By how much to shrink the original for display (1, 2, 4…), or None: it is its own."""
    longest = max(size)
    if animated or image_format in _KEEP_FORMATS:
        return None
    if image_format in _COMPACT_FORMATS and longest <= display_size:
        return None
    factor = 1
    while longest > display_size * factor:
        factor *= 2
    return factor


def display_box(size: tuple[int, int], factor: int) -> tuple[int, int]:
    """The rendition's size: the original divided by `factor`, rounded up (as reduce() does)."""
    return (-(-size[0] // factor), -(-size[1] // factor))


def display_source(im: Image.Image, box: tuple[int, int]) -> Image.Image:
    """The decoded image brought down to `box` by a box average (JPEGs arrive there drafted)."""
    if im.mode in ("P", "PA", "1"):
        has_alpha = im.mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
    elif im.mode.startswith("I") or im.mode == "F":
        # 16-bit greyscale: reduce() refuses it, and convert() would clip; scale to 8 bits.
        im = im.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    if im.size == box:
        return im
    factor = max(1, round(im.width / box[0]))
    return im.reduce(factor) if factor > 1 else im


def encode_display(im: Image.Image) -> Rendition:
    """JPEG when every pixel is opaque, else WebP keeping the alpha."""
    if im.mode in ("L", "RGB") and "transparency" in im.info:
        im = im.convert("RGBA")
    buffer = io.BytesIO()
    if im.mode in _ALPHA_MODES and _has_transparency(im):
        # method 0: ~6x faster than the default 4 for a few per cent more bytes.
        im.convert("RGBA").save(buffer, "WEBP", quality=_WEBP_QUALITY, method=0)
        return Rendition(buffer.getvalue(), ".webp")
    opaque = im if im.mode in ("L", "RGB") else im.convert("RGB")  # no copy when it is one
    opaque.save(buffer, "JPEG", quality=_JPEG_QUALITY)
    return Rendition(buffer.getvalue(), ".jpg")


def _has_transparency(im: Image.Image) -> bool:
    low, _high = im.getchannel(im.getbands()[-1]).getextrema()
    return low < 255
