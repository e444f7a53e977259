"""The WD14 preprocessing steps written again in plain numpy, to check ours pixel for pixel.

It reads the decoded pixels in the image's own mode and redoes every step by
hand with the integer arithmetic Pillow's C code uses (AlphaComposite.c's
7-bit blend, Resample.c's separable bicubic with a = -0.5 and 22-bit fixed
point coefficients, horizontal pass first), so an exact match means the
module feeds the model what the reference tagger feeds it.
"""

import numpy as np
from PIL import Image

COMPOSITE_BITS = 7
RESAMPLE_BITS = 22


def rgba_pixels(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, 3) uint8 colours and (H, W) alpha, or None when the image has no transparency."""
    pixels = np.asarray(image)
    transparency = image.info.get("transparency")
    if image.mode == "RGB":
        return pixels, None  # the reference ignores an RGB colour key
    if image.mode == "RGBA":
        return pixels[..., :3], pixels[..., 3]
    if image.mode == "L":
        alpha = None if transparency is None else np.where(pixels == transparency, 0, 255)
        return np.repeat(pixels[..., None], 3, axis=2), alpha
    if image.mode == "LA":
        return np.repeat(pixels[..., :1], 3, axis=2), pixels[..., 1]
    if image.mode == "P":
        palette = np.array(image.getpalette("RGB"), dtype=np.uint8).reshape(-1, 3)
        colours = palette[pixels]
        if transparency is None:
            return colours, None
        table = np.full(256, 255, dtype=np.int64)
        if isinstance(transparency, int):
            table[transparency] = 0
        else:
            table[: len(transparency)] = np.frombuffer(transparency, dtype=np.uint8)
        return colours, table[pixels]
    raise AssertionError(f"no reference for mode {image.mode}")


def composite_on_white(colours: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    if alpha is None:
        return colours.astype(np.int64)
    src = colours.astype(np.int64)
    a = alpha.astype(np.int64)[..., None]
    # AlphaComposite.c with an opaque white destination.
    out_a255 = a * 255 + 255 * (255 - a)
    coef1 = a * 255 * 255 * (1 << COMPOSITE_BITS) // out_a255
    coef2 = 255 * (1 << COMPOSITE_BITS) - coef1
    mixed = src * coef1 + 255 * coef2 + (0x80 << COMPOSITE_BITS)
    blended = (((mixed >> 8) + mixed) >> 8) >> COMPOSITE_BITS
    return np.where(a == 0, 255, blended)


def pad_to_square(pixels: np.ndarray) -> np.ndarray:
    height, width = pixels.shape[:2]
    side = max(height, width)
    square = np.full((side, side, 3), 255, dtype=np.int64)
    top, left = (side - height) // 2, (side - width) // 2
    square[top : top + height, left : left + width] = pixels
    return square


def _cubic(x: float) -> float:
    a = -0.5
    x = abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    if x < 2.0:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


def _coefficients(in_size: int, out_size: int) -> list[tuple[int, np.ndarray]]:
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 2.0 * filterscale
    result = []
    for out in range(out_size):
        center = (out + 0.5) * scale
        low = max(int(center - support + 0.5), 0)
        high = min(int(center + support + 0.5), in_size)
        weights = [_cubic((x + low - center + 0.5) / filterscale) for x in range(high - low)]
        total = 0.0
        for weight in weights:
            total += weight
        if total != 0.0:
            weights = [weight / total for weight in weights]
        fixed = [
            int(-0.5 + w * (1 << RESAMPLE_BITS)) if w < 0 else int(0.5 + w * (1 << RESAMPLE_BITS))
            for w in weights
        ]
        result.append((low, np.array(fixed, dtype=np.int64)))
    return result


def _resample_axis(pixels: np.ndarray, out_size: int, axis: int) -> np.ndarray:
    moved = np.moveaxis(pixels, axis, 0)
    out = np.empty((out_size, *moved.shape[1:]), dtype=np.int64)
    for index, (low, fixed) in enumerate(_coefficients(moved.shape[0], out_size)):
        window = moved[low : low + len(fixed)]
        total = np.tensordot(fixed, window, axes=(0, 0)) + (1 << (RESAMPLE_BITS - 1))
        out[index] = np.clip(total >> RESAMPLE_BITS, 0, 255)
    return np.moveaxis(out, 0, axis)


def bicubic_resize(square: np.ndarray, size: int) -> np.ndarray:
    if square.shape[0] == size:
        return square
    return _resample_axis(_resample_axis(square, size, axis=1), size, axis=0)


def reference_prepare(image: Image.Image, size: int) -> np.ndarray:
    colours, alpha = rgba_pixels(image)
    square = pad_to_square(composite_on_white(colours, alpha))
    resized = bicubic_resize(square, size)
    return resized.astype(np.float32)[:, :, ::-1]
