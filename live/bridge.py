"""What the WebSocket door reads and how it applies an edit: sync functions for the consumer.

The consumer wraps each of these in database_sync_to_async; none of them
talks to the channel layer (events.py does that, after commit).
"""

from typing import Any

from accounts.credentials import Credential, credentials_lapsed, require_credential
from live.protocol import AddTags, Edit, Redo, RemoveTags, SetCaption, SetStatus, SetTags, Undo
from sessions_app import services
from sessions_app.events import event_json
from sessions_app.models import (
    ClientConnection,
    Role,
    SessionEvent,
    SessionImage,
    SessionMember,
    TaggingSession,
)
from sessions_app.outcome import Outcome
from sessions_app.permissions import require_role, role_of
from sessions_app.services.undo import operation_redo, operation_undo
from tagger_project.errors import NotFound


def session_last_seq(session_id: int) -> int:
    """The seq of the session's newest event (0 when the session is gone)."""
    seq = TaggingSession.objects.filter(pk=session_id).values_list("last_seq", flat=True).first()
    return seq or 0


def sessions_last_seq(session_ids: list[int]) -> dict[int, int]:
    """The seq of each session's newest event, by session id (gone sessions left out)."""
    rows = TaggingSession.objects.filter(pk__in=session_ids).values_list("pk", "last_seq")
    return dict(rows)


def events_after(
    session_id: int, after: int, *, before: int | None = None
) -> list[tuple[int, str]]:
    """The logged events with after < seq (< before), as (seq, ready `event` frame text)."""
    events = SessionEvent.objects.filter(session_id=session_id, seq__gt=after)
    if before is not None:
        events = events.filter(seq__lt=before)
    return [(event.seq, event_json(event)) for event in events.select_related("actor")]


def present_clients(session_id: int) -> list[dict[str, Any]]:
    """Who is connected to the session, for the `welcome` frame."""
    rows = ClientConnection.objects.filter(session_id=session_id).values_list(
        "user__username", "client_id", "image_id"
    )
    return [
        {"user": username, "client_id": client_id, "image_id": image_id}
        for username, client_id, image_id in rows
    ]


def open_role(user, session_id: int) -> str | None:
    """The user's role in the session, or None for a non-member (or no such session)."""
    return role_of(user, session_id)


def credential_of(scope: dict[str, Any]) -> Credential:
    """What the handshake proved: the bearer token it carried, else its cookie session."""
    user_id = scope["user"].pk
    if scope.get("api_token_id") is not None:
        return Credential(user_id, token_id=scope["api_token_id"])
    return Credential(user_id, session_key=getattr(scope.get("session"), "session_key", None))


def access_now(sockets: list[tuple[Credential, int]]) -> list[tuple[str | None, str | None]]:
    """For each (credential, session id): why the credential lapsed (or None), and the role now.

    A few queries for any number of sockets: the hubs' periodic re-check asks it.
    """
    lapsed = credentials_lapsed({credential for credential, _ in sockets})
    members = SessionMember.objects.filter(
        session_id__in={session_id for _, session_id in sockets},
        user_id__in={credential.user_id for credential, _ in sockets},
    ).values_list("session_id", "user_id", "role")
    roles = {(session_id, user_id): role for session_id, user_id, role in members}
    return [
        (lapsed.get(credential), roles.get((session_id, credential.user_id)))
        for credential, session_id in sockets
    ]


def apply_edit(session_id: int, user, edit: Edit, *, credential: Credential) -> int | None:
    """Apply one `edit` frame through the session services; the seq it logged, or None (no-op).

    Authorised now, not at connect: raises CredentialsLapsed when the socket's
    token or session is gone, PermissionDenied for a member who is (now) a
    viewer, and the services' DomainErrors.
    """
    require_credential(credential)
    session = TaggingSession.objects.filter(pk=session_id).first()
    if session is None:
        raise NotFound(f"session {session_id} does not exist")
    require_role(user, session, Role.EDITOR)
    if (
        not isinstance(edit, Undo | Redo)
        and not SessionImage.objects.filter(session_id=session_id, image_id=edit.image_id).exists()
    ):
        raise NotFound(f"image {edit.image_id} is not in this session")
    # The ack is the seq of this session's last event the edit logged.
    return _apply(session, user, edit).seq_in(session_id)


def _apply(session: TaggingSession, user, edit: Edit) -> Outcome:
    if isinstance(edit, Undo):
        return operation_undo(session, actor=user)
    if isinstance(edit, Redo):
        return operation_redo(session, actor=user)
    if isinstance(edit, SetStatus):
        return services.session_image_set_status(
            session, actor=user, image_id=edit.image_id, status=edit.status
        )
    if isinstance(edit, AddTags):
        return services.tags_add(session, edit.image_id, actor=user, names=edit.tags)
    if isinstance(edit, RemoveTags):
        return services.tags_remove(session, edit.image_id, actor=user, names=edit.tags)
    if isinstance(edit, SetTags):
        return services.tags_set(
            session, edit.image_id, actor=user, names=edit.tags, version=edit.version
        )
    if isinstance(edit, SetCaption):
        return services.caption_set(
            session, edit.image_id, actor=user, text=edit.caption, version=edit.version
        )
    raise TypeError(f"no service applies {type(edit).__name__}")


def clients_overview() -> dict[str, Any]:
    """Every recorded connection with its statistics, for staff (API and admin)."""
    rows = list(
        ClientConnection.objects.order_by("connected_at", "id").values(
            "client_id",
            "user__username",
            "session_id",
            "worker_id",
            "connected_at",
            "last_seen",
            "frames_in",
            "frames_out",
            "image_id",
        )
    )
    workers: dict[str, int] = {}
    for row in rows:
        row["user"] = row.pop("user__username")
        workers[row["worker_id"]] = workers.get(row["worker_id"], 0) + 1
    return {"count": len(rows), "workers": workers, "clients": rows}
