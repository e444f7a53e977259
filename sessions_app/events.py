"""The session event log and its broadcast: the only module that talks to the channel layer.

Services call `append_event` inside their transaction. It takes the next
`seq` (gapless: the counter and the event commit or roll back together) and
schedules the broadcast for after commit, so a client never hears of an edit
that did not happen. The log is the truth; the broadcast is the fast path
(group_send drops messages silently when a channel is full).
"""

import json
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F

from sessions_app.event_kinds import check_event
from sessions_app.models import SessionEvent, TaggingSession

logger = logging.getLogger(__name__)

# Each worker's hub (live/hub.py) subscribes once per session and handles
# these; a consumer's own channel only receives DROP_TYPE.
BROADCAST_TYPE = "session.event"
PRESENCE_TYPE = "session.presence"
# A background job's progress: not logged (the job row holds it), a frame for whoever is there.
PROGRESS_TYPE = "session.progress"
DROP_TYPE = "client.drop"


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
    """Append an event to the session's log in the current transaction.

    The service returns it to its caller in its Outcome (sessions_app/outcome.py).

    `kind` is one of sessions_app.event_kinds.Kind, and the payload and inverse
    have the shape the registry gives it.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("append_event must run inside the service's transaction")
    check_event(kind, payload, inverse)
    # The UPDATE takes the session row's write lock, so concurrent writers to
    # one session queue here and seq stays gapless and ordered.
    TaggingSession.objects.filter(pk=session_id).update(last_seq=F("last_seq") + 1)
    seq = TaggingSession.objects.values_list("last_seq", flat=True).get(pk=session_id)
    event = SessionEvent.objects.create(
        session_id=session_id, seq=seq, kind=kind, payload=payload, actor=actor, inverse=inverse
    )
    transaction.on_commit(lambda: broadcast(event))
    return event


def event_json(event: SessionEvent) -> str:
    """The `event` frame as JSON text: serialized once, sent to every client as is."""
    return json.dumps(serialize_event(event), separators=(",", ":"), cls=DjangoJSONEncoder)


def broadcast(event: SessionEvent) -> None:
    """Send a committed event to everyone connected to its session."""
    frame = serialize_event(event)
    message = {
        "type": BROADCAST_TYPE,
        "session_id": event.session_id,
        "seq": event.seq,
        "event": frame,
        # Each worker's hub forwards this text to its sockets without re-encoding.
        "frame": json.dumps(frame, separators=(",", ":"), cls=DjangoJSONEncoder),
    }
    _group_send(event.session_id, message, what=str(event))


def broadcast_presence(session_id: int, frame: dict[str, Any]) -> None:
    """Tell everyone in the session that a client joined, left or looked elsewhere."""
    async_to_sync(abroadcast_presence)(session_id, frame)


def broadcast_progress(session_id: int, job: dict[str, Any]) -> None:
    """Tell everyone in the session how far a job has got (a `job` frame, not an event)."""
    frame = {"type": "job", "job": job}
    message = {
        "type": PROGRESS_TYPE,
        "session_id": session_id,
        "frame": json.dumps(frame, separators=(",", ":"), cls=DjangoJSONEncoder),
    }
    _group_send(session_id, message, what=f"progress of job {job.get('id')}")


async def abroadcast_presence(session_id: int, frame: dict[str, Any]) -> None:
    """broadcast_presence for async callers (consumers, the hub)."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {
        "type": PRESENCE_TYPE,
        "session_id": session_id,
        "frame": json.dumps(frame, separators=(",", ":")),
    }
    try:
        await layer.group_send(group_name(session_id), message)
    except Exception:
        logger.exception("presence broadcast in %s failed", session_id)


async def aclient_drop(channel_name: str) -> None:
    """Ask the consumer behind `channel_name`, in whichever worker, to close."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.send(channel_name, {"type": DROP_TYPE})
    except Exception:
        logger.exception("drop of %s failed", channel_name)


def _group_send(session_id: int, message: dict[str, Any], *, what: str) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_name(session_id), message)
    except Exception:
        # The edit is committed and logged; clients catch up from the log.
        logger.exception("broadcast of %s failed", what)
