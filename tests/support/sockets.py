"""A `websockets` client that talks to real workers as the browser workspace does."""

import asyncio
import json

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from sessions_app.models import TaggingSession
from tests.support.ws import events_in


def origin_of(url: str) -> str:
    """The page origin a browser would send for a socket URL: scheme, host and port."""
    scheme, _, rest = url.partition("://")
    return ("https" if scheme == "wss" else "http") + "://" + rest.split("/", 1)[0]


def last_seq(session_id: int) -> int:
    return TaggingSession.objects.get(pk=session_id).last_seq


class Client:
    """A workspace as the server sees it: hello, edits, and every event it was sent."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.seqs: list[int] = []
        self.acks: dict[str, int | None] = {}
        self.errors: list[dict] = []
        self.frames: list[dict] = []

    @classmethod
    async def open(
        cls, url: str, token: str | None, last_seq: int, *, cookie: str | None = None
    ) -> "Client":
        """Connect with a bearer token (or a `Cookie` header value) and say hello."""
        headers = {"Authorization": f"Bearer {token}"} if token else {"Cookie": cookie}
        ws = await connect(url, origin=origin_of(url), additional_headers=headers)
        client = cls(ws)
        await ws.send(json.dumps({"type": "hello", "last_seq": last_seq}))
        client.welcome = await client.until(lambda frame: frame["type"] == "welcome")
        return client

    async def read(self, timeout: float = 15) -> dict:
        frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.frames.append(frame)
        self.seqs.extend(event["seq"] for event in events_in(frame))
        if frame["type"] == "ack":
            self.acks[frame["id"]] = frame["seq"]
        if frame["type"] == "error":
            self.errors.append(frame)
        return frame

    async def until(self, done, timeout: float = 15) -> dict:
        while True:
            frame = await self.read(timeout)
            if done(frame):
                return frame

    async def until_seq(self, seq: int, timeout: float = 15) -> None:
        while not self.seqs or self.seqs[-1] < seq:
            await self.read(timeout)

    async def until_acks(self, count: int) -> None:
        while len(self.acks) < count:
            await self.read()

    async def until_closed(self, timeout: float = 15) -> tuple[int | None, str]:
        """Read every frame up to the close; the close code and reason."""
        try:
            while True:
                await self.read(timeout)
        except ConnectionClosed:
            pass
        return self.ws.close_code, self.ws.close_reason or ""

    async def send(self, frame: dict) -> None:
        await self.ws.send(json.dumps(frame))

    async def add_tags(self, ref: str, image_id: int, *tags: str) -> None:
        frame = {"type": "edit", "id": ref, "op": "add_tags", "image_id": image_id, "tags": tags}
        await self.ws.send(json.dumps(frame))
