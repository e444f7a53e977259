"""Each worker's fan-out hub: one channel-layer subscription per session, not per socket.

Stock Channels gives every socket its own channel and group membership, so
each event costs one layer message, one deepcopy and one dispatch per
client (70–155 µs each; bench/ws_bench.py measures both). Here a worker subscribes once per
session, puts the session's events in seq order (waiting briefly for a
late one, then filling the gap from the log), coalesces those that arrive
within a few ms into one `events` frame, and hands the same ready text to
every local consumer. The hub also keeps the worker's presence rows fresh
and sweeps stale ones left by dead sockets or dead workers, and re-checks
its sockets' credentials and roles: when told (a group per user) and
periodically.

One consumer never holds up the others: a send that fails is that
consumer's problem. And since the channel layer may drop messages (a full
channel, a lost connection), each feed compares its seq with the database
every TAIL_CHECK_S and reads what never came from the log.
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

from accounts import credentials
from accounts.events import ACCESS_TYPE, user_group
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
# How often each feed asks the database for its session's newest seq, so
# that a lost last event (no later one reveals the gap) still arrives.
TAIL_CHECK_S = 1.0


class Feed:
    """One session's local consumers and the seq order of its events."""

    def __init__(self, hub: "Hub", session_id: int) -> None:
        self.hub = hub
        self.session_id = session_id
        self.consumers: set[SessionConsumer] = set()
        self.last_seq: int | None = None  # None until read from the database
        self.pending: dict[int, str] = {}
        # The newest seq the database holds, as last read (events up to it exist).
        self.expected = 0
        self.gap_since: float | None = None
        self.scheduled: asyncio.TimerHandle | None = None
        self.lock = asyncio.Lock()

    def offer(self, seq: int, text: str) -> None:
        if self.last_seq is not None and seq <= self.last_seq:
            return
        self.pending[seq] = text
        self.schedule(COALESCE_S)

    def expect(self, seq: int) -> None:
        """The database holds events up to `seq`: deliver them, from the log if they never come."""
        if self.last_seq is not None and seq > max(self.last_seq, self.expected):
            self.expected = seq
            self.schedule(GAP_WAIT_S)

    def missing(self) -> bool:
        assert self.last_seq is not None
        return bool(self.pending) or self.expected > self.last_seq

    def schedule(self, delay: float) -> None:
        if self.scheduled is None:
            self.scheduled = self.hub.loop.call_later(delay, self._start_flush)

    def _start_flush(self) -> None:
        self.scheduled = None
        self.hub.loop.create_task(self.flush())

    async def flush(self) -> None:
        """Deliver the contiguous run after last_seq; fill a gap from the log if it lasts."""
        async with self.lock:
            if self.last_seq is None or not self.missing():
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
                    await _guarded(consumer.push(first, self.last_seq, text, run), consumer)
            if not self.missing():
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
        upto = min(self.pending) if self.pending else None
        missing = await database_sync_to_async(bridge.events_after)(
            self.session_id, self.last_seq, before=upto
        )
        if missing:
            # Dropped by the layer (or later than GAP_WAIT_S): worth seeing in the logs.
            self.hub.missed_events += len(missing)
            logger.warning(
                "session %s: %d event(s) from seq %s did not come through the channel layer;"
                " read from the log (%d on this worker so far)",
                self.session_id,
                len(missing),
                missing[0][0],
                self.hub.missed_events,
            )
        self.pending.update(missing)
        self.gap_since = None
        if self.last_seq + 1 not in self.pending:
            # Not in the log either (the session is being deleted): skip the hole.
            logger.warning(
                "session %s: seq %s is not in the log", self.session_id, self.last_seq + 1
            )
            if self.pending:
                self.last_seq = min(self.pending) - 1
            self.expected = self.last_seq

    async def send_presence(self, text: str) -> None:
        for consumer in list(self.consumers):
            await _guarded(consumer.send_presence(text), consumer)


