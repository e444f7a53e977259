"""Each worker's fan-out hub: one channel-layer subscription per session, not per socket.

Stock Channels gives every socket its own channel and group membership, so
each event costs one layer message, one deepcopy and one dispatch per
client (70–155 µs each; bench/ws_bench.py measures both). Here a worker subscribes once per
session, puts the session's events in seq order (waiting briefly for a
late one, then filling the gap from the log), coalesces those that arrive
within a few ms into one `events` frame, and hands the same ready text to
every local consumer. The hub also keeps the worker's presence rows fresh
and sweeps stale ones left by dead sockets or dead workers.
"""

import asyncio
import contextlib
import logging
import os
import socket
import weakref
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from live import bridge
from live.clients import (
    ClientStats,
    GoneClient,
    clients_drop_worker,
    clients_heartbeat,
    clients_sweep_stale,
)
from live.protocol import events_frame
from sessions_app.events import (
    BROADCAST_TYPE,
    PRESENCE_TYPE,
    PROGRESS_TYPE,
    abroadcast_presence,
    aclient_drop,
    group_name,
)

if TYPE_CHECKING:
    from live.consumers import SessionConsumer

logger = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"
# Events committed within this window travel as one frame: the per-frame cost
# dominates, and a few ms is invisible to a person.
COALESCE_S = 0.003
# Broadcasts of concurrent commits can arrive out of seq order; wait this
# long for the missing one before reading it from the log.
GAP_WAIT_S = 0.05


class Feed:
    """One session's local consumers and the seq order of its events."""

    def __init__(self, hub: "Hub", session_id: int) -> None:
        self.hub = hub
        self.session_id = session_id
        self.consumers: set[SessionConsumer] = set()
        self.last_seq: int | None = None  # None until read from the database
        self.pending: dict[int, str] = {}
        self.gap_since: float | None = None
        self.scheduled: asyncio.TimerHandle | None = None
        self.lock = asyncio.Lock()

    def offer(self, seq: int, text: str) -> None:
        if self.last_seq is not None and seq <= self.last_seq:
            return
        self.pending[seq] = text
        self.schedule(COALESCE_S)

    def schedule(self, delay: float) -> None:
        if self.scheduled is None:
            self.scheduled = self.hub.loop.call_later(delay, self._start_flush)

    def _start_flush(self) -> None:
        self.scheduled = None
        self.hub.loop.create_task(self.flush())

    async def flush(self) -> None:
        """Deliver the contiguous run after last_seq; fill a gap from the log if it lasts."""
        async with self.lock:
            if self.last_seq is None or not self.pending:
                return
            for seq in [seq for seq in self.pending if seq <= self.last_seq]:
                del self.pending[seq]
            run, seq = [], self.last_seq + 1
            while seq in self.pending:
                run.append(self.pending.pop(seq))
                seq += 1
            if run:
                first, self.last_seq = self.last_seq + 1, seq - 1
                text = events_frame(run)
                for consumer in list(self.consumers):
                    await consumer.push(first, self.last_seq, text, run)
            if not self.pending:
                self.gap_since = None
                return
            now = self.hub.loop.time()
            if self.gap_since is None:
                self.gap_since = now
            if now - self.gap_since < GAP_WAIT_S:
                self.schedule(GAP_WAIT_S)
                return
            await self._fill_gap()
        await self.flush()

    async def _fill_gap(self) -> None:
        assert self.last_seq is not None
        upto = min(self.pending)
        missing = await database_sync_to_async(bridge.events_after)(
            self.session_id, self.last_seq, before=upto
        )
        self.pending.update(missing)
        self.gap_since = None
        if self.last_seq + 1 not in self.pending:
            # Not in the log either (the session is being deleted): skip the hole.
            logger.warning("session %s: seq %s is not in the log", self.session_id, upto)
            self.last_seq = min(self.pending) - 1

    async def send_presence(self, text: str) -> None:
        for consumer in list(self.consumers):
            await consumer.send_presence(text)


