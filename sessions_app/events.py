"""The session event log and its broadcast: the only module that talks to the channel layer.

Services call `append_event` inside their transaction. It takes the next
`seq` (gapless: the counter and the event commit or roll back together) and
schedules the broadcast for after commit, so a client never hears of an edit
that did not happen. The log is the truth; the broadcast is the fast path
(group_send drops messages silently when a channel is full).
"""

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import F

from sessions_app.models import SessionEvent, TaggingSession

logger = logging.getLogger(__name__)

# The consumer handles this message type (method name session_event).
BROADCAST_TYPE = "session.event"


def group_name(session_id: int) -> str:
    return f"session.{session_id}"


def serialize_event(event: SessionEvent) -> dict[str, Any]:
    """The `event` frame clients receive, for the socket and the events API alike."""
    return {
        "type": "event",
        "seq": event.seq,
        "kind": event.kind,
        "actor": event.actor.username if event.actor_id and event.actor else None,
        "payload": event.payload,
        "at": event.created_at.isoformat(),
    }


def append_event(
    session_id: int,
    *,
    kind: str,
    payload: dict[str, Any],
    actor=None,
    inverse: dict[str, Any] | None = None,
) -> SessionEvent:
    """Append an event to the session's log in the current transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("append_event must run inside the service's transaction")
    # The UPDATE takes the session row's write lock, so concurrent writers to
    # one session queue here and seq stays gapless and ordered.
    TaggingSession.objects.filter(pk=session_id).update(last_seq=F("last_seq") + 1)
    seq = TaggingSession.objects.values_list("last_seq", flat=True).get(pk=session_id)
    event = SessionEvent.objects.create(
        session_id=session_id, seq=seq, kind=kind, payload=payload, actor=actor, inverse=inverse
    )
    transaction.on_commit(lambda: broadcast(event))
    return event


def broadcast(event: SessionEvent) -> None:
    """Send a committed event to everyone connected to its session."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": BROADCAST_TYPE, "event": serialize_event(event)}
    try:
        async_to_sync(layer.group_send)(group_name(event.session_id), message)
    except Exception:
        # The edit is committed and logged; clients catch up from the log.
        logger.exception("broadcast of %s failed", event)
