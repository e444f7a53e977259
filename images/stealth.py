"""AUTOMATIC1111 "stealth" parameters: the infotext hidden in the pixels' low bits.

The sd-webui-stealth-pnginfo extension writes a PNG's `parameters` text into
the least significant bits of its pixels, column by column (x outer, y
inner): in alpha mode one bit per pixel from the alpha channel, in RGB mode
three (red, green, blue). The bit stream is a 15-byte signature
(`stealth_pnginfo` / `stealth_pngcomp` in alpha, `stealth_rgbinfo` /
`stealth_rgbcomp` in RGB; `comp` means gzip), the payload's length in bits
(32 bits, big-endian) and the payload (UTF-8 text, or gzip of it).

`read_stealth_parameters` reads that from an image Pillow has already decoded.
It is a pure function of the image (no module state, no cache keyed by the
image), so threads may call it at once; it reads only the columns the stream
needs, and refuses payloads (and gzip output) over `max_bytes`.
"""

from __future__ import annotations

import zlib

from PIL import Image

MAX_PARAMETERS_BYTES = 1024 * 1024
_SIGNATURE_BITS = 15 * 8
_HEADER_BITS = _SIGNATURE_BITS + 32
# Each byte of a channel's plane → its lowest bit as the ASCII digit int(…, 2) reads.
_LOW_BIT = bytes(ord("01"[value & 1]) for value in range(256))
_SIGNATURES = {
    "A": {b"stealth_pnginfo": False, b"stealth_pngcomp": True},
    "RGB": {b"stealth_rgbinfo": False, b"stealth_rgbcomp": True},
}


def read_stealth_parameters(
    image: Image.Image, *, max_bytes: int = MAX_PARAMETERS_BYTES
) -> str | None:
    """The stealth infotext hidden in the image's pixels, or None if it holds none.

    Only RGB and RGBA images can carry it (the extension writes no other mode).
    Alpha is tried before RGB, as the extension's reader finds either.
    """
    if image.mode not in ("RGB", "RGBA"):
        return None
    planes = ("A", "RGB") if image.mode == "RGBA" else ("RGB",)
    for plane in planes:
        found = _read_plane(image, plane, max_bytes)
        if found is not None:
            return found
    return None


def _read_plane(image: Image.Image, plane: str, max_bytes: int) -> str | None:
    header = _bits(image, plane, _HEADER_BITS)
    if len(header) < _HEADER_BITS:
        return None
    signature = int(header[:_SIGNATURE_BITS], 2).to_bytes(15, "big")
    compressed = _SIGNATURES[plane].get(signature)
    if compressed is None:
        return None
    length = int(header[_SIGNATURE_BITS:], 2)
    if length == 0 or length % 8 or length // 8 > max_bytes:
        return None
    stream = _bits(image, plane, _HEADER_BITS + length)
    if len(stream) < _HEADER_BITS + length:
        return None  # the image is too small to hold what the header claims
    payload = int(stream[_HEADER_BITS:], 2).to_bytes(length // 8, "big")
    if compressed:
        payload = _gunzip(payload, max_bytes)
        if payload is None:
            return None
    return payload.decode("utf-8", errors="replace")


def _bits(image: Image.Image, plane: str, count: int) -> bytes:
    """The first `count` low bits of the plane, in the extension's order, as b"0"/b"1"."""
    per_pixel = len(plane)
    width, height = image.size
    columns = min(width, -(-count // (per_pixel * height)))  # ceil, at least what is there
    strip = image.crop((0, 0, columns, height)).transpose(Image.Transpose.TRANSPOSE)
    data = strip.getchannel("A").tobytes() if plane == "A" else strip.convert("RGB").tobytes()
    return data[:count].translate(_LOW_BIT)


def _gunzip(data: bytes, max_bytes: int) -> bytes | None:
    """gzip's content, or None if it is not gzip or inflates past max_bytes."""
    inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    try:
        content = inflater.decompress(data, max_bytes + 1)
    except zlib.error:
        return None
    if len(content) > max_bytes or not inflater.eof:
        return None
    return content
