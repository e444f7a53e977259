"""What the management commands that act in a session share."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from sessions_app.models import TaggingSession
from sessions_app.services import session_create
from tagger_project.errors import DomainError


def session_named(name: str, owner=None, *, hint: str = "pass --owner") -> TaggingSession | None:
    """The session called `name` (of `owner` when given); CommandError when several match.

    Names are unique per owner only, so without --owner a name may be ambiguous.
    """
    found = list(TaggingSession.objects.filter(name=name.strip()).select_related("owner")[:10])
    if owner is not None:
        found = [session for session in found if session.owner_id == owner.pk]
    if len(found) > 1:
        owners = ", ".join(sorted(session.owner.get_username() for session in found))
        raise CommandError(f"several sessions are called {name!r} (owners: {owners}); {hint}")
    return found[0] if found else None


def session_and_actor(name: str, owner_name: str | None):
    """The named session (created for --owner when missing) and the user who acts in it."""
    name = name.strip()
    owner = None
    if owner_name is not None:
        owner = get_user_model().objects.filter(username=owner_name).first()
        if owner is None:
            raise CommandError(f"no user called {owner_name!r} (--owner)")
    session = session_named(name, owner)
    if session is None:
        if owner is None:
            raise CommandError(f"no session called {name!r}; pass --owner USER to create it")
        try:
            session = session_create(owner=owner, name=name).value
        except DomainError as error:
            raise CommandError(error.message) from error
    return session, owner or session.owner
