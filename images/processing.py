"""Check, measure and thumbnail one image file: the pure layer under import and upload.

No database and no Django: callers pass the limits from settings. Thread-safe:
the upload API runs it in request threads, the import command in forked
worker processes (images.importing).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import io
import os
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from isal import isal_zlib
from PIL import Image, ImageFile, UnidentifiedImageError

from images import png_pixels, renditions
from images.metadata import prompt_tokens, read_generation_metadata, read_stealth_metadata
from images.sidecars import DEFAULT_EXTENSIONS, CaptionError, SidecarCaption, read_sidecar_caption

_T = TypeVar("_T")


class _Kind(NamedTuple):
    format: str
    extension: str
    content_type: str


# Formats browsers show and trainers read. MPO (a camera JPEG carrying extra
# frames) is stored and served as the JPEG it is.
ACCEPTED_FORMATS: dict[str, _Kind] = {
    "JPEG": _Kind("JPEG", ".jpg", "image/jpeg"),
    "MPO": _Kind("JPEG", ".jpg", "image/jpeg"),
    "PNG": _Kind("PNG", ".png", "image/png"),
    "WEBP": _Kind("WEBP", ".webp", "image/webp"),
    "GIF": _Kind("GIF", ".gif", "image/gif"),
    "BMP": _Kind("BMP", ".bmp", "image/bmp"),
    "AVIF": _Kind("AVIF", ".avif", "image/avif"),
}
THUMBNAIL_FORMATS = {"JPEG": ".jpg", "WEBP": ".webp"}
# reduce() by box averaging while the image stays at least this many times the
# thumbnail, then BICUBIC: 1.0 instead of Pillow's 2.0 halves a 1 MP PNG's
# resize (2.2 -> 1.1 ms); a box average at 1x is still fully anti-aliased.
THUMBNAIL_REDUCING_GAP = 1.0
_THUMBNAIL_QUALITY = 85

# What Pillow raises on malformed data, besides UnidentifiedImageError.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)
_BOMB_ERRORS = (Image.DecompressionBombError, Image.DecompressionBombWarning)
_PILLOW_PIXEL_COUNT = re.compile(r"\((\d+) pixels\)")
_CORRUPT = "truncated or corrupt image data"
# A PNG chunk: length and type, then the data and a CRC of type and data.
# Pillow's check of the type (PngImagePlugin.is_cid) is \w{4} over bytes.
_PNG_CHUNK_HEAD = struct.Struct(">I4s")
_PNG_CHUNK_TYPE = re.compile(rb"[A-Za-z0-9_]{4}")

_ORIENTATION = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Register the accepted formats' plugins now, at import, not lazily in
# whichever thread opens the first WebP or AVIF; the other ~40 plugins
# (~15 ms of every start-up) load only when a file is none of these (_open).
# MPO needs no import here: the JPEG plugin loads it when a file is one.
Image.preinit()  # BMP, GIF, JPEG, PNG (and PPM)
for _plugin in ("WebPImagePlugin", "AvifImagePlugin"):
    importlib.import_module(f"PIL.{_plugin}")


@dataclass(frozen=True)
class Limits:
    """What processing accepts; images.services.image_limits reads them from settings."""

    max_pixels: int
    max_bytes: int
    thumb_size: int = 256
    display_size: int = renditions.DISPLAY_SIZE


class ImageRejected(Exception):
    """The file cannot be imported; ``reason`` is short and safe to show a user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ProcessedImage:
    """An accepted image: its bytes, measurements, thumbnail, display rendition and embedded text.

    width and height are as displayed, after EXIF orientation. Tokens are raw:
    the caller normalizes them. ``display`` is None when the original serves
    as its own display rendition (images.renditions), or when it was not made
    here (``display_deferred``): then the first request for it makes it
    (images.services.image_display_ensure).
    """

    sha256: str
    data: bytes
    format: str
    extension: str
    content_type: str
    width: int
    height: int
    byte_size: int
    thumbnail: bytes
    thumbnail_extension: str
    display: bytes | None = None
    display_extension: str = ""
    display_deferred: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    prompt_tokens: list[str] = field(default_factory=list)
    caption_tokens: list[str] = field(default_factory=list)
    # A caption file written in sentences: the session image's written caption.
    written_caption: str = ""


