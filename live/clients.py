"""Connected WebSocket clients: the rows every worker reads for presence and statistics.

A row exists while its socket is open. The consumer writes it on connect and
deletes it on close; a worker that dies (or a socket that daphne never saw
close) leaves a row whose `last_seen` stops moving, and any worker's sweep
deletes it after STALE_CLIENT_TIMEOUT. Whoever deletes a row reports it, so
exactly one `presence` leave goes out.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from sessions_app.models import ClientConnection, SessionImage
from tagger_project.errors import NotFound


@dataclass(frozen=True)
class ClientStats:
    """What a worker knows in memory about one of its sockets."""

    client_id: str
    frames_in: int
    frames_out: int


@dataclass(frozen=True)
class GoneClient:
    session_id: int
    client_id: str
    username: str
    channel_name: str


def client_connect(
    *, client_id: str, session_id: int, user, channel_name: str, worker_id: str
) -> ClientConnection:
    """Record a newly opened socket."""
    now = timezone.now()
    return ClientConnection.objects.create(
        client_id=client_id,
        session_id=session_id,
        user=user,
        channel_name=channel_name,
        worker_id=worker_id,
        connected_at=now,
        last_seen=now,
    )


def client_disconnect(*, client_id: str) -> bool:
    """Forget a closed socket; True when this call removed it (so it owes the leave)."""
    deleted, _ = ClientConnection.objects.filter(client_id=client_id).delete()
    return deleted > 0


def client_focus(*, client_id: str, session_id: int, image_id: int | None) -> None:
    """Record which image of the session the client is looking at (None: none)."""
    if (
        image_id is not None
        and not SessionImage.objects.filter(session_id=session_id, image_id=image_id).exists()
    ):
        raise NotFound(f"image {image_id} is not in this session")
    ClientConnection.objects.filter(client_id=client_id).update(
        image_id=image_id, last_seen=timezone.now()
    )


@transaction.atomic
def clients_heartbeat(stats: Iterable[ClientStats], *, now: datetime | None = None) -> None:
    """Mark a worker's live sockets as seen now and store their frame counts."""
    now = now or timezone.now()
    for item in stats:
        ClientConnection.objects.filter(client_id=item.client_id).update(
            last_seen=now, frames_in=item.frames_in, frames_out=item.frames_out
        )


@transaction.atomic
def clients_drop_worker(worker_id: str) -> list[GoneClient]:
    """Delete every row of a stopping worker and return them (they owe a leave)."""
    return _delete_and_report(ClientConnection.objects.filter(worker_id=worker_id))


@transaction.atomic
def clients_sweep_stale(*, timeout_s: float, now: datetime | None = None) -> list[GoneClient]:
    """Delete clients not seen for `timeout_s` seconds and return them (they owe a leave)."""
    cutoff = (now or timezone.now()) - timedelta(seconds=timeout_s)
    return _delete_and_report(ClientConnection.objects.filter(last_seen__lt=cutoff))


def _delete_and_report(rows) -> list[GoneClient]:
    # Locking the rows makes a second sweeper wait and then skip them: one leave each.
    locked = rows.select_for_update(of=("self",)).select_related("user")
    gone = [
        GoneClient(row.session_id, row.client_id, row.user.get_username(), row.channel_name)
        for row in locked
    ]
    ClientConnection.objects.filter(client_id__in=[item.client_id for item in gone]).delete()
    return gone
