"""Who may do what in a session: the one place every door asks.

Plain sync functions (the consumer wraps them in database_sync_to_async).
A user who is not a member of a session must not learn it exists, so
non-members get NotFound; a member whose role is too low gets
PermissionDenied.
"""

from django.db.models import Exists, OuterRef, QuerySet

from images.models import Image
from sessions_app.models import Role, SessionImage, SessionMember, TaggingSession
from sessions_app.sql import member_role
from tagger_project.errors import NotFound, PermissionDenied

# Each role can do everything the roles before it can.
ROLE_RANK: dict[str, int] = {Role.VIEWER: 1, Role.EDITOR: 2, Role.OWNER: 3}
ROLE_VERB: dict[str, str] = {Role.VIEWER: "view", Role.EDITOR: "edit", Role.OWNER: "manage"}


def _user_id(user) -> int | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.pk


def role_of(user, session: TaggingSession | int) -> str | None:
    """The user's role in the session, or None when they are not a member."""
    user_id = _user_id(user)
    if user_id is None:
        return None
    session_id = session if isinstance(session, int) else session.pk
    # Raw SQL, not the ORM: ~20x cheaper per request (bench/permission_bench.py).
    return member_role(session_id, user_id)


def has_role(role: str | None, needed: str) -> bool:
    """True when `role` is at least `needed` (owner ≥ editor ≥ viewer)."""
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[needed]


def sessions_visible_to(user) -> QuerySet[TaggingSession]:
    """The sessions the user is a member of (any role)."""
    user_id = _user_id(user)
    if user_id is None:
        return TaggingSession.objects.none()
    member = SessionMember.objects.filter(session=OuterRef("pk"), user_id=user_id)
    return TaggingSession.objects.filter(Exists(member))


def require_role(user, session: TaggingSession | int, needed: str = Role.VIEWER) -> str:
    """Return the user's role, or raise NotFound (not a member) / PermissionDenied (too low)."""
    role = role_of(user, session)
    session_id = session if isinstance(session, int) else session.pk
    if role is None:
        raise NotFound(f"session {session_id} does not exist")
    if not has_role(role, needed):
        raise PermissionDenied(f"a {role} cannot {ROLE_VERB[needed]} this session")
    return role


def session_for(user, session_id: int, needed: str = Role.VIEWER) -> TaggingSession:
    """Load a session the user may act on with `needed`, or raise like require_role.

    One query: the caller's membership row with its session (every request
    to a session's endpoints starts here).
    """
    user_id = _user_id(user)
    if user_id is None:
        raise NotFound(f"session {session_id} does not exist")
    member = (
        SessionMember.objects.filter(session_id=session_id, user_id=user_id)
        .select_related("session")
        .order_by("pk")
        .first()
    )
    if member is None:
        raise NotFound(f"session {session_id} does not exist")
    if not has_role(member.role, needed):
        raise PermissionDenied(f"a {member.role} cannot {ROLE_VERB[needed]} this session")
    return member.session


def image_role(user, image_id: int) -> str | None:
    """The user's highest role over the sessions that hold the image, or None."""
    user_id = _user_id(user)
    if user_id is None:
        return None
    holding = SessionImage.objects.filter(image_id=image_id).values("session_id")
    roles = SessionMember.objects.filter(session_id__in=holding, user_id=user_id).values_list(
        "role", flat=True
    )
    return max(roles, key=ROLE_RANK.__getitem__, default=None)


def image_to_view(user, image_id: int) -> Image:
    """Load an image whose files the user may see, or raise NotFound.

    Members of a session holding it may; so may staff allowed to view images,
    since the admin's image list shows them the whole library anyway.
    """
    if getattr(user, "is_staff", False) and user.has_perm("images.view_image"):
        image = Image.objects.filter(pk=image_id).first()
        if image is None:
            raise NotFound(f"image {image_id} does not exist")
        return image
    return image_for(user, image_id)


def image_for(user, image_id: int, needed: str = Role.VIEWER) -> Image:
    """Load an image the user may act on through one of its sessions, or raise.

    Not visible through any session → NotFound; visible but only as a
    viewer when editing → PermissionDenied.
    """
    role = image_role(user, image_id)
    if role is None:
        raise NotFound(f"image {image_id} does not exist")
    if not has_role(role, needed):
        raise PermissionDenied(f"a {role} cannot {ROLE_VERB[needed]} this image")
    image = Image.objects.filter(pk=image_id).first()
    if image is None:
        raise NotFound(f"image {image_id} does not exist")
    return image