def process_image_bytes(
    data: bytes,
    *,
    max_pixels: int,
    max_bytes: int,
    thumb_size: int = 256,
    thumb_format: str = "JPEG",
    display_size: int = renditions.DISPLAY_SIZE,
    make_display: bool = True,
) -> ProcessedImage:
    """Check, thumbnail and render an image by its content; raise ImageRejected if unusable.

    With ``make_display`` False an image that needs a display rendition is
    marked ``display_deferred`` instead, and its JPEG decode stops at the
    thumbnail's scale: a 12 MP JPEG decodes at 1/8 (~18 ms) instead of at
    the rendition's 1/4 (~24 ms), and no rendition is encoded or stored.
    """
    if thumb_format not in THUMBNAIL_FORMATS:
        raise ValueError(f"thumb_format must be one of {sorted(THUMBNAIL_FORMATS)}")
    _check_byte_size(len(data), max_bytes)
    _check_pillow_globals(max_pixels)
    with _open_checked(data, max_pixels) as im:
        kind = ACCEPTED_FORMATS[im.format or ""]
        width, height = im.size
        factor = _display_factor(im, display_size)
        deferred = factor is not None and not make_display
        if deferred:
            factor = None
        box = _thumbnail_box(im.size, thumb_size)
        if factor is not None:
            box = renditions.display_box(im.size, factor)
        # The one decode: it is the integrity check (only a decode finds a
        # truncated JPEG) and what the metadata, the display rendition and the
        # thumbnail all read.
        _guard(lambda: _decode(im, box), max_pixels)
        # Read after the decode: PNG text chunks that follow the pixels reach
        # info only then, and PngImageFile.getexif() would decode otherwise.
        exif = _read_exif(im)
        metadata = _read_metadata(im, exif)
        orientation = exif.get(_ORIENTATION, 1)
        source: Image.Image = im
        display = None
        if factor is not None:
            source = _guard(lambda: renditions.display_source(im, box), max_pixels)
            display = _guard(lambda: _display(source, orientation, len(data), factor), max_pixels)
        # Last: thumbnail() shrinks its image in place.
        thumbnail = _guard(lambda: _thumbnail(source, thumb_size), max_pixels)
    thumbnail = _oriented(thumbnail, orientation)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return ProcessedImage(
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        format=kind.format,
        extension=kind.extension,
        content_type=kind.content_type,
        width=width,
        height=height,
        byte_size=len(data),
        thumbnail=_encode(thumbnail, thumb_format),
        thumbnail_extension=THUMBNAIL_FORMATS[thumb_format],
        display=display.data if display else None,
        display_extension=display.extension if display else "",
        display_deferred=deferred,
        metadata=metadata,
        prompt_tokens=prompt_tokens(metadata.get("prompt") or ""),
    )


def process_image_file(
    path: str | Path,
    *,
    max_pixels: int,
    max_bytes: int,
    thumb_size: int = 256,
    thumb_format: str = "JPEG",
    display_size: int = renditions.DISPLAY_SIZE,
    make_display: bool = True,
    sidecar_extensions: tuple[str, ...] = DEFAULT_EXTENSIONS,
) -> ProcessedImage:
    """Process an image file and the caption file beside it.

    A broken caption file rejects the image too, so that fixing it and
    importing again brings in both. Embedded generation metadata wins over
    infotext in the caption file.
    """
    path = Path(path)
    processed = process_image_bytes(
        _read_file(path, max_bytes),
        max_pixels=max_pixels,
        max_bytes=max_bytes,
        thumb_size=thumb_size,
        thumb_format=thumb_format,
        display_size=display_size,
        make_display=make_display,
    )
    try:
        sidecar = read_sidecar_caption(path, sidecar_extensions)
    except CaptionError as error:
        raise ImageRejected(error.reason) from None
    return _with_sidecar(processed, sidecar) if sidecar else processed


