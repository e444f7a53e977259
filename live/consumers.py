"""The WebSocket door: `/ws/sessions/<id>/`, a thin adapter over the session services.

AsyncWebsocketConsumer rather than the JSON variant: the size limit has to
be checked on the raw text before decoding, and outgoing events are
already-encoded text from the hub. Every refusal becomes an `error` frame in
`receive`, the one place; garbage strikes and floods end with 1008.

No frame may end the consumer: daphne would answer 1011 and never call
disconnect(), leaving the client's row (and the user's presence) behind.
Unexpected errors become an `internal` error frame; sends on a socket that
is already closing are dropped; and a consumer that ends anyway leaves the
hub at once, so that the stale sweep removes its row.

The credentials are those of the handshake, re-checked while the socket is
open: by every edit, and by the hub when told of a revocation and
periodically. Lapsed credentials close with 4401, a lost membership with
4403, each with the reason; a changed role takes effect at once.
"""

import asyncio
import contextlib
import json
import logging
import time
import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from accounts.credentials import CredentialsLapsed
from live import bridge
from live.clients import client_connect, client_disconnect, client_focus
from live.hub import WORKER_ID, Hub, get_hub
from live.protocol import (
    Edit,
    Focus,
    FrameError,
    Hello,
    Ping,
    error_frame,
    events_frame,
    parse_frame,
)
from sessions_app.events import abroadcast_presence
from tagger_project.errors import DomainError, StaleVersion

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_POLICY = 1008
CLOSE_RESTART = 1012
CLOSE_GOING_AWAY = 1001
# Replayed events travel in frames of at most this many.
REPLAY_CHUNK = 200
CATCH_UP_ROUNDS = 5
BAD_FRAME_WINDOW_S = 60.0
# How long a shutting-down worker waits for an edit already in the database call.
EDIT_DRAIN_S = 3.0


