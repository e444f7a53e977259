"""Sessions, their members, their images and the status of each image."""

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Max

from accounts.events import access_changed
from images.models import Image
from sessions_app.event_kinds import Kind
from sessions_app.events import append_event
from sessions_app.models import (
    ImageStatus,
    Role,
    SessionImage,
    SessionMember,
    TaggingSession,
)
from sessions_app.outcome import Outcome
from tagger_project.errors import Conflict, InvalidInput, NotFound

UPDATABLE_FIELDS = frozenset(
    {
        "name",
        "description",
        "trigger_word",
        "separator",
        "use_underscores",
        "escape_parentheses",
        "caption_style",
    }
)


@transaction.atomic
def session_create(*, owner: User, name: str, **settings_fields) -> Outcome[TaggingSession]:
    """Create a session owned by `owner`, who becomes its first member."""
    name = _checked_name(name)
    unknown = set(settings_fields) - UPDATABLE_FIELDS
    if unknown:
        raise InvalidInput(f"unknown session fields: {', '.join(sorted(unknown))}")
    _refuse_name_taken(owner, name)
    try:
        session = TaggingSession.objects.create(owner=owner, name=name, **settings_fields)
    except IntegrityError as exc:  # the same owner creating the same name at once
        raise Conflict(f"you already own a session called {name!r}") from exc
    SessionMember.objects.create(session=session, user=owner, role=Role.OWNER)
    event = append_event(session.pk, kind=Kind.SESSION_CREATED, payload={"name": name}, actor=owner)
    return Outcome(session, (event,))


@transaction.atomic
def session_update(session: TaggingSession, *, actor, **changes) -> Outcome[TaggingSession]:
    """Change a session's name, description or export settings."""
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise InvalidInput(f"unknown session fields: {', '.join(sorted(unknown))}")
    if "name" in changes:
        changes["name"] = _checked_name(changes["name"])
        _refuse_name_taken(session.owner_id, changes["name"], exclude=session.pk)
    for field, value in changes.items():
        setattr(session, field, value)
    session.save(update_fields=[*changes, "updated_at"])
    event = append_event(session.pk, kind=Kind.SESSION_UPDATED, payload=changes, actor=actor)
    return Outcome(session, (event,))


def _checked_name(name: str) -> str:
    """The name stripped; refused when empty or holding what tags refuse too.

    Line breaks, control and invisible format characters (zero-width spaces,
    bidi overrides) would make two names that look alike, or a name that
    rewrites the line it is shown on.
    """
    name = name.strip()
    if not name:
        raise InvalidInput("a session needs a name")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in name):
        raise InvalidInput(
            "a session name cannot hold line breaks, control or invisible characters"
        )
    return name


def _refuse_name_taken(owner, name: str, *, exclude: int | None = None) -> None:
    """Names are unique per owner; the clash named is always the owner's own session."""
    clash = TaggingSession.objects.filter(owner=owner, name=name)
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise Conflict(f"you already own a session called {name!r}")


@transaction.atomic
def session_delete(session: TaggingSession, *, actor) -> None:
    """Delete a session, its membership and log; the images stay in the library."""
    members = list(session.members.values_list("user_id", flat=True))
    session.delete()
    for user_id in members:
        access_changed(user_id)


@transaction.atomic
def session_member_add(
    session: TaggingSession, *, actor, user: User, role: str
) -> Outcome[SessionMember]:
    """Add `user` to the session with `role`, or change their role."""
    if role not in Role.values:
        raise InvalidInput(f"unknown role {role!r}", details=[{"allowed": Role.values}])
    member, created = SessionMember.objects.select_for_update().get_or_create(
        session=session, user=user, defaults={"role": role}
    )
    if not created and member.role != role:
        _refuse_losing_last_owner(session, member)
        member.role = role
        member.save(update_fields=["role"])
        # Open sockets take the new role (a viewer's stop editing), on every worker.
        access_changed(user.pk)
    event = append_event(
        session.pk,
        kind=Kind.MEMBER_ADDED,
        payload={"username": user.get_username(), "role": role},
        actor=actor,
    )
    return Outcome(member, (event,))


@transaction.atomic
def session_member_remove(session: TaggingSession, *, actor, user: User) -> Outcome[None]:
    """Remove `user` from the session; the last owner cannot be removed."""
    member = SessionMember.objects.select_for_update().filter(session=session, user=user).first()
    if member is None:
        return Outcome(None)
    _refuse_losing_last_owner(session, member)
    member.delete()
    access_changed(user.pk)
    event = append_event(
        session.pk,
        kind=Kind.MEMBER_REMOVED,
        payload={"username": user.get_username()},
        actor=actor,
    )
    return Outcome(None, (event,))


def _refuse_losing_last_owner(session: TaggingSession, member: SessionMember) -> None:
    if member.role != Role.OWNER:
        return
    owners = SessionMember.objects.filter(session=session, role=Role.OWNER).count()
    if owners <= 1:
        raise Conflict("a session must keep at least one owner")


@transaction.atomic
def session_images_add(
    session: TaggingSession,
    *,
    actor,
    images: Sequence[Image],
    names: Mapping[int, str] | None = None,
) -> Outcome[list[int]]:
    """Add images to the end of the session, skipping those already in it.

    `names`: image id → the file name this session knows it by (the name it
    is imported under here); by default the name the library first saw.
    """
    wanted = list(dict.fromkeys(image.pk for image in images))
    present = set(
        SessionImage.objects.filter(session=session, image_id__in=wanted).values_list(
            "image_id", flat=True
        )
    )
    new_ids = [image_id for image_id in wanted if image_id not in present]
    if not new_ids:
        return Outcome([])
    start = (
        SessionImage.objects.filter(session=session).aggregate(top=Max("position"))["top"] or 0
    ) + 1
    named = {image.pk: image.original_name for image in images} | dict(names or {})
    try:
        SessionImage.objects.bulk_create(
            SessionImage(
                session=session,
                image_id=image_id,
                position=start + offset,
                original_name=named[image_id],
            )
            for offset, image_id in enumerate(new_ids)
        )
    except IntegrityError as exc:  # a concurrent add of the same image
        raise Conflict("the images were added concurrently; try again") from exc
    event = append_event(
        session.pk, kind=Kind.IMAGES_ADDED, payload={"image_ids": new_ids}, actor=actor
    )
    return Outcome(new_ids, (event,))


@transaction.atomic
def session_image_set_status(
    session: TaggingSession,
    *,
    actor,
    image_id: int,
    status: str,
    annotate: dict[str, Any] | None = None,
) -> Outcome[SessionImage]:
    """Set the review status of one image in the session.

    `annotate` adds fields to the event payload (undo and redo mark what they reverse).
    """
    if status not in ImageStatus.values:
        raise InvalidInput(f"unknown status {status!r}", details=[{"allowed": ImageStatus.values}])
    entry = (
        SessionImage.objects.select_for_update().filter(session=session, image_id=image_id).first()
    )
    if entry is None:
        raise NotFound(f"image {image_id} is not in this session")
    previous = entry.status
    entry.status = status
    entry.save(update_fields=["status"])
    event = append_event(
        session.pk,
        kind=Kind.IMAGE_STATUS,
        payload={"image_id": image_id, "status": status, **(annotate or {})},
        actor=actor,
        inverse={"op": "set_status", "image_id": image_id, "status": previous, "expected": status},
    )
    return Outcome(entry, (event,))