def render_display(
    data: bytes, *, max_pixels: int, display_size: int = renditions.DISPLAY_SIZE
) -> renditions.Rendition | None:
    """The display rendition of an accepted original's bytes; None when it is its own.

    For images stored before renditions were made at import: the same checks
    and decode as process_image_bytes, without the thumbnail and metadata.
    """
    _check_pillow_globals(max_pixels)
    with _open_checked(data, max_pixels) as im:
        factor = _display_factor(im, display_size)
        if factor is None:
            return None
        box = renditions.display_box(im.size, factor)
        _guard(lambda: _decode(im, box), max_pixels)
        orientation = _read_exif(im).get(_ORIENTATION, 1)
        source = _guard(lambda: renditions.display_source(im, box), max_pixels)
        return _guard(lambda: _display(source, orientation, len(data), factor), max_pixels)


def _check_byte_size(size: int, max_bytes: int) -> None:
    if size == 0:
        raise ImageRejected("empty file")
    if size > max_bytes:
        raise _too_large(size, max_bytes)


def _too_large(size: int, max_bytes: int) -> ImageRejected:
    return ImageRejected(f"file too large: {size} bytes exceeds the limit of {max_bytes}")


def _check_pillow_globals(max_pixels: int) -> None:
    """Make Pillow's process-wide guards agree with ours.

    Pillow warns above MAX_IMAGE_PIXELS and raises above twice that, before our
    own exact check runs. Only ever raise the value: lowering it per call would
    make every other Pillow user in the process stricter.
    """
    if Image.MAX_IMAGE_PIXELS is None or max_pixels > Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = max_pixels
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Process-wide switch: with it on, truncated files decode as grey and pass.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")


def _open_checked(data: bytes, max_pixels: int) -> ImageFile.ImageFile:
    """Open from the header only, refusing unsupported formats and bombs before any decode."""
    im = _open(data, max_pixels)
    try:
        if im.format not in ACCEPTED_FORMATS:
            raise ImageRejected(f"unsupported image format: {im.format}")
        pixels = im.width * im.height
        if pixels > max_pixels:
            raise ImageRejected(_bomb_reason(max_pixels, pixels))
        if im.format == "PNG":
            # Chunk CRCs catch flipped bits that decode to a plausible image.
            # Opening checked those before the first IDAT; the rest are ours.
            idat = _check_png_crcs(data, im.tile[0].offset - 8 if im.tile else 0)
            needed = png_pixels.raw_length(data[16:29]) if idat else None
            if needed is not None and not getattr(im, "is_animated", False):
                inflated = _inflated_png(data, idat, needed)
                im.close()
                return _open(inflated, max_pixels)
    except BaseException:
        im.close()
        raise
    return im


def _inflated_png(data: bytes, idat: tuple[int, int], needed: int) -> bytes:
    """The same PNG with its pixels inflated by ISA-L, for Pillow to decode in half the time."""
    try:
        return png_pixels.with_inflated_idat(data, idat, needed)
    except png_pixels.CorruptImageData:
        raise ImageRejected(_CORRUPT) from None


