"""HTTP doors onto a session's subsets (kohya repeat folders): list, create, edit, delete, assign.

Mounted under `/api/sessions`. Members read; editors and owners change.
Each endpoint checks the role, calls one service or selector, and shapes
the answer; errors leave through the API's one handler.
"""

from typing import Annotated

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from sessions_app import selectors
from sessions_app.models import Role
from sessions_app.permissions import session_for
from sessions_app.repeat_folders import MAX_CLASS_TOKENS_LENGTH, MAX_NAME_LENGTH, MAX_REPEATS
from sessions_app.services.subsets import (
    MAX_MOVE,
    subset_assign,
    subset_create,
    subset_delete,
    subset_shape,
    subset_update,
)
from tagger_project.schemas import Id, In, answers

router = Router(tags=["subsets"])

# The lengths and range here; what else makes a name no folder (a path separator,
# a control character, a leading dot) the service says (sessions_app/repeat_folders.py).
SubsetName = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
Repeats = Annotated[int, Field(strict=True, ge=1, le=MAX_REPEATS)]
ClassTokens = Annotated[str, Field(max_length=MAX_CLASS_TOKENS_LENGTH)]


class StrictIn(In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "description": "Also refused, with 400 `invalid`: a name that cannot be a folder"
            " (a path separator, a control character, a leading or trailing dot or space)"
            " or class tokens with a control character.",
            "x-refused-with": ["invalid"],
        },
    )


class SubsetIn(StrictIn):
    name: SubsetName
    num_repeats: Repeats = 1
    # Default: the name, as sd-scripts reads a folder `10_ohwx`.
    class_tokens: ClassTokens | None = None


class SubsetPatch(StrictIn):
    name: SubsetName | None = None
    num_repeats: Repeats | None = None
    class_tokens: ClassTokens | None = None


class SubsetOut(Schema):
    id: int
    name: str
    num_repeats: int
    class_tokens: str
    folder: str


class SubsetListItem(SubsetOut):
    images: int


class SubsetList(Schema):
    items: list[SubsetListItem]
    unassigned: int


class AssignIn(In):
    model_config = ConfigDict(extra="forbid")

    # null: take the images out of every subset.
    subset_id: Id | None
    image_ids: Annotated[list[Id], Field(min_length=1, max_length=MAX_MOVE)]


class AssignOut(Schema):
    subset_id: int | None
    # The images that moved (those already there are left out).
    moved: list[int]


@router.get("/{session_id}/subsets", response=answers(SubsetList))
def subset_list(request: HttpRequest, session_id: Id):
    """The session's subsets with their image counts, and how many images are in none."""
    return selectors.session_subsets(session_for(request.auth, session_id))


@router.post("/{session_id}/subsets", response=answers(SubsetOut, 201))
def subset_add(request: HttpRequest, session_id: Id, payload: SubsetIn):
    """Create a subset, exported as the folder `<num_repeats>_<name>` (editors)."""
    session = session_for(request.auth, session_id, Role.EDITOR)
    subset = subset_create(session, actor=request.auth, **payload.model_dump()).value
    return Status(201, subset_shape(subset))


@router.patch("/{session_id}/subsets/{subset_id}", response=answers(SubsetOut))
def subset_edit(request: HttpRequest, session_id: Id, subset_id: Id, payload: SubsetPatch):
    """Rename a subset, or set its repeats or class tokens (editors)."""
    session = session_for(request.auth, session_id, Role.EDITOR)
    changes = payload.model_dump(exclude_none=True)
    subset = subset_update(session, subset_id, actor=request.auth, **changes).value
    return subset_shape(subset)


@router.delete("/{session_id}/subsets/{subset_id}", response=answers(None, 204))
def subset_remove(request: HttpRequest, session_id: Id, subset_id: Id):
    """Delete a subset; its images stay in the session, in no subset (editors)."""
    session = session_for(request.auth, session_id, Role.EDITOR)
    subset_delete(session, subset_id, actor=request.auth)
    return Status(204, None)


@router.post("/{session_id}/subset-assignments", response=answers(AssignOut))
def subset_images_assign(request: HttpRequest, session_id: Id, payload: AssignIn):
    """Put images in a subset, or in none (editors); refused whole if one is not in the session."""
    session = session_for(request.auth, session_id, Role.EDITOR)
    moves = subset_assign(
        session, actor=request.auth, subset_id=payload.subset_id, image_ids=payload.image_ids
    ).value
    moved = [image_id for _, ids in moves for image_id in ids]
    return {"subset_id": payload.subset_id, "moved": moved}
