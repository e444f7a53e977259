"""Every kind of session event: its name, the shape of its payload, and of its inverse.

The one list, as live/protocol.py is for client frames. Services name a kind
as `Kind.TAGS_CHANGED` (a str, so the log stores the same text as before);
`append_event` refuses a kind that is not here and a payload that lacks a
key its kind requires. The workspace page receives `browser_kinds()` in its
config, so static/js/workspace.js keeps no list of its own.

Payloads are what clients receive; inverses are what undo applies
(sessions_app/services/undo.py, one applier per `op`) and never leave the server.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, NotRequired, TypedDict


class Kind(StrEnum):
    SESSION_CREATED = "session.created"
    SESSION_UPDATED = "session.updated"
    MEMBER_ADDED = "member.added"
    MEMBER_REMOVED = "member.removed"
    IMAGES_ADDED = "images.added"
    IMAGE_STATUS = "image.status"
    TAGS_CHANGED = "tags.changed"
    CAPTION_CHANGED = "caption.changed"
    BATCH_APPLIED = "batch.applied"
    RULES_APPLIED = "rules.applied"
    TAG_RENAMED = "tag.renamed"
    TAGS_MERGED = "tags.merged"
    TAG_RECATEGORIZED = "tag.recategorized"
    AUTOTAG_APPLIED = "autotag.applied"
    JOB_CHANGED = "job.changed"
    SUBSET_CREATED = "subset.created"
    SUBSET_UPDATED = "subset.updated"
    SUBSET_DELETED = "subset.deleted"
    SUBSET_IMAGES = "subset.images"


# --- payloads ---------------------------------------------------------------------------


class Reversal(TypedDict, total=False):
    """What undo and redo add to the payload of the event they log."""

    undo_of: int
    redo_of: int
    in_session: int
    # Events of one operation logged apart (a job's chunks), and their undos and redos:
    # undo and redo take the group as one (sessions_app/services/undo.py).
    group: str


class SessionCreated(TypedDict):
    name: str


class SessionUpdated(TypedDict, total=False):
    # Only the fields that changed (sessions_app.services.sessions.UPDATABLE_FIELDS).
    name: str
    description: str
    trigger_word: str
    separator: str
    use_underscores: bool
    escape_parentheses: bool


class MemberAdded(TypedDict):
    username: str
    role: str


class MemberRemoved(TypedDict):
    username: str


class ImagesAdded(TypedDict):
    image_ids: list[int]


class ImageStatusSet(Reversal):
    image_id: int
    status: str


class TagsChanged(Reversal):
    image_id: int
    version: int
    tags: list[dict[str, Any]]
    added: NotRequired[list[str]]
    removed: NotRequired[list[str]]


class CaptionChanged(Reversal):
    """The written caption, exactly as it now reads."""

    image_id: int
    caption: str
    caption_version: int


class BatchApplied(Reversal):
    image_ids: list[int]
    # A batch names what it did; its undo and redo carry only the reversal marks.
    add: NotRequired[list[str]]
    remove: NotRequired[list[str]]
    replace: NotRequired[list[str] | None]
    accept_source: NotRequired[str | None]
    drop_source: NotRequired[str | None]
    add_front: NotRequired[bool]
    sort: NotRequired[bool]
    keep_first: NotRequired[int]
    clear: NotRequired[bool]


class RulesApplied(Reversal):
    image_ids: list[int]
    rules: dict[str, list[str]]
    previous: NotRequired[dict[str, list[str]]]


class AutotagApplied(Reversal):
    image_ids: list[int]
    # The tagger's folder name and the sha256 of the weights that scored the images.
    model: NotRequired[str]
    model_sha256: NotRequired[str]
    job_id: NotRequired[int | None]
    tags_added: NotRequired[int]
    suggestions_added: NotRequired[int]
    options: NotRequired[dict[str, Any]]


class JobChanged(TypedDict):
    # The job as GET /api/sessions/{id}/jobs/{job_id} shows it, after the change.
    job: dict[str, Any]


class SubsetShape(TypedDict):
    id: int
    name: str
    num_repeats: int
    class_tokens: str
    folder: str


class SubsetChanged(Reversal):
    """A subset created, or changed (name, repeats, class tokens): as it now stands."""

    subset: SubsetShape


class SubsetDeleted(Reversal):
    subset: SubsetShape
    image_ids: list[int]  # the images it held, now in no subset


class SubsetImages(Reversal):
    # [subset id or None, image ids]: each group now in that subset (None: in none).
    moves: list[list[Any]]


# "from" is a keyword, so these two use the functional form.
TagRenamed = TypedDict("TagRenamed", {"from": str, "to": str})
TagsMerged = TypedDict("TagsMerged", {"from": str, "to": str})
TagRecategorized = TypedDict("TagRecategorized", {"tag": str, "from": str, "to": str})


# --- inverses ---------------------------------------------------------------------------


class RestoreTags(TypedDict):
    op: Literal["restore_tags"]
    image_id: int
    entries: list[list[Any]]  # [name, source, confidence] in caption order
    version: int


class RestoreStatus(TypedDict):
    op: Literal["set_status"]
    image_id: int
    status: str
    expected: str


class RestoreRows(TypedDict):
    op: Literal["rows"]
    delete: list[list[Any]]
    insert: list[list[Any]]
    versions: list[list[int]]


class RestoreLists(TypedDict):
    op: Literal["lists"]
    tags: list[str]
    images: list[list[int]]
    rows: list[list[Any]]
    versions: list[list[int]]
    rules: NotRequired[dict[str, list[str]]]


class RestoreCaption(TypedDict):
    op: Literal["restore_caption"]
    image_id: int
    caption: str  # the text before the edit
    caption_version: int  # the version the edit left


class RestoreSubsetFields(TypedDict):
    op: Literal["subset_fields"]
    subset_id: int
    fields: dict[str, Any]  # name, num_repeats, class_tokens before the edit
    expected: dict[str, Any]  # the same, as the edit left them


class DropSubset(TypedDict):
    op: Literal["subset_drop"]
    subset_id: int
    expected: dict[str, Any]


class RecreateSubset(TypedDict):
    op: Literal["subset_recreate"]
    subset_id: int  # recreated under its old id
    fields: dict[str, Any]
    image_ids: list[int]


class RestoreSubsetImages(TypedDict):
    op: Literal["subset_images"]
    moves: list[list[Any]]  # [subset id or None, image ids]: where each image was
    expected: list[list[Any]]  # [subset id or None, image ids]: where the edit put them


Inverse = (
    RestoreTags
    | RestoreStatus
    | RestoreRows
    | RestoreLists
    | RestoreCaption
    | RestoreSubsetFields
    | DropSubset
    | RecreateSubset
    | RestoreSubsetImages
)


# --- the registry -----------------------------------------------------------------------


@dataclass(frozen=True)
class EventKind:
    kind: Kind
    payload: type
    # The inverse ops an event of this kind may carry; empty: it cannot be undone.
    inverses: tuple[str, ...] = ()

    @property
    def required(self) -> frozenset[str]:
        return self.payload.__required_keys__  # type: ignore[attr-defined]


KINDS: dict[str, EventKind] = {
    entry.kind: entry
    for entry in (
        EventKind(Kind.SESSION_CREATED, SessionCreated),
        EventKind(Kind.SESSION_UPDATED, SessionUpdated),
        EventKind(Kind.MEMBER_ADDED, MemberAdded),
        EventKind(Kind.MEMBER_REMOVED, MemberRemoved),
        EventKind(Kind.IMAGES_ADDED, ImagesAdded),
        EventKind(Kind.IMAGE_STATUS, ImageStatusSet, ("set_status",)),
        EventKind(Kind.TAGS_CHANGED, TagsChanged, ("restore_tags",)),
        EventKind(Kind.CAPTION_CHANGED, CaptionChanged, ("restore_caption",)),
        EventKind(Kind.BATCH_APPLIED, BatchApplied, ("rows", "lists")),
        EventKind(Kind.RULES_APPLIED, RulesApplied, ("lists",)),
        EventKind(Kind.TAG_RENAMED, TagRenamed),
        EventKind(Kind.TAGS_MERGED, TagsMerged),
        EventKind(Kind.TAG_RECATEGORIZED, TagRecategorized),
        EventKind(Kind.AUTOTAG_APPLIED, AutotagApplied, ("lists",)),
        EventKind(Kind.JOB_CHANGED, JobChanged),
        EventKind(Kind.SUBSET_CREATED, SubsetChanged, ("subset_drop",)),
        EventKind(Kind.SUBSET_UPDATED, SubsetChanged, ("subset_fields",)),
        EventKind(Kind.SUBSET_DELETED, SubsetDeleted, ("subset_recreate",)),
        EventKind(Kind.SUBSET_IMAGES, SubsetImages, ("subset_images",)),
    )
}


def check_event(kind: str, payload: dict[str, Any], inverse: dict[str, Any] | None) -> None:
    """Refuse an event the registry does not describe (a programming error, not bad input)."""
    entry = KINDS.get(kind)
    if entry is None:
        raise ValueError(f"unknown event kind {kind!r}: add it to sessions_app/event_kinds.py")
    missing = entry.required - payload.keys()
    if missing:
        raise ValueError(f"{kind} event without {', '.join(sorted(missing))} in its payload")
    if inverse is not None and inverse.get("op") not in entry.inverses:
        raise ValueError(f"{kind} event with a {inverse.get('op')!r} inverse")


def browser_kinds() -> dict[str, str]:
    """The kinds by constant name, for the workspace script: {"TAGS_CHANGED": "tags.changed"}."""
    return {kind.name: kind.value for kind in Kind}
