"""Images for tests, drawn in memory with Pillow."""

import hashlib
import io

from PIL import Image as PILImage

from images.models import Image


def png_bytes(color=(200, 100, 50), size=(64, 48), text: dict[str, str] | None = None) -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    PILImage.new("RGB", size, color).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def jpeg_bytes(color=(200, 100, 50), size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, color).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def photo(size: tuple[int, int], mode: str = "RGB") -> PILImage.Image:
    """Smooth colour with grain: compresses like a photo (a flat fill would not)."""
    base = PILImage.linear_gradient("L").resize(size).convert("RGB")
    grain = PILImage.effect_noise(size, 30).convert("RGB")
    return PILImage.blend(base, grain, 0.3).convert(mode)


def encoded(im: PILImage.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, fmt, **options)
    return buffer.getvalue()


def make_image(color=(200, 100, 50), name="image.png", size=(64, 48)) -> Image:
    """An Image row for tests that only need tags on images (no stored file)."""
    data = png_bytes(color, size) + name.encode()
    return Image.objects.create(
        sha256=hashlib.sha256(data).hexdigest(),
        file=f"originals/test/{name}",
        thumbnail=f"thumbnails/test/{name}",
        original_name=name,
        width=size[0],
        height=size[1],
        format="PNG",
        byte_size=len(data),
    )
