"""HTTP doors onto sessions, their images, tag edits and tag curation.

Each endpoint: check the caller's role (sessions_app.permissions), call one
service or selector, shape the answer. Image and curation endpoints live
here rather than in images/ or tags/ because they need session permissions
and session services, and those apps import nothing from sessions_app.
"""

from typing import Annotated

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse
from ninja import File, Query, Router, Status
from ninja.files import UploadedFile
from pydantic import StringConstraints

from images.delivery import StoredFileMissing, deliver
from images.services import image_display_ensure
from sessions_app import selectors, services
from sessions_app.media import MediaKind, media_delivery
from sessions_app.models import Role
from sessions_app.outcome import Outcome
from sessions_app.permissions import image_to_view, require_role, session_for
from sessions_app.schemas import (
    BatchIn,
    BatchOut,
    CaptionOut,
    CaptionSetIn,
    EventPage,
    ImageOut,
    ImagePage,
    MemberIn,
    MemberList,
    MemberOut,
    MergeIn,
    ProgressOut,
    RenameIn,
    Selection,
    SessionIn,
    SessionOut,
    SessionPage,
    SessionPatch,
    SessionTagList,
    StatusIn,
    StatusName,
    StatusOut,
    TagOut,
    TagsEditIn,
    TagsSetIn,
    TagStateOut,
    UploadOut,
)
from tagger_project.errors import NotFound, TooLarge
from tagger_project.schemas import (
    Id,
    IdCursor,
    Limit,
    Name,
    PositionCursor,
    TagName,
    Text,
    answers,
    trusted,
)
from tagger_project.uploads import image_pixels
from tags.permissions import require_curator
from tags.selectors import tag_named

# A folder's name (not a path): longer ones are no repeat folder a session can hold.
UploadFolder = Annotated[str, StringConstraints(max_length=255)]

sessions_router = Router(tags=["sessions"])
images_router = Router(tags=["images"])
curation_router = Router(tags=["tags"])


def _user_named(username: str):
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFound(f"no user called {username!r}")
    return user


# --- sessions ------------------------------------------------------------------------


