"""Request and response shapes of the session, image and curation endpoints."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from sessions_app.services.written_caption import MAX_CAPTION_LENGTH
from tagger_project.schemas import Id, In, Name, Out, TagName, Text, exactly_one

TagNames = Annotated[list[TagName], Field(max_length=200)]
Separator = Annotated[str, StringConstraints(min_length=1, max_length=8, pattern=r"^[^\x00]*$")]
RoleName = Literal["owner", "editor", "viewer"]
StatusName = Literal["todo", "tagged", "reviewed", "skipped"]


class SessionIn(In):
    name: Name
    description: Text = ""
    trigger_word: Annotated[Text, Field(max_length=200)] = ""
    separator: Separator = ", "
    use_underscores: bool = False
    escape_parentheses: bool = False


class SessionPatch(In):
    name: Name | None = None
    description: Text | None = None
    trigger_word: Annotated[Text, Field(max_length=200)] | None = None
    separator: Separator | None = None
    use_underscores: bool | None = None
    escape_parentheses: bool | None = None


class SessionOut(Out):
    id: int
    name: str
    description: str
    owner: str
    role: str
    trigger_word: str
    separator: str
    use_underscores: bool
    escape_parentheses: bool
    last_seq: int
    created_at: datetime


class SessionPage(Out):
    items: list[SessionOut]
    next_cursor: str | None


class MemberIn(In):
    username: Name
    role: RoleName


class MemberOut(Out):
    username: str
    role: str


class MemberList(Out):
    items: list[MemberOut]
    next_cursor: str | None = None


class ProgressOut(Out):
    total: int
    todo: int
    tagged: int
    reviewed: int
    skipped: int


class ImageTagOut(Out):
    name: str
    category: str
    source: str


class ImageListItem(Out):
    """An image in a list: everything but its metadata (see GET /api/images/{id})."""

    id: int
    width: int
    height: int
    status: str | None
    version: int
    tags: list[ImageTagOut]
    original_name: str
    format: str
    byte_size: int
    position: int | None = None
    file_url: str
    thumbnail_url: str


class ImageOut(ImageListItem):
    """One image, with the generator metadata read from its file and its written caption."""

    metadata: dict[str, Any]
    caption: str
    caption_version: int
    # Its subset (kohya repeat folder) in this session; null: none.
    subset_id: int | None = None


class ImagePage(Out):
    items: list[ImageListItem]
    next_cursor: str | None


class UploadResult(Out):
    name: str
    status: Literal["imported", "duplicate", "skipped"]
    image_id: int | None
    reason: str


class UploadOut(Out):
    items: list[UploadResult]
    imported: int
    duplicates: int
    skipped: int


class TagsEditIn(In):
    add: TagNames = []
    remove: TagNames = []


class TagsSetIn(In):
    tags: TagNames
    version: Annotated[int, Field(ge=0, le=2**31)]


class TagStateOut(Out):
    image_id: int
    version: int
    tags: list[ImageTagOut]
    seq: int | None = None


class CaptionSetIn(In):
    """The whole written caption, exactly as it should read, and the version it was based on."""

    caption: Annotated[str, Field(max_length=MAX_CAPTION_LENGTH)]
    version: Annotated[int, Field(ge=0, le=2**31)]


class CaptionOut(Out):
    image_id: int
    caption: str
    caption_version: int
    seq: int | None = None


class StatusIn(In):
    status: StatusName


class StatusOut(Out):
    image_id: int
    status: str
    seq: int


class Selection(In):
    model_config = ConfigDict(json_schema_extra=exactly_one(image_ids="array", q="string"))

    image_ids: Annotated[list[Id], Field(max_length=100_000)] | None = None
    q: Annotated[Text, Field(max_length=2000)] | None = None

    @model_validator(mode="after")
    def one_of(self) -> "Selection":
        if (self.image_ids is None) == (self.q is None):
            raise ValueError("give exactly one of image_ids or q")
        return self


class Replace(In):
    model_config = ConfigDict(
        json_schema_extra={
            "description": "Also refused, with 400 `invalid`: `from` and `to` naming one tag"
            " (the same name once normalized, or an alias of the other).",
            "x-refused-with": ["invalid"],
        }
    )

    from_: TagName = Field(alias="from")
    to: TagName


class BatchIn(In):
    selection: Selection
    add: TagNames = []
    remove: TagNames = []
    replace: Replace | None = None
    # Put the added tags first on the images that lack them (the others keep theirs in place).
    add_front: bool = False
    # Order each image's tags by name, leaving the first `keep_first` where they are.
    sort: bool = False
    keep_first: Annotated[int, Field(ge=0, le=1000)] = 0
    # Remove every tag first (with `add`: set the list).
    clear: bool = False


class BatchOut(Out):
    changed: int
    selected: int
    seq: int | None


class SessionTagOut(Out):
    name: str
    category: str
    count: int


class SessionTagList(Out):
    items: list[SessionTagOut]
    next_cursor: str | None = None


class EventOut(Out):
    type: str
    seq: int
    kind: str
    actor: str | None
    payload: dict[str, Any]
    at: str


class EventPage(Out):
    items: list[EventOut]
    next_cursor: str | None
    last_seq: int


class RenameIn(In):
    to: TagName


class MergeIn(In):
    into: TagName


class TagOut(Out):
    name: str
    category: str
    image_count: int