def _check_png_crcs(data: bytes, start: int) -> tuple[int, int] | None:
    """Check every chunk's CRC from ``start`` up to IEND, refusing what Image.verify() refuses.

    Image.verify() does the same walk but reads each chunk into a copy and
    leaves the image unusable, so it cost a second open per PNG (~0.7 ms).
    Returns where the IDAT chunks that Pillow decodes lie: [first, after the
    last of the run that starts at ``start``), or None if ``start`` is no IDAT.
    """
    view = memoryview(data)
    position = start
    idat_end = None
    while True:
        if position < 8 or position + 8 > len(data):
            raise ImageRejected(_CORRUPT)
        length, kind = _PNG_CHUNK_HEAD.unpack_from(data, position)
        if not _PNG_CHUNK_TYPE.fullmatch(kind):
            raise ImageRejected(_CORRUPT)
        if kind == b"IEND":  # Pillow stops here too, without checking IEND's own CRC
            return (start, idat_end) if idat_end else None
        end = position + 8 + length
        if end + 4 > len(data):
            raise ImageRejected(_CORRUPT)
        # The CRC covers the type and the data, which lie side by side. ISA-L's
        # crc32 gives zlib's values, ~20x faster (PCLMULQDQ).
        if isal_zlib.crc32(view[position + 4 : end]) != int.from_bytes(view[end : end + 4], "big"):
            raise ImageRejected(_CORRUPT)
        chunk, position = position, end + 4
        if kind == b"IDAT" and chunk == (idat_end or start):
            idat_end = position


def _open(data: bytes, max_pixels: int) -> ImageFile.ImageFile:
    try:
        return _guard(lambda: Image.open(io.BytesIO(data)), max_pixels)
    except UnidentifiedImageError:
        pass
    # None of the accepted formats: load every plugin and look again, so that
    # a TIFF is refused as the unsupported format it is. Image.open() would do
    # this itself, but only if no other thread had loaded them in the meantime.
    Image.init()
    try:
        return _guard(lambda: Image.open(io.BytesIO(data)), max_pixels)
    except UnidentifiedImageError:
        raise ImageRejected("not an image") from None


def _guard(step: Callable[[], _T], max_pixels: int) -> _T:
    """Run a Pillow step, turning its bomb and corruption errors into ImageRejected."""
    try:
        return step()
    except UnidentifiedImageError:
        raise
    except _BOMB_ERRORS as error:
        # Pillow checks first, at open. A DecompressionBombWarning only arrives
        # here when warnings are errors; otherwise our own check refuses the file.
        match = _PILLOW_PIXEL_COUNT.search(str(error))
        pixels = int(match.group(1)) if match else None
        raise ImageRejected(_bomb_reason(max_pixels, pixels)) from None
    except _DECODE_ERRORS as error:
        if "text chunk" in str(error).lower().replace("_", " "):
            # PngImagePlugin caps one inflated text chunk (1 MB) and all of them (64 MB).
            raise ImageRejected("embedded text chunk too large") from None
        raise ImageRejected(_CORRUPT) from None


def _bomb_reason(max_pixels: int, pixels: int | None = None) -> str:
    size = f"{pixels} pixels" if pixels is not None else "the image"
    return f"decompression bomb: {size} exceeds the limit of {max_pixels}"


def _thumbnail_box(size: tuple[int, int], thumb_size: int) -> tuple[int, int]:
    # The thumbnail's own box: with size × size the short side of a 4:3 photo
    # would pick the JPEG scale, and a 1 MP JPEG decode at twice the size needed.
    scale = thumb_size / max(size)
    return (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))


def _decode(im: ImageFile.ImageFile, box: tuple[int, int]) -> None:
    """Decode every pixel, JPEGs at the smallest scale that still covers ``box``.

    A scaled JPEG decode still reads every entropy-coded byte (libjpeg skips
    coefficients, not data), so it finds truncation as a full decode does.
    """
    if im.format in ("JPEG", "MPO"):
        # The JPEG decoder scales by 1/2..1/8 almost for free: decode near the target size.
        im.draft("RGB", box)
    im.load()


def _display_factor(im: ImageFile.ImageFile, display_size: int) -> int | None:
    animated = bool(getattr(im, "is_animated", False))
    return renditions.display_factor(
        im.format or "", im.size, animated=animated, display_size=display_size
    )


def _display(
    source: Image.Image, orientation: int, original_bytes: int, factor: int
) -> renditions.Rendition | None:
    """The encoded rendition, or None where the original, within the display size, is smaller."""
    rendition = renditions.encode_display(_oriented(source, orientation))
    if factor == 1 and len(rendition.data) >= original_bytes:
        return None
    return rendition


