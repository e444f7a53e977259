"""`GET /api/stats/clients`: the live WebSocket connections of every worker (staff only)."""

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema

from live.bridge import clients_overview
from tagger_project.errors import PermissionDenied

router = Router(tags=["stats"])


class ClientOut(Schema):
    client_id: str
    user: str
    session_id: int
    worker_id: str
    connected_at: datetime
    last_seen: datetime
    frames_in: int
    frames_out: int
    image_id: int | None


class ClientsOut(Schema):
    count: int
    workers: dict[str, int]
    clients: list[ClientOut]


@router.get("/clients", response=ClientsOut)
def clients_stats(request: HttpRequest):
    """Every open connection with its statistics, and how many each worker holds."""
    if not request.auth.is_staff:
        raise PermissionDenied("only staff can see the connected clients")
    return clients_overview()
