"""Write A1111 stealth PNGs the way sd-webui-stealth-pnginfo's add_data does, for tests."""

from __future__ import annotations

import gzip
import io

from PIL import Image


def stealth_bits(text: str, *, mode: str, compressed: bool) -> str:
    """prepare_data: signature, the payload's length in bits (32 bits), the payload."""
    signature = f"stealth_{'png' if mode == 'alpha' else 'rgb'}{'comp' if compressed else 'info'}"
    payload = gzip.compress(text.encode()) if compressed else text.encode()
    bits = "".join(format(byte, "08b") for byte in payload)
    return (
        "".join(format(byte, "08b") for byte in signature.encode())
        + format(len(bits), "032b")
        + bits
    )


def write_stealth(
    image: Image.Image, text: str, *, mode: str = "alpha", compressed: bool = True
) -> Image.Image:
    """add_data: the bits into the low bits, column by column (x outer, y inner)."""
    data = stealth_bits(text, mode=mode, compressed=compressed)
    image = image.convert("RGBA" if mode == "alpha" else "RGB")
    if mode == "alpha":
        image.putalpha(255)
    pixels = image.load()
    index = 0
    width, height = image.size
    for x in range(width):
        for y in range(height):
            if index >= len(data):
                return image
            values = list(pixels[x, y])
            channels = [3] if mode == "alpha" else [0, 1, 2]
            for channel in channels:
                if index < len(data):
                    values[channel] = (values[channel] & ~1) | int(data[index])
                    index += 1
            pixels[x, y] = tuple(values)
    return image


def stealth_png(text: str, *, size=(64, 64), **options) -> bytes:
    """A PNG file whose pixels carry `text`, saved without any text chunk."""
    base = Image.new("RGB", size, (120, 80, 200))
    out = io.BytesIO()
    write_stealth(base, text, **options).save(out, "PNG")
    return out.getvalue()