def _oriented(im: Image.Image, orientation: int) -> Image.Image:
    return im.transpose(_TRANSPOSE[orientation]) if orientation in _TRANSPOSE else im


def _read_metadata(im: ImageFile.ImageFile, exif: Image.Exif) -> dict[str, Any]:
    """Generation metadata from the text chunks and EXIF of a decoded image.

    ``im`` is decoded (PNGs at full size): a reader of metadata carried in
    the pixels themselves, such as A1111's stealth PNG alpha channel, reads
    it here, before the thumbnail shrinks it, without a decode of its own.
    A PNG with nothing in its chunks is asked for A1111's stealth data, which
    reads the first pixel columns and stops unless they carry its signature.
    """
    metadata = read_generation_metadata(im.info, exif)
    if not metadata and im.format == "PNG":
        metadata = read_stealth_metadata(im)
    return metadata


def _thumbnail(im: Image.Image, size: int) -> Image.Image:
    """An RGB thumbnail of the decoded image (before EXIF orientation)."""
    work = _flatten_palette(im)
    # Pillow's default filter (BICUBIC, after a box reduce()): at 256 px it looks
    # like LANCZOS and resizes ~1.5x faster (0.7 vs 1.0 ms for a drafted 1 MP JPEG).
    work.thumbnail((size, size), reducing_gap=THUMBNAIL_REDUCING_GAP)
    return _to_rgb(work)


def _read_exif(im: Image.Image) -> Image.Exif:
    """Return the image's EXIF; malformed EXIF is common and no reason to refuse a file."""
    try:
        return im.getexif()
    except Exception:
        return Image.Exif()


def _flatten_palette(im: Image.Image) -> Image.Image:
    """Expand palette and bilevel images, which resize() would only sample (NEAREST)."""
    if im.mode in ("P", "PA", "1"):
        has_alpha = im.mode == "PA" or "transparency" in im.info
        return im.convert("RGBA" if has_alpha else "RGB")
    return im


def _to_rgb(im: Image.Image) -> Image.Image:
    """Convert any mode to RGB, composing transparency onto white."""
    if im.mode.startswith("I"):  # 16-bit greyscale PNG: "I;16", or "I" in older Pillow
        # convert() clips 16-bit values to 255; scale them instead.
        im = im.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    if "transparency" in im.info and im.mode in ("L", "RGB"):
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


def _encode(thumbnail: Image.Image, thumb_format: str) -> bytes:
    buffer = io.BytesIO()
    thumbnail.save(buffer, thumb_format, quality=_THUMBNAIL_QUALITY)
    return buffer.getvalue()


def _read_file(path: Path, max_bytes: int) -> bytes:
    """Read at most max_bytes + 1, so a huge file is refused without loading it."""
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size > max_bytes:
                raise _too_large(size, max_bytes)
            # Ask for the size, not the limit: read(n) allocates n bytes up front.
            data = file.read(size + 1)
            if len(data) > size:  # the file grew since fstat: read on, up to the limit
                data += file.read(max_bytes + 1 - len(data))
            return data
    except OSError as error:
        raise ImageRejected(f"cannot read file: {error.strerror or error}") from None


def _with_sidecar(processed: ProcessedImage, sidecar: SidecarCaption) -> ProcessedImage:
    if sidecar.kind == "prose":
        return dataclasses.replace(processed, written_caption=sidecar.text)
    if sidecar.kind == "tags":
        metadata = processed.metadata
        if sidecar.alternates:
            metadata = {**metadata, "alternate_captions": sidecar.alternates}
        return dataclasses.replace(
            processed,
            caption_tokens=sidecar.tags,
            metadata=metadata,
            written_caption=sidecar.text,
        )
    if processed.metadata:
        return processed
    metadata = sidecar.metadata
    tokens = prompt_tokens(metadata.get("prompt") or "")
    return dataclasses.replace(processed, metadata=metadata, prompt_tokens=tokens)
