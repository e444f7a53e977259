"""Helpers for WebSocket tests: credentials for the handshake and reading frames."""

import json

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts.services import token_create
from tagger_project.asgi import application

ORIGIN = b"http://testserver"


def cookie_for(user) -> bytes:
    """A session cookie header value for `user`, as the browser would send it."""
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def token_for(user) -> str:
    return token_create(user, name="ws test")[1]


async def communicator(
    session_id: int,
    user=None,
    *,
    origin: bytes | None = ORIGIN,
    host: bytes = b"testserver",
    headers=(),
) -> WebsocketCommunicator:
    """A communicator on the real ASGI application (origin check, auth, routing).

    `host` is the Host header a browser sends: the origin check compares it.
    """
    all_headers = [(b"host", host), *headers]
    if origin is not None:
        all_headers.append((b"origin", origin))
    if user is not None:
        all_headers.append((b"cookie", await database_sync_to_async(cookie_for)(user)))
    return WebsocketCommunicator(application, f"/ws/sessions/{session_id}/", headers=all_headers)


async def joined(session_id: int, user, *, last_seq: int = 0) -> tuple[WebsocketCommunicator, dict]:
    """Connect, say hello and return the communicator and its welcome frame."""
    comm = await communicator(session_id, user)
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "hello", "last_seq": last_seq})
    welcome = await comm.receive_json_from()
    assert welcome["type"] == "welcome"
    return comm, welcome


def events_in(frame: dict) -> list[dict]:
    """The events a server frame carries (one `event` or a coalesced `events`)."""
    if frame["type"] == "event":
        return [frame]
    if frame["type"] == "events":
        assert all(event["type"] == "event" for event in frame["events"])
        return frame["events"]
    return []


async def read_until(comm: WebsocketCommunicator, done, *, timeout: float = 3) -> list[dict]:
    """Read frames until `done(frames)` is true; return them all."""
    frames: list[dict] = []
    while not done(frames):
        frames.append(json.loads(await comm.receive_from(timeout=timeout)))
    return frames


async def events_until(comm: WebsocketCommunicator, seq: int, *, timeout: float = 3) -> list[dict]:
    """Every event up to and including `seq`, in the order received; other frames dropped."""
    events: list[dict] = []
    while not events or events[-1]["seq"] < seq:
        frame = json.loads(await comm.receive_from(timeout=timeout))
        events.extend(events_in(frame))
    return events


async def frame_of_type(comm: WebsocketCommunicator, kind: str, *, timeout: float = 3) -> dict:
    """The next frame of type `kind`, skipping others (presence, events)."""
    while True:
        frame = json.loads(await comm.receive_from(timeout=timeout))
        if frame["type"] == kind:
            return frame
