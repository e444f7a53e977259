"""A session's subsets (kohya DreamBooth repeat folders) and which images each holds.

Every change is logged (`subset.*` events, sessions_app/event_kinds.py) with
its inverse, so a user's undo reverses it unless someone changed the subset
or moved its images since, and broadcast after commit. Images are named by
their image id, as at every door; an image sits in at most one subset.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction

from sessions_app.event_kinds import Kind
from sessions_app.events import append_event
from sessions_app.models import SessionImage, SessionSubset, TaggingSession
from sessions_app.outcome import Outcome, gathered
from sessions_app.repeat_folders import (
    RepeatFolder,
    check_class_tokens,
    check_repeats,
    check_subset_name,
)
from tagger_project.db import chunked
from tagger_project.errors import Conflict, InvalidInput, NotFound

FIELDS = ("name", "num_repeats", "class_tokens")
# One request moves at most this many images (a selection of a large session
# goes by query through the batch door, not as a list of ids).
MAX_MOVE = 100_000


def subset_shape(subset: SessionSubset) -> dict[str, Any]:
    return {
        "id": subset.pk,
        "name": subset.name,
        "num_repeats": subset.num_repeats,
        "class_tokens": subset.class_tokens,
        "folder": subset.folder,
    }


def subset_fields(subset: SessionSubset) -> dict[str, Any]:
    return {field: getattr(subset, field) for field in FIELDS}


def _checked(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise InvalidInput(f"unknown subset fields: {', '.join(sorted(unknown))}")
    checked = dict(fields)
    if "name" in checked:
        checked["name"] = check_subset_name(checked["name"])
    if "num_repeats" in checked:
        checked["num_repeats"] = check_repeats(checked["num_repeats"])
    if "class_tokens" in checked:
        checked["class_tokens"] = check_class_tokens(checked["class_tokens"])
    return checked


def _refuse_folder_taken(session_id: int, name: str, repeats: int, exclude: int | None) -> None:
    taken = SessionSubset.objects.filter(session_id=session_id, name=name, num_repeats=repeats)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise Conflict(f"the session already has the subset {repeats}_{name}")


def lock_subset(session: TaggingSession | int, subset_id: int) -> SessionSubset:
    """The session's subset, locked; NotFound when the session has no such subset."""
    session_id = session if isinstance(session, int) else session.pk
    subset = (
        SessionSubset.objects.select_for_update()
        .filter(session_id=session_id, pk=subset_id)
        .first()
    )
    if subset is None:
        raise NotFound(f"subset {subset_id} is not in this session")
    return subset


@transaction.atomic
def subset_create(
    session: TaggingSession,
    *,
    actor,
    name: str,
    num_repeats: int = 1,
    class_tokens: str | None = None,
    image_ids: Sequence[int] = (),
    subset_id: int | None = None,
    annotate: dict[str, Any] | None = None,
) -> Outcome[SessionSubset]:
    """Create a subset; its class tokens default to its name, as sd-scripts reads `10_ohwx`."""
    fields = _checked(
        {
            "name": name,
            "num_repeats": num_repeats,
            "class_tokens": name if class_tokens is None else class_tokens,
        }
    )
    _refuse_folder_taken(session.pk, fields["name"], fields["num_repeats"], None)
    try:
        with transaction.atomic():
            # Undo recreates a deleted subset under its old id, so the log's
            # older inverses, which name it, still find it.
            subset = SessionSubset.objects.create(pk=subset_id, session=session, **fields)
    except IntegrityError as exc:  # the same folder created by two people at once
        folder = f"{fields['num_repeats']}_{fields['name']}"
        raise Conflict(f"the session already has the subset {folder}") from exc
    payload: dict[str, Any] = {"subset": subset_shape(subset)}
    if image_ids:
        # Only undo's recreation of a deleted subset: one event, so one step to undo.
        ids = sorted(current_subsets(session, image_ids))
        for chunk in chunked(ids):
            SessionImage.objects.filter(session=session, image_id__in=chunk).update(
                subset_id=subset.pk
            )
        payload["image_ids"] = ids
    event = append_event(
        session.pk,
        kind=Kind.SUBSET_CREATED,
        payload={**payload, **(annotate or {})},
        actor=actor,
        inverse={
            "op": "subset_drop",
            "subset_id": subset.pk,
            "expected": {**subset_fields(subset), "image_ids": payload.get("image_ids", [])},
        },
    )
    return Outcome(subset, (event,))