class Hub:
    """The worker's subscriptions, local consumers and periodic client upkeep."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.feeds: dict[int, Feed] = {}
        self.consumers: set[SessionConsumer] = set()
        # Local consumers by user: the user groups this worker listens to.
        self.users: dict[int, set[SessionConsumer]] = {}
        self.lock = asyncio.Lock()
        self.tasks: list[asyncio.Task] = []
        # Events read from the log because the channel layer did not bring them.
        self.missed_events = 0
        # `serve` keeps the upkeep running with no clients: every worker sweeps.
        self.keep_alive = False

    # --- consumers -----------------------------------------------------------

    async def attach(self, consumer: "SessionConsumer") -> None:
        """Track an accepted consumer (statistics, access, shutdown); not yet subscribed."""
        self.consumers.add(consumer)
        await self._start()
        user_id = consumer.credential.user_id
        if user_id not in self.users:
            self.users[user_id] = set()
            if self.channel is not None:
                await self.layer.group_add(user_group(user_id), self.channel)
        self.users[user_id].add(consumer)

    async def detach(self, consumer: "SessionConsumer") -> None:
        self.consumers.discard(consumer)
        await self.leave(consumer)
        user_id = consumer.credential.user_id
        same_user = self.users.get(user_id)
        if same_user is not None:
            same_user.discard(consumer)
            if not same_user:
                del self.users[user_id]
                with contextlib.suppress(Exception):
                    await self.layer.group_discard(user_group(user_id), self.channel)
        if not self.consumers and not self.keep_alive:
            await self.stop()

    def forget(self, consumer: "SessionConsumer") -> None:
        """Drop a consumer that ended without disconnect() (it raised, or was cancelled).

        Out of `consumers` at once, so that the heartbeat stops refreshing its
        row and the stale sweep removes it; the rest of the detach follows.
        """
        if consumer in self.consumers:
            self.consumers.discard(consumer)
            self.loop.create_task(self.detach(consumer))

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
        upkeep_s = max(0.5, settings.STALE_CLIENT_TIMEOUT / 4)
        self.tasks = [
            self.loop.create_task(self._receive()),
            self.loop.create_task(self._every(upkeep_s, self.upkeep_once, "client upkeep")),
            self.loop.create_task(self._every(TAIL_CHECK_S, self.check_tails_once, "tail check")),
            self.loop.create_task(
                self._every(settings.TAGGER_WS_RECHECK_S, self.recheck_all_once, "access re-check")
            ),
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
            try:
                message = await self.layer.receive(self.channel)
            except Exception:
                # Redis gone for a moment: the tail check refills what this loses.
                logger.exception("hub could not read its channel")
                await asyncio.sleep(1)
                continue
            try:
                self._dispatch(message)
            except Exception:
                logger.exception("hub could not handle %r", message.get("type"))

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message["type"] == ACCESS_TYPE:
            self.loop.create_task(self.recheck_user(message["user_id"], message["ended_session"]))
            return
        feed = self.feeds.get(message.get("session_id"))  # type: ignore[arg-type]
        if feed is None:
            return
        if message["type"] == BROADCAST_TYPE:
            feed.offer(message["seq"], message["frame"])
        elif message["type"] in (PRESENCE_TYPE, PROGRESS_TYPE):
            # Neither is in the log: each frame stands alone, sent as it comes.
            self.loop.create_task(feed.send_presence(message["frame"]))

    async def _every(self, interval: float, step, what: str) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await step()
            except Exception:
                logger.exception("%s failed", what)

    async def check_tails_once(self) -> None:
        """Compare each feed's seq with the database's; a feed behind it reads the log."""
        if not self.feeds:
            return
        latest = await database_sync_to_async(bridge.sessions_last_seq)(list(self.feeds))
        for session_id, seq in latest.items():
            feed = self.feeds.get(session_id)
            if feed is not None:
                feed.expect(seq)

    # --- access ----------------------------------------------------------------

    async def recheck_user(self, user_id: int, ended_session: str | None) -> None:
        """A user's access changed somewhere: close or downgrade their local sockets."""
        consumers = list(self.users.get(user_id, ()))
        ended = [
            c for c in consumers if ended_session and c.credential.session_digest == ended_session
        ]
        for consumer in ended:
            await _guarded(consumer.apply_access(credentials.SIGNED_OUT, None), consumer)
        await self._recheck([c for c in consumers if c not in ended])

    async def recheck_all_once(self) -> None:
        """Re-check every local socket: nothing depends on one message arriving."""
        await self._recheck(list(self.consumers))

    async def _recheck(self, consumers: "list[SessionConsumer]") -> None:
        if not consumers:
            return
        verdicts = await database_sync_to_async(bridge.access_now)(
            [(consumer.credential, consumer.session_id) for consumer in consumers]
        )
        for consumer, (lapsed, role) in zip(consumers, verdicts, strict=True):
            await _guarded(consumer.apply_access(lapsed, role), consumer)

    # --- client upkeep -------------------------------------------------------

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


async def _guarded(step, consumer: "SessionConsumer") -> None:
    """Run one consumer's step; its failure is logged, never the others' problem."""
    try:
        await step
    except Exception:
        logger.exception("consumer %s failed", consumer.client_id)


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def get_hub() -> Hub:
    """This event loop's hub (one per worker; tests get one per test loop)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub(loop)
    return hub
