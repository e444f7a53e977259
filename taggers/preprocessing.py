"""Images into a WD14 tagger's input, exactly as SmilingWolf's reference tagger does it.

The steps of the wd-tagger space (and wdv3-timm's `pil_ensure_rgb`,
`pil_pad_square`): composite any transparency onto white, pad to a square on
white with the image centred (odd padding goes right and bottom), resize with
Pillow's bicubic filter to the model's input size when it differs, then
float32 in 0–255 with the channels flipped from RGB to BGR, NHWC.

One deliberate superset of the reference: it converts LA and PA images to RGB
without their alpha (so their transparent pixels keep whatever colour they
hide); here every mode that carries alpha is composited onto white, as the
reference does for RGBA and for palettes with a transparency entry.
"""

import numpy as np
from PIL import Image

WHITE = (255, 255, 255)


def flatten_on_white(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited onto white."""
    if image.mode == "RGB":
        # As the reference: an RGB colour key (PNG tRNS) is not transparency to it.
        return image
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*WHITE, 255))
        canvas.alpha_composite(rgba)
        return canvas.convert("RGB")
    return image.convert("RGB")


def pad_square(image: Image.Image) -> Image.Image:
    """The image centred on a white square as wide as its longer side."""
    width, height = image.size
    side = max(width, height)
    if width == height:
        return image
    canvas = Image.new("RGB", (side, side), WHITE)
    canvas.paste(image, ((side - width) // 2, (side - height) // 2))
    return canvas


def prepare_image(image: Image.Image, size: int) -> np.ndarray:
    """One image as the model's (size, size, 3) float32 BGR input."""
    square = pad_square(flatten_on_white(image))
    if square.size != (size, size):
        square = square.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(square, dtype=np.float32)[:, :, ::-1]


def prepare_batch(images: list[Image.Image], size: int) -> np.ndarray:
    """Images stacked into one contiguous NHWC batch."""
    batch = np.empty((len(images), size, size, 3), dtype=np.float32)
    for row, image in enumerate(images):
        batch[row] = prepare_image(image, size)
    return batch
