"""How an image's stored files are presented to a client that may see them."""

from pathlib import PurePath

from images.delivery import Delivery
from images.models import Image


def media_delivery(image: Image, *, thumbnail: bool) -> Delivery:
    """The original or the thumbnail, named after the image's original name, never its hash."""
    stored = image.thumbnail.name if thumbnail else image.file.name
    name = PurePath(image.original_name)
    if thumbnail:
        # A thumbnail's format may differ from the original's (a JPEG of a PNG).
        name = PurePath(f"{name.stem}-thumbnail{PurePath(stored).suffix}")
    return Delivery(storage_name=stored, download_name=name.name, stored_at=image.created_at)