@sessions_router.get("", response=answers(SessionPage))
def session_list(request: HttpRequest, cursor: IdCursor | None = None, limit: Limit = 50):
    """The sessions you are a member of, newest first."""
    items, next_cursor = selectors.sessions_page(request.auth, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@sessions_router.post("", response=answers(SessionOut, 201))
def session_create(request: HttpRequest, payload: SessionIn):
    """Create a session; you become its owner."""
    session = services.session_create(owner=request.auth, **payload.model_dump()).value
    session.refresh_from_db(fields=["last_seq"])
    return Status(201, selectors.session_shape(session, Role.OWNER))


@sessions_router.get("/{session_id}", response=answers(SessionOut))
def session_detail(request: HttpRequest, session_id: Id):
    session = session_for(request.auth, session_id)
    return selectors.session_shape(session, require_role(request.auth, session))


@sessions_router.patch("/{session_id}", response=answers(SessionOut))
def session_update(request: HttpRequest, session_id: Id, payload: SessionPatch):
    """Change the name, description or export settings (owners)."""
    session = session_for(request.auth, session_id, Role.OWNER)
    changes = payload.model_dump(exclude_none=True)
    if changes:
        session = services.session_update(session, actor=request.auth, **changes).value
        session.refresh_from_db(fields=["last_seq"])
    return selectors.session_shape(session, Role.OWNER)


@sessions_router.delete("/{session_id}", response=answers(None, 204))
def session_delete(request: HttpRequest, session_id: Id):
    """Delete the session and its log; the images stay in the library (owners)."""
    session = session_for(request.auth, session_id, Role.OWNER)
    services.session_delete(session, actor=request.auth)
    return Status(204, None)


@sessions_router.get("/{session_id}/members", response=answers(MemberList))
def member_list(request: HttpRequest, session_id: Id):
    session = session_for(request.auth, session_id)
    return {"items": selectors.session_members(session), "next_cursor": None}


@sessions_router.post("/{session_id}/members", response=answers(MemberOut, 201))
def member_add(request: HttpRequest, session_id: Id, payload: MemberIn):
    """Add a member or change their role (owners)."""
    session = session_for(request.auth, session_id, Role.OWNER)
    user = _user_named(payload.username)
    member = services.session_member_add(
        session, actor=request.auth, user=user, role=payload.role
    ).value
    return Status(201, {"username": user.get_username(), "role": member.role})


@sessions_router.delete("/{session_id}/members", response=answers(None, 204))
def member_remove(request: HttpRequest, session_id: Id, username: Name):
    """Remove a member (owners), or leave the session yourself."""
    leaving = username == request.auth.get_username()
    session = session_for(request.auth, session_id, Role.VIEWER if leaving else Role.OWNER)
    # Looked up among the members: whether such a user exists is none of the caller's business.
    member = selectors.session_member_named(session, username)
    services.session_member_remove(session, actor=request.auth, user=member)
    return Status(204, None)


@sessions_router.get("/{session_id}/progress", response=answers(ProgressOut))
def session_progress(request: HttpRequest, session_id: Id):
    return selectors.session_progress(session_for(request.auth, session_id))


# --- images in a session ---------------------------------------------------------------


@sessions_router.get("/{session_id}/images", response=answers(ImagePage))
def session_images(
    request: HttpRequest,
    session_id: Id,
    q: Text | None = None,
    status: StatusName | None = None,
    cursor: PositionCursor | None = None,
    limit: Limit = 50,
):
    """The session's images in order, filtered by a tag query (see tags.query)."""
    # The page needs the caller's role, not the session row.
    require_role(request.auth, session_id)
    items, next_cursor = selectors.images_for_session(
        session_id, query=q, status=status, cursor=cursor, limit=limit
    )
    # The selector builds ImagePage's exact shape; re-validating it was ~1 ms a page.
    return trusted({"items": items, "next_cursor": next_cursor})


@sessions_router.post("/{session_id}/images", response=answers(UploadOut))
def session_upload(
    request: HttpRequest,
    session_id: Id,
    files: list[UploadedFile] = File(..., min_length=1),
    folder: UploadFolder | None = None,
):
    """Upload image files into the session (multipart field `files`); one result per file.

    `folder` (query): the name of the folder the files were picked from; a kohya
    repeat folder (`10_ohwx`) puts them in that subset of the session.
    """
    session = session_for(request.auth, session_id, Role.EDITOR)
    images, captions = _pair_captions(files)
    _check_pixels(images)
    outcomes = [
        services.session_import_bytes(
            session,
            actor=request.auth,
            data=upload.read(),
            original_name=upload.name or "upload",
            folder=folder or "",
            **_caption_of(upload, captions),
        ).value
        for upload in images
    ]
    outcomes += [
        services.ImportOutcome(
            "skipped", name, reason="a caption file needs its image (same name) in the same upload"
        )
        for name in captions
    ]
    items = [
        {"name": o.original_name, "status": o.status, "image_id": o.image_id, "reason": o.reason}
        for o in outcomes
    ]
    statuses = [o.status for o in outcomes]
    return {
        "items": items,
        "imported": statuses.count("imported"),
        "duplicates": statuses.count("duplicate"),
        "skipped": statuses.count("skipped"),
    }


CAPTION_SUFFIX = ".txt"


def _pair_captions(files: list[UploadedFile]) -> tuple[list[UploadedFile], dict[str, UploadedFile]]:
    """Split an upload into images and the `.txt` captions sent beside them, by file name."""
    images = [f for f in files if not (f.name or "").lower().endswith(CAPTION_SUFFIX)]
    captions = {f.name: f for f in files if (f.name or "").lower().endswith(CAPTION_SUFFIX)}
    return images, captions


def _caption_of(image: UploadedFile, captions: dict[str, UploadedFile]) -> dict:
    """The caption of `image` (removed from `captions`), as session_import_bytes takes it."""
    stem = (image.name or "").rsplit(".", 1)[0]
    for name in list(captions):
        if name.rsplit(".", 1)[0] == stem:
            caption = captions.pop(name)
            return {"caption": caption.read(), "caption_name": name}
    return {}


def _check_pixels(files: list[UploadedFile]) -> None:
    """Refuse the whole request before importing anything if one image has too many pixels."""
    limit = settings.TAGGER_MAX_IMAGE_PIXELS
    for upload in files:
        pixels = image_pixels(upload)
        if pixels is not None and pixels > limit:
            raise TooLarge(
                f"{upload.name!r} has more than {limit} pixels",
                details=[{"name": upload.name, "max_pixels": limit}],
            )


@sessions_router.get("/{session_id}/images/{image_id}", response=answers(ImageOut))
def session_image_detail(request: HttpRequest, session_id: Id, image_id: Id):
    """One image of the session: metadata, this session's caption-ordered tags, version."""
    require_role(request.auth, session_id)
    return selectors.image_detail(session_id, image_id)


def _state(outcome: Outcome[services.TagListState]) -> dict:
    state = outcome.value
    return {
        "image_id": state.image_id,
        "version": state.version,
        "tags": state.tags,
        "seq": outcome.seq,
    }


@sessions_router.post("/{session_id}/images/{image_id}/tags", response=answers(TagStateOut))
def image_tags_edit(request: HttpRequest, session_id: Id, image_id: Id, payload: TagsEditIn):
    """Add and remove tags of the session's image (editors)."""
    require_role(request.auth, session_id, Role.EDITOR)
    outcome = None
    if payload.remove:
        outcome = services.tags_remove(
            session_id, image_id, actor=request.auth, names=payload.remove
        )
    if payload.add or outcome is None:
        added = services.tags_add(session_id, image_id, actor=request.auth, names=payload.add)
        outcome = outcome.then(added.value, added) if outcome else added
    return _state(outcome)


@sessions_router.put("/{session_id}/images/{image_id}/tags", response=answers(TagStateOut))
def image_tags_set(request: HttpRequest, session_id: Id, image_id: Id, payload: TagsSetIn):
    """Replace the session image's tag list; 409 with the current state when `version` is stale."""
    require_role(request.auth, session_id, Role.EDITOR)
    outcome = services.tags_set(
        session_id, image_id, actor=request.auth, names=payload.tags, version=payload.version
    )
    return _state(outcome)


@sessions_router.put("/{session_id}/images/{image_id}/caption", response=answers(CaptionOut))
def image_caption_set(request: HttpRequest, session_id: Id, image_id: Id, payload: CaptionSetIn):
    """Replace the written caption, kept exactly (editors).

    409 with the current text and version when `version` is stale.
    """
    require_role(request.auth, session_id, Role.EDITOR)
    outcome = services.caption_set(
        session_id, image_id, actor=request.auth, text=payload.caption, version=payload.version
    )
    return {**outcome.value.as_dict(), "seq": outcome.seq_in(session_id)}


@sessions_router.post("/{session_id}/images/{image_id}/status", response=answers(StatusOut))
def image_status(request: HttpRequest, session_id: Id, image_id: Id, payload: StatusIn):
    """Set the review status of one image in the session (editors)."""
    session = session_for(request.auth, session_id, Role.EDITOR)
    outcome = services.session_image_set_status(
        session, actor=request.auth, image_id=image_id, status=payload.status
    )
    return {"image_id": image_id, "status": outcome.value.status, "seq": outcome.seq}


@sessions_router.post("/{session_id}/batch", response=answers(BatchOut))
def session_batch(request: HttpRequest, session_id: Id, payload: BatchIn):
    """Add (at the end or the front), remove, replace, sort or clear tags on a selection.

    The selection is ids or a query; answers how many images changed. One
    batch applies clear, replace, remove, add, sort, in that order.
    """
    replace = (payload.replace.from_, payload.replace.to) if payload.replace else None
    return batch_on_selection(
        request,
        session_id,
        payload.selection,
        add=payload.add,
        remove=payload.remove,
        replace=replace,
        add_front=payload.add_front,
        sort=payload.sort,
        keep_first=payload.keep_first,
        clear=payload.clear,
    )


def batch_on_selection(
    request: HttpRequest, session_id: int, selection: Selection, **changes
) -> dict:
    """Apply a batch to the selected images (editors); the answer every batch endpoint gives."""
    session = session_for(request.auth, session_id, Role.EDITOR)
    image_ids = selectors.selection_image_ids(session, q=selection.q, image_ids=selection.image_ids)
    outcome = services.batch_apply(session, actor=request.auth, image_ids=image_ids, **changes)
    return {"changed": outcome.value.changed, "selected": len(set(image_ids)), "seq": outcome.seq}


@sessions_router.get("/{session_id}/tags", response=answers(SessionTagList))
def session_tags(request: HttpRequest, session_id: Id, limit: Limit = 100):
    """The session's tags with how many of its images carry each, most used first."""
    session = session_for(request.auth, session_id)
    return {"items": selectors.session_tag_counts(session, limit=limit), "next_cursor": None}


@sessions_router.get("/{session_id}/events", response=answers(EventPage))
def session_events(
    request: HttpRequest,
    session_id: Id,
    after: int = Query(0, ge=0, le=2**53),
    limit: Limit = 100,
):
    """The session's log after `after`, oldest first: what a resuming client replays."""
    session = session_for(request.auth, session_id)
    items, next_cursor = selectors.events_after(session, after=after, limit=limit)
    return {"items": items, "next_cursor": next_cursor, "last_seq": session.last_seq}


# --- images ------------------------------------------------------------------------------


def _serve(request: HttpRequest, image_id: int, *, media: MediaKind) -> HttpResponse:
    # Authorized on every request, revalidations included: a removed member's
    # cached copy gets a 404, not a 304.
    image = image_to_view(request.auth, image_id)
    try:
        if media == "display":
            image_display_ensure(image)
        return deliver(request, media_delivery(image, media=media, viewer=request.auth))
    except (StoredFileMissing, FileNotFoundError) as exc:
        raise NotFound("the image file is missing from storage") from exc


@images_router.get("/{image_id}/file", response=answers(None))
def image_file(request: HttpRequest, image_id: Id):
    """The original file (ETag / Last-Modified; Cache-Control: private, no-cache)."""
    return _serve(request, image_id, media="file")


@images_router.get("/{image_id}/thumbnail", response=answers(None))
def image_thumbnail(request: HttpRequest, image_id: Id):
    """The thumbnail (ETag / Last-Modified; Cache-Control: private, no-cache)."""
    return _serve(request, image_id, media="thumbnail")


@images_router.get("/{image_id}/display", response=answers(None))
def image_display(request: HttpRequest, image_id: Id):
    """What the panel shows: at most TAGGER_DISPLAY_SIZE px a side, or the original when it is.

    JPEG, or WebP where transparency matters; made on first request for
    images stored before renditions. Headers as for the file.
    """
    return _serve(request, image_id, media="display")


# --- curation (staff) ----------------------------------------------------------------------


def _tag_shape(tag) -> dict:
    return {"name": tag.name, "category": tag.category, "image_count": tag.image_count}


@curation_router.post("/{path:name}/rename", response=answers(TagOut))
def tag_rename(request: HttpRequest, name: TagName, payload: RenameIn):
    """Rename a tag everywhere; the old name becomes an alias (staff)."""
    require_curator(request.auth)
    tag = services.tag_rename(tag_named(name), actor=request.auth, new_name=payload.to).value
    return _tag_shape(tag)


@curation_router.post("/{path:name}/merge", response=answers(TagOut))
def tag_merge(request: HttpRequest, name: TagName, payload: MergeIn):
    """Merge this tag into another, keeping caption positions (staff)."""
    require_curator(request.auth)
    source, into = tag_named(name), tag_named(payload.into)
    return _tag_shape(services.tag_merge(source, actor=request.auth, into=into).value)
