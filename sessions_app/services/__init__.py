"""Every change to sessions and the tags on images goes through these functions."""

from sessions_app.services.batch import BatchResult, batch_apply
from sessions_app.services.curation import tag_merge, tag_recategorize, tag_rename
from sessions_app.services.importing import (
    ImportOutcome,
    session_import_bytes,
    session_import_processed,
)
from sessions_app.services.sessions import (
    session_create,
    session_delete,
    session_image_set_status,
    session_images_add,
    session_member_add,
    session_member_remove,
    session_update,
)
from sessions_app.services.tagging import (
    TagListState,
    image_tag_state,
    tags_add,
    tags_remove,
    tags_set,
)
from sessions_app.services.written_caption import WrittenCaption, caption_set

__all__ = [
    "BatchResult",
    "ImportOutcome",
    "TagListState",
    "WrittenCaption",
    "batch_apply",
    "caption_set",
    "image_tag_state",
    "session_create",
    "session_delete",
    "session_image_set_status",
    "session_images_add",
    "session_import_bytes",
    "session_import_processed",
    "session_member_add",
    "session_member_remove",
    "session_update",
    "tag_merge",
    "tag_recategorize",
    "tag_rename",
    "tags_add",
    "tags_remove",
    "tags_set",
]
