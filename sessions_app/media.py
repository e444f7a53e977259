"""How an image's stored files are presented to a client that may see them."""

from pathlib import PurePath
from typing import Literal

from images.delivery import Delivery
from images.models import Image

MediaKind = Literal["file", "thumbnail", "display"]


def media_delivery(image: Image, *, media: MediaKind) -> Delivery:
    """The original, thumbnail or display rendition, named after the original, never its hash.

    For "display" the row's rendition must be known (images.services.image_display_ensure).
    """
    files = {"file": image.file, "thumbnail": image.thumbnail, "display": image.display}
    stored = files[media].name
    name = PurePath(image.original_name)
    if stored != image.file.name:
        # A thumbnail or rendition may be another format than the original (a JPEG of a PNG).
        name = PurePath(f"{name.stem}-{media}{PurePath(stored).suffix}")
    return Delivery(storage_name=stored, download_name=name.name, stored_at=image.created_at)
