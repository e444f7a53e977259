"""How an image's stored files are presented to a client that may see them."""

from pathlib import PurePath

from images.delivery import Delivery
from images.models import Image
from sessions_app.models import SessionImage


def media_delivery(image: Image, *, thumbnail: bool, viewer) -> Delivery:
    """The original or the thumbnail, named as the viewer's session names it, never by its hash."""
    stored = image.thumbnail.name if thumbnail else image.file.name
    name = PurePath(_name_for(viewer, image))
    if thumbnail:
        # A thumbnail's format may differ from the original's (a JPEG of a PNG).
        name = PurePath(f"{name.stem}-thumbnail{PurePath(stored).suffix}")
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