class TokenBucket:
    """Allow `rate` frames a second on average and bursts of `burst`."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class SessionConsumer(AsyncWebsocketConsumer):
    """One open workspace: resume, live events in seq order, edits, presence."""

    async def connect(self) -> None:
        self.session_id = int(self.scope["url_route"]["kwargs"]["session_id"])
        self.client_id = uuid.uuid4().hex
        self.user = self.scope.get("user")
        self.hub: Hub | None = None
        self.frames_in = self.frames_out = 0
        # closing: the worker is stopping; closed: our close frame is out (or the transport gone).
        self.helloed = self.closing = self.closed = False
        self.last_delivered = 0
        # Live events wait here while the log is replayed (or a gap refilled).
        self.catching_up = True
        self.backlog: list[tuple[int, str]] = []
        # Presence that arrives between joining the feed and sending `welcome`
        # waits here: `welcome` is always the first frame after `hello`.
        self.welcomed = False
        self.early_presence: list[str] = []
        self.bucket = TokenBucket(settings.TAGGER_WS_RATE, settings.TAGGER_WS_BURST)
        self.strikes: list[float] = []
        self.edit_done = asyncio.Event()
        self.edit_done.set()
        # Accept first so that the browser sees why it was refused (a close
        # before accepting is an HTTP 403 without a code).
        await self.accept()
        if self.user is None or not self.user.is_authenticated:
            await self.close(CLOSE_UNAUTHENTICATED)
            return
        self.role = await database_sync_to_async(bridge.open_role)(self.user, self.session_id)
        if self.role is None:
            await self.close(CLOSE_FORBIDDEN)
            return
        self.credential = bridge.credential_of(self.scope)
        await database_sync_to_async(client_connect)(
            client_id=self.client_id,
            session_id=self.session_id,
            user=self.user,
            channel_name=self.channel_name,
            worker_id=WORKER_ID,
        )
        self.hub = get_hub()
        await self.hub.attach(self)

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Ended without disconnect() (cancelled by daphne, or raised).
            hub = getattr(self, "hub", None)
            if hub is not None:
                hub.forget(self)

    async def disconnect(self, code: int) -> None:
        self.closed = True
        if self.hub is None:
            return
        hub, self.hub = self.hub, None
        # Row first: a stopping worker waits for its consumers to detach.
        try:
            removed = await database_sync_to_async(client_disconnect)(client_id=self.client_id)
        finally:
            await hub.detach(self)
        if removed:
            await self._presence("leave", None)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes old DB connections in a thread before every handler;
        # our database calls do that themselves, and most frames touch no database.
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        if self.closed:
            return
        self.closed = True
        await super().close(code, reason)

    # --- client → server -----------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        self.frames_in += 1
        if self.hub is None or self.closed:
            # Frames queued behind our close (a flood that got 1008) change nothing.
            return
        frame = None
        try:
            frame = self._parse(text_data)
            if isinstance(frame, Ping):
                await self.send_frame({"type": "pong"})
            elif isinstance(frame, Hello):
                await self.on_hello(frame)
            elif not self.helloed:
                raise FrameError("hello_required", "send hello first")
            elif isinstance(frame, Focus):
                await self.on_focus(frame)
            else:
                await self.on_edit(frame)
        except FrameError as exc:
            ref = exc.ref if exc.ref is not None else _ref(frame)
            await self.send_frame(error_frame(exc.code, exc.message, ref=ref))
            await self._strike()
        except StaleVersion as exc:
            await self.send_frame(
                error_frame(exc.code, exc.message, ref=_ref(frame), current=exc.current)
            )
        except CredentialsLapsed as exc:
            await self.close(CLOSE_UNAUTHENTICATED, exc.message)
        except DomainError as exc:
            await self.send_frame(
                error_frame(exc.code, exc.message, ref=_ref(frame), details=exc.details)
            )
        except Exception:
            logger.exception("frame %r from %s failed", _ref(frame), self.client_id)
            message = "the server could not handle this frame"
            await self.send_frame(error_frame("internal", message, ref=_ref(frame)))

    def _parse(self, text: str | None):
        if text is None:
            raise FrameError("invalid", "binary frames are not part of the protocol")
        limit = settings.TAGGER_WS_MAX_FRAME_BYTES
        if len(text) > limit or len(text.encode()) > limit:
            raise FrameError("too_large", f"frames are limited to {limit} bytes")
        if not self.bucket.take():
            raise FrameError("rate_limited", "too many frames; slow down")
        return parse_frame(text)

    async def _strike(self) -> None:
        now = time.monotonic()
        self.strikes = [t for t in self.strikes if now - t < BAD_FRAME_WINDOW_S] + [now]
        if len(self.strikes) >= settings.TAGGER_WS_MAX_BAD_FRAMES:
            await self.close(CLOSE_POLICY)

    async def on_hello(self, frame: Hello) -> None:
        if self.helloed:
            raise FrameError("invalid", "hello was already received")
        self.helloed = True
        assert self.hub is not None
        await self.hub.join(self)
        current = await database_sync_to_async(bridge.session_last_seq)(self.session_id)
        present = await database_sync_to_async(bridge.present_clients)(self.session_id)
        await self.send_frame(
            {
                "type": "welcome",
                "client_id": self.client_id,
                "seq": current,
                "present": present,
                "user": self.user.get_username(),
                "role": self.role,
            }
        )
        while self.early_presence:
            await self.send_text(self.early_presence.pop(0))
        self.welcomed = True
        await self._presence("join", None)
        behind = current - frame.last_seq
        if behind < 0 or behind > settings.TAGGER_MAX_REPLAY:
            # Too far behind (or ahead of a rebuilt database): reload, then live.
            await self.send_frame({"type": "resync", "seq": current})
            self.last_delivered = current
        else:
            self.last_delivered = frame.last_seq
        await self._catch_up()

    async def on_focus(self, frame: Focus) -> None:
        await database_sync_to_async(client_focus)(
            client_id=self.client_id, session_id=self.session_id, image_id=frame.image_id
        )
        await self._presence("focus", frame.image_id)

    async def on_edit(self, frame: Edit) -> None:
        if self.closing:
            raise FrameError("shutting_down", "this worker is stopping; resend after reconnecting")
        self.edit_done.clear()
        try:
            seq = await database_sync_to_async(bridge.apply_edit)(
                self.session_id, self.user, frame, credential=self.credential
            )
        finally:
            self.edit_done.set()
        # Only now: the service's transaction has committed.
        await self.send_frame({"type": "ack", "id": frame.id, "seq": seq})

    # --- server → client -----------------------------------------------------

    async def send_text(self, text: str) -> None:
        if self.closed:
            return
        self.frames_out += 1
        try:
            await self.base_send({"type": "websocket.send", "text": text})
        except Exception:
            # daphne raises once the close handshake started (ours or the
            # client's); the disconnect that follows cleans up.
            self.closed = True

    async def send_presence(self, text: str) -> None:
        """Forward a presence frame from the hub, holding it until `welcome` is out."""
        if not self.welcomed:
            self.early_presence.append(text)
            return
        await self.send_text(text)

    async def send_frame(self, frame: dict[str, Any]) -> None:
        await self.send_text(json.dumps(frame, separators=(",", ":")))

    async def push(self, first: int, last: int, text: str, texts: list[str]) -> None:
        """Take a run of events (seqs first..last) from the hub, keeping this socket gapless."""
        if self.catching_up:
            self.backlog.extend(zip(range(first, last + 1), texts, strict=True))
        elif last <= self.last_delivered:
            return
        elif first == self.last_delivered + 1:
            self.last_delivered = last
            await self.send_text(text)
        elif first <= self.last_delivered:
            tail = texts[self.last_delivered + 1 - first :]
            self.last_delivered = last
            await self.send_text(events_frame(tail))
        else:
            # A gap this socket has not seen: fill it from the log.
            self.catching_up = True
            self.backlog.extend(zip(range(first, last + 1), texts, strict=True))
            self.catch_up_task = asyncio.ensure_future(self._catch_up())

    async def _catch_up(self) -> None:
        """Send what the log holds after last_delivered, then the buffered live events."""
        for _ in range(CATCH_UP_ROUNDS):
            self.backlog.sort()
            upto = self.backlog[0][0] if self.backlog else None
            if upto is None or upto > self.last_delivered + 1:
                missing = await database_sync_to_async(bridge.events_after)(
                    self.session_id, self.last_delivered, before=upto
                )
                await self._send_run(missing)
            backlog, self.backlog = self.backlog, []
            await self._send_run(
                [item for item in dict(backlog).items() if item[0] > self.last_delivered]
            )
            if not self.backlog:
                self.catching_up = False
                return
        # The log lacks the hole (its session is being deleted): go on after it.
        self.backlog.sort()
        self.last_delivered = self.backlog[0][0] - 1
        await self._catch_up()

    async def _send_run(self, items: list[tuple[int, str]]) -> None:
        items = [item for item in items if item[0] > self.last_delivered]
        for start in range(0, len(items), REPLAY_CHUNK):
            chunk = items[start : start + REPLAY_CHUNK]
            if chunk[0][0] != self.last_delivered + 1:
                # Still a hole: put the rest back for the next round of the log.
                self.backlog.extend(items[start:])
                return
            self.last_delivered = chunk[-1][0]
            await self.send_text(events_frame([text for _, text in chunk]))

    async def _presence(self, action: str, image_id: int | None) -> None:
        frame = {
            "type": "presence",
            "action": action,
            "user": self.user.get_username(),
            "client_id": self.client_id,
            "image_id": image_id,
        }
        await abroadcast_presence(self.session_id, frame)

    # --- worker → consumer ---------------------------------------------------

    async def client_drop(self, message: dict[str, Any]) -> None:
        """Another worker's sweep found this socket stale: close it."""
        await self.close(CLOSE_GOING_AWAY)

    async def apply_access(self, lapsed: str | None, role: str | None) -> None:
        """Act on a re-check from the hub: close (4401, 4403) or take the current role."""
        if self.closed:
            return
        if lapsed is not None:
            await self.close(CLOSE_UNAUTHENTICATED, lapsed)
        elif role is None:
            await self.close(CLOSE_FORBIDDEN, "no longer a member of this session")
        elif role != self.role:
            # Edits check the role themselves; this tells the client.
            self.role = role
            if self.welcomed:
                await self.send_frame({"type": "role", "role": role})

    async def shutdown(self, reconnect_after_ms: int) -> None:
        """The worker is stopping: finish the edit in hand, then send `shutdown` and 1012."""
        self.closing = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.edit_done.wait(), EDIT_DRAIN_S)
        await self.send_frame({"type": "shutdown", "reconnect_after_ms": reconnect_after_ms})
        await self.close(CLOSE_RESTART)


def _ref(frame) -> Any:
    return getattr(frame, "id", None)
