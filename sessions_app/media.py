"""How an image's stored files are presented to a client that may see them."""

from pathlib import PurePath
from typing import Literal

from images.delivery import Delivery
from images.models import Image
from sessions_app.models import SessionImage

MediaKind = Literal["file", "thumbnail", "display"]


def media_delivery(image: Image, *, media: MediaKind, viewer) -> Delivery:
    """The original, thumbnail or display rendition, named as the viewer's session names it,
    never by its hash.

    For "display" the row's rendition must be known (images.services.image_display_ensure).
    """
    files = {"file": image.file, "thumbnail": image.thumbnail, "display": image.display}
    stored = files[media].name
    name = PurePath(_name_for(viewer, image))
    if stored != image.file.name:
        # A thumbnail or rendition may be another format than the original (a JPEG of a PNG).
        name = PurePath(f"{name.stem}-{media}{PurePath(stored).suffix}")
    return Delivery(storage_name=stored, download_name=name.name, stored_at=image.created_at)


def _name_for(viewer, image: Image) -> str:
    # The name in the viewer's own (oldest) session holding it: another session's
    # name for the same bytes is none of their business. Staff see the library's.
    name = (
        SessionImage.objects.filter(image=image, session__members__user=viewer)
        .order_by("session_id")
        .values_list("original_name", flat=True)
        .first()
    )
    return name or image.original_name