class Hub:
    """The worker's subscriptions, local consumers and periodic client upkeep."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.feeds: dict[int, Feed] = {}
        self.consumers: set[SessionConsumer] = set()
        self.lock = asyncio.Lock()
        self.tasks: list[asyncio.Task] = []
        # `serve` keeps the upkeep running with no clients: every worker sweeps.
        self.keep_alive = False

    # --- consumers -----------------------------------------------------------

    async def attach(self, consumer: "SessionConsumer") -> None:
        """Track an accepted consumer (statistics, shutdown); not yet subscribed."""
        self.consumers.add(consumer)
        await self._start()

    async def detach(self, consumer: "SessionConsumer") -> None:
        self.consumers.discard(consumer)
        await self.leave(consumer)
        if not self.consumers and not self.keep_alive:
            await self.stop()

    async def join(self, consumer: "SessionConsumer") -> None:
        """Subscribe a consumer to its session's live events."""
        session_id = consumer.session_id
        async with self.lock:
            feed = self.feeds.get(session_id)
            if feed is None:
                feed = self.feeds[session_id] = Feed(self, session_id)
                assert self.channel is not None
                await self.layer.group_add(group_name(session_id), self.channel)
                # Read after subscribing: anything newer arrives on the channel.
                feed.last_seq = await database_sync_to_async(bridge.session_last_seq)(session_id)
                feed.schedule(0)
            feed.consumers.add(consumer)

    async def leave(self, consumer: "SessionConsumer") -> None:
        async with self.lock:
            feed = self.feeds.get(consumer.session_id)
            if feed is None or consumer not in feed.consumers:
                return
            feed.consumers.discard(consumer)
            if not feed.consumers:
                del self.feeds[consumer.session_id]
                if feed.scheduled:
                    feed.scheduled.cancel()
                with contextlib.suppress(Exception):
                    await self.layer.group_discard(group_name(consumer.session_id), self.channel)

    # --- lifecycle -----------------------------------------------------------

    async def _start(self) -> None:
        if self.tasks or self.layer is None:
            return
        self.channel = await self.layer.new_channel()
        self.tasks = [
            self.loop.create_task(self._receive()),
            self.loop.create_task(self._upkeep()),
        ]

    async def start(self) -> None:
        """Run the hub for the life of the worker (the `serve` command)."""
        self.keep_alive = True
        await self._start()

    async def stop(self) -> None:
        tasks, self.tasks = self.tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def shutdown(self, reconnect_after_ms: int) -> None:
        """Tell every local client to go elsewhere and close it with 1012."""
        await asyncio.gather(
            *(consumer.shutdown(reconnect_after_ms) for consumer in list(self.consumers)),
            return_exceptions=True,
        )

    # --- channel layer -------------------------------------------------------

    async def _receive(self) -> None:
        assert self.channel is not None
        while True:
            message = await self.layer.receive(self.channel)
            try:
                self._dispatch(message)
            except Exception:
                logger.exception("hub could not handle %r", message.get("type"))

    def _dispatch(self, message: dict[str, Any]) -> None:
        feed = self.feeds.get(message.get("session_id"))  # type: ignore[arg-type]
        if feed is None:
            return
        if message["type"] == BROADCAST_TYPE:
            feed.offer(message["seq"], message["frame"])
        elif message["type"] in (PRESENCE_TYPE, PROGRESS_TYPE):
            # Neither is in the log: each frame stands alone, sent as it comes.
            self.loop.create_task(feed.send_presence(message["frame"]))

    # --- client upkeep -------------------------------------------------------

    async def _upkeep(self) -> None:
        """Mark local sockets as seen and sweep the stale rows of any worker."""
        interval = max(0.5, settings.STALE_CLIENT_TIMEOUT / 4)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.upkeep_once()
            except Exception:
                logger.exception("client upkeep failed")

    async def upkeep_once(self) -> None:
        stats = [
            ClientStats(consumer.client_id, consumer.frames_in, consumer.frames_out)
            for consumer in self.consumers
        ]
        await database_sync_to_async(clients_heartbeat)(stats)
        gone = await database_sync_to_async(clients_sweep_stale)(
            timeout_s=settings.STALE_CLIENT_TIMEOUT
        )
        await self._report_gone(gone)

    async def forget_worker(self) -> None:
        """Drop this worker's remaining rows (consumers daphne is about to cancel)."""
        await self._report_gone(await database_sync_to_async(clients_drop_worker)(WORKER_ID))

    async def _report_gone(self, gone: list[GoneClient]) -> None:
        for client in gone:
            leave = {
                "type": "presence",
                "action": "leave",
                "user": client.username,
                "client_id": client.client_id,
                "image_id": None,
            }
            await abroadcast_presence(client.session_id, leave)
            await aclient_drop(client.channel_name)


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """This event loop's hub (one per worker; tests get one per test loop)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub(loop)
    return hub