@transaction.atomic
def subset_update(
    session: TaggingSession,
    subset_id: int,
    *,
    actor,
    annotate: dict[str, Any] | None = None,
    **changes: Any,
) -> Outcome[SessionSubset]:
    """Rename a subset, or set its repeats or class tokens."""
    changes = _checked(changes)
    subset = lock_subset(session, subset_id)
    before = subset_fields(subset)
    changes = {field: value for field, value in changes.items() if before[field] != value}
    if not changes:
        return Outcome(subset)
    after = {**before, **changes}
    _refuse_folder_taken(session.pk, after["name"], after["num_repeats"], subset.pk)
    for field, value in changes.items():
        setattr(subset, field, value)
    try:
        with transaction.atomic():
            subset.save(update_fields=list(changes))
    except IntegrityError as exc:
        raise Conflict(f"the session already has the subset {subset.folder}") from exc
    event = append_event(
        session.pk,
        kind=Kind.SUBSET_UPDATED,
        payload={"subset": subset_shape(subset), **(annotate or {})},
        actor=actor,
        inverse={
            "op": "subset_fields",
            "subset_id": subset.pk,
            "fields": before,
            "expected": after,
        },
    )
    return Outcome(subset, (event,))


def subset_images(subset: SessionSubset) -> list[int]:
    return sorted(SessionImage.objects.filter(subset=subset).values_list("image_id", flat=True))


@transaction.atomic
def subset_delete(
    session: TaggingSession, subset_id: int, *, actor, annotate: dict[str, Any] | None = None
) -> Outcome[None]:
    """Delete a subset; its images stay in the session, in no subset."""
    subset = lock_subset(session, subset_id)
    image_ids = subset_images(subset)
    shape = subset_shape(subset)
    fields = subset_fields(subset)
    subset_pk = subset.pk
    subset.delete()  # SET_NULL frees its images in the same statement group
    event = append_event(
        session.pk,
        kind=Kind.SUBSET_DELETED,
        payload={"subset": shape, "image_ids": image_ids, **(annotate or {})},
        actor=actor,
        inverse={
            "op": "subset_recreate",
            "subset_id": subset_pk,
            "fields": fields,
            "image_ids": image_ids,
        },
    )
    return Outcome(None, (event,))


@transaction.atomic
def subset_assign(
    session: TaggingSession,
    *,
    actor,
    subset_id: int | None,
    image_ids: Sequence[int],
) -> Outcome[list[list[Any]]]:
    """Put the images in the subset (None: in no subset); the moves as the event says them.

    Refused whole (nothing moves) when an image is not in this session.
    """
    wanted = list(dict.fromkeys(image_ids))
    if len(wanted) > MAX_MOVE:
        raise InvalidInput(f"at most {MAX_MOVE} images at once")
    if subset_id is not None:
        lock_subset(session, subset_id)
    return subset_moves_write(session, actor=actor, moves=[[subset_id, wanted]])


def subset_moves_write(
    session: TaggingSession,
    *,
    actor,
    moves: Sequence[Sequence[Any]],
    annotate: dict[str, Any] | None = None,
) -> Outcome[list[list[Any]]]:
    """Apply [subset id or None, image ids] groups in the caller's transaction, and log them."""
    current = current_subsets(session, [i for _, ids in moves for i in ids])
    missing = sorted({i for _, ids in moves for i in ids} - current.keys())
    if missing:
        raise NotFound(
            f"{len(missing)} of the images are not in this session",
            details=[{"image_ids": missing[:50]}],
        )
    done: list[list[Any]] = []
    previous: dict[int | None, list[int]] = {}
    for subset_id, ids in moves:
        changed = [i for i in ids if current[i] != subset_id]
        if not changed:
            continue
        for chunk in chunked(changed):
            SessionImage.objects.filter(session=session, image_id__in=chunk).update(
                subset_id=subset_id
            )
        for image_id in changed:
            previous.setdefault(current[image_id], []).append(image_id)
            current[image_id] = subset_id
        done.append([subset_id, changed])
    if not done:
        return Outcome(done)
    event = append_event(
        session.pk,
        kind=Kind.SUBSET_IMAGES,
        payload={"moves": done, **(annotate or {})},
        actor=actor,
        inverse={
            "op": "subset_images",
            "moves": [[subset, ids] for subset, ids in previous.items()],
            "expected": done,
        },
    )
    return Outcome(done, (event,))


def current_subsets(session: TaggingSession, image_ids: Iterable[int]) -> dict[int, int | None]:
    """image id → its subset id (None: none), for those the session holds; rows locked."""
    found: dict[int, int | None] = {}
    for chunk in chunked(sorted(set(image_ids))):
        found.update(
            SessionImage.objects.select_for_update()
            .filter(session=session, image_id__in=chunk)
            .values_list("image_id", "subset_id")
        )
    return found


