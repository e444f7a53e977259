"""Run a Tagger worker: daphne's server in-process with the project's ASGI app.

Running daphne ourselves lets the worker own its shutdown: on SIGTERM or
SIGINT it stops accepting, tells each WebSocket client `shutdown`, lets an
edit in flight commit and be acked, closes with 1012 and exits. daphne's own
handlers would cancel the consumers instead, leaking presence rows and
dropping acks.
"""

import argparse
import asyncio
import gc
import logging
import signal
import time

from autobahn.util import encode_truncate
from channels.routing import get_default_application
from daphne.endpoints import build_endpoint_description_strings
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, connection
from django.urls import get_resolver

from jobs.worker import start_in_thread
from live.hub import get_hub
from tags.labels import load_vocabulary

logger = logging.getLogger(__name__)

# How long closing clients get to answer the close handshake before the
# reactor stops and daphne cancels whatever is left.
CLOSE_WAIT_S = 2.0


# How long a stopping server waits for its job worker to give its job back.
JOBS_STOP_WAIT_S = 30.0


# Close codes a server sends (RFC 6455 7.4.1) that autobahn's sendClose refuses:
# it allows an application only 1000 and 3000–4999.
SERVER_CLOSE_CODES = frozenset({1001, 1008, 1011, 1012, 1013})


class TaggerWebSocketProtocol(WebSocketProtocol):
    """daphne's protocol, able to close with 1008 (policy) and 1012 (restart), with a reason."""

    def handle_reply(self, message):
        # daphne drops the close reason; clients show it ("API token revoked").
        if message.get("type") == "websocket.close" and self.state != self.STATE_CONNECTING:
            self.serverClose(code=message.get("code"), reason=message.get("reason"))
        else:
            super().handle_reply(message)

    def serverClose(self, code=None, reason=None):
        code = 1000 if code is None else code
        if code in SERVER_CLOSE_CODES:
            # A close frame holds at most 123 bytes of reason.
            reason_utf8 = encode_truncate(reason, 123) if reason else None
            self.sendCloseFrame(code=code, reasonUtf8=reason_utf8, isReply=False)
        else:
            self.sendClose(code=code, reason=reason)


class TaggerServer(Server):
    """daphne's Server, keeping its listening ports so that shutdown can stop accepting."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ports: list = []

    @property
    def ws_factory(self):
        return self._ws_factory

    @ws_factory.setter
    def ws_factory(self, factory) -> None:
        # Server.run() builds the factory itself; swap in our protocol as it does.
        factory.protocol = TaggerWebSocketProtocol
        self._ws_factory = factory

    def listen_success(self, port) -> None:
        super().listen_success(port)
        self.ports.append(port)


def warm_read_caches() -> None:
    """Read the tag labels the image pages show before the first page asks.

    One scan (~50 ms for 50,000 tags) instead of the first pages each
    fetching ~1,000 labels; frozen next, they cost full collections nothing.
    A database not reachable or not migrated yet leaves the pages to read
    labels as they go.
    """
    try:
        load_vocabulary()
    except DatabaseError as error:
        logger.warning("tag labels not loaded at start: %s", error)
    finally:
        connection.close()  # this thread serves no request


# Full collections after this many collections of the middle generation
# (CPython's default is 10). See freeze_startup_heap.
FULL_COLLECTION_AFTER = 100


def freeze_startup_heap() -> None:
    """Load the URLconf, then hide everything loaded so far from the garbage collector.

    Modules, classes, functions and schemas live as long as the worker, yet
    every full collection walked them all: ~50–80 ms here, once every few
    dozen page requests (each allocates thousands of objects), which made
    those pauses the p99 of every list endpoint.

    Frozen, they also stop damping full collections: CPython skips one while
    the objects promoted since the last are under a quarter of the long-lived
    ones, and next to nothing is long-lived now. Every tenth collection of the
    middle generation became a full one, which freed the request machinery's
    cycles (twisted headers, asyncio tasks) in a 3–5 ms pause inside a request:
    5–6 of 500 filtered pages on the 100k-image bench. Ten times rarer, none
    fell in 500.
    """
    get_resolver().url_patterns  # noqa: B018 - imports the API routers now, not on request one
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_AFTER)


class Command(BaseCommand):
    help = "Serve HTTP and WebSockets with daphne (owns the shutdown sequence)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--reconnect-after-ms",
            type=int,
            default=500,
            help="what `shutdown` frames tell clients to wait before reconnecting",
        )
        parser.add_argument(
            "--jobs",
            action=argparse.BooleanOptionalAction,
            default=settings.TAGGER_WORKER_IN_SERVER,
            help="run a background job worker in this process (TAGGER_WORKER_IN_SERVER)",
        )

    def handle(self, *args, host, port, reconnect_after_ms, jobs, **options):
        self.reconnect_after_ms = reconnect_after_ms
        self.stopping = False
        # Protocol-level pings find sockets whose peer vanished without a close
        # frame well within the stale-client timeout.
        ping = max(1, settings.STALE_CLIENT_TIMEOUT // 3)
        self.server = TaggerServer(
            # settings.ASGI_APPLICATION: the project wires the apps, this app serves them.
            application=get_default_application(),
            endpoints=build_endpoint_description_strings(host=host, port=port),
            signal_handlers=False,
            ping_interval=ping,
            ping_timeout=ping,
            application_close_timeout=5,
            ready_callable=self._ready,
        )
        warm_read_caches()
        freeze_startup_heap()
        # In this process, so that the in-memory channel layer carries its events.
        worker = start_in_thread() if jobs else None
        self.stdout.write(f"Tagger listening on http://{host}:{port}/")
        self.stdout.flush()
        try:
            self.server.run()
        finally:
            if worker is not None and worker.thread is not None:
                worker.stop.set()
                worker.thread.join(JOBS_STOP_WAIT_S)
        self.stdout.write("Tagger worker stopped")

    def _ready(self) -> None:
        loop = asyncio.get_event_loop()
        loop.call_soon(lambda: loop.create_task(get_hub().start()))
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, lambda: loop.create_task(self._shutdown()))

    async def _shutdown(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        for port in self.server.ports:
            port.stopListening()
        hub = get_hub()
        await hub.shutdown(self.reconnect_after_ms)
        deadline = time.monotonic() + CLOSE_WAIT_S
        # Each consumer's disconnect removes its presence row and sends leave.
        while hub.consumers and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await hub.forget_worker()
        await hub.stop()
        self.server.stop()