@transaction.atomic
def subsets_place(
    session: TaggingSession, *, actor, placements: Mapping[RepeatFolder, Sequence[int]]
) -> Outcome[dict[int, str]]:
    """Put imported images in the subsets their repeat folders name, creating those missing.

    A session holds an image once, so the same file in two repeat folders
    (`10_ohwx/x.png`, `5_style/x.png`) can be in one subset only: an image
    already in another subset stays there (the first folder seen, or where
    someone moved it), and so does the first of two folders in one call.
    Its value: those kept apart, image id → the folder (`10_ohwx`) of the
    subset it stays in.
    """
    current = current_subsets(session, [i for ids in placements.values() for i in ids])
    folders = {s.pk: s.folder for s in SessionSubset.objects.filter(session=session)}
    kept: dict[int, str] = {}
    claimed: dict[int, RepeatFolder] = {}
    moves: list[list[Any]] = []
    parts: list[Outcome] = []
    for folder, image_ids in placements.items():
        subset = SessionSubset.objects.filter(
            session=session, name=folder.name, num_repeats=folder.num_repeats
        ).first()
        taking = []
        for image_id in image_ids:
            where = current.get(image_id)
            first = claimed.setdefault(image_id, folder)
            if where is not None and (subset is None or where != subset.pk):
                kept[image_id] = folders[where]
            elif first != folder:
                kept[image_id] = first.folder
            else:
                taking.append(image_id)
        if not taking:
            continue
        if subset is None:
            created = subset_create(
                session, actor=actor, name=folder.name, num_repeats=folder.num_repeats
            )
            parts.append(created)
            subset = created.value
        moves.append([subset.pk, taking])
    if moves:
        parts.append(subset_moves_write(session, actor=actor, moves=moves))
    return gathered(kept, parts)


def kept_apart(
    placed: Iterable[tuple[str, int, RepeatFolder]], kept: Mapping[int, str]
) -> list[tuple[str, str]]:
    """(file, folder its image stays in) for each (file, image id, folder) that subsets_place
    kept out of its folder's subset."""
    return [
        (file, kept[image_id])
        for file, image_id, folder in placed
        if kept.get(image_id, folder.folder) != folder.folder
    ]


# --- plain data, for a backup -------------------------------------------------------------


def subsets_dump(session: TaggingSession) -> list[dict[str, Any]]:
    """The session's subsets in order, each with the sha256 of its images (session order).

    Plain JSON-ready data; `subsets_load` takes it back, in this session or
    a restored one (image ids change across databases, contents do not).
    """
    members: dict[int, list[str]] = {}
    rows = (
        SessionImage.objects.filter(session=session, subset__isnull=False)
        .order_by("position", "id")
        .values_list("subset_id", "image__sha256")
    )
    for subset_id, sha256 in rows:
        members.setdefault(subset_id, []).append(sha256)
    return [
        {**subset_fields(subset), "images": members.get(subset.pk, [])}
        for subset in SessionSubset.objects.filter(session=session).order_by("id")
    ]


@transaction.atomic
def subsets_load(
    session: TaggingSession, *, actor, subsets: Sequence[Mapping[str, Any]]
) -> Outcome[None]:
    """Recreate subsets as `subsets_dump` wrote them, through the logged services.

    A subset whose folder exists is reused (its repeats and class tokens are
    set); images the session does not hold are passed over.
    """
    by_sha = dict(
        SessionImage.objects.filter(session=session).values_list("image__sha256", "image_id")
    )
    placements: list[list[Any]] = []
    parts: list[Outcome] = []
    for item in subsets:
        if not isinstance(item, Mapping):
            raise InvalidInput("each subset is an object")
        name, repeats = item.get("name"), item.get("num_repeats", 1)
        existing = SessionSubset.objects.filter(
            session=session, name=name, num_repeats=repeats
        ).first()
        if existing is None:
            written = subset_create(
                session,
                actor=actor,
                name=name,  # type: ignore[arg-type]
                num_repeats=repeats,
                class_tokens=item.get("class_tokens"),
            )
        else:
            written = subset_update(
                session,
                existing.pk,
                actor=actor,
                class_tokens=item.get("class_tokens", existing.class_tokens),
            )
        parts.append(written)
        ids = [by_sha[sha] for sha in item.get("images", ()) if sha in by_sha]
        placements.append([written.value.pk, ids])
    if placements:
        parts.append(subset_moves_write(session, actor=actor, moves=placements))
    return gathered(None, parts)
