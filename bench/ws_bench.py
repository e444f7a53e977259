"""WebSocket fan-out: Tagger's hub against a bare `websockets` server and stock Channels.

C clients (50 and 200) sit on one session. Events (~200 bytes, the shape
services broadcast after commit) are written to the session's log and then
published through the channel layer exactly as `sessions_app.events.broadcast`
does, so what is measured is the path from commit to the sockets, and an
event the layer drops can still be read from the log. Two loads per server:

- saturation: N events back to back; events delivered per second, counting
  each event inside a coalesced `events` frame;
- paced: 25 events/s for a few seconds; p50/p99 delay from publish to the
  last client that received it.

Baselines from the same run, same payloads, same client: (a) a bare
`websockets` server doing `broadcast()` (the ceiling); (b) a stock Channels
consumer on daphne that joins the group and relays each group message as it
comes. Channels variants run over the local Redis, with the pub/sub and the
classic layer. Bounded: a few minutes in all.

    PYTHONPATH=. .venv/bin/python bench/ws_bench.py [--quick]
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
PACED_RATE = 25
PACED_SECONDS = 3
PAD = "x" * 120  # brings an event frame to ~200 bytes

BARE_SERVER = """
import asyncio, sys
from websockets.asyncio.server import broadcast, serve
clients = set()
async def handler(ws):
    if ws.request.path == "/pub":
        async for message in ws:
            broadcast(clients, message)
        return
    clients.add(ws)
    try:
        await ws.wait_closed()
    finally:
        clients.discard(ws)
async def main():
    async with serve(handler, "127.0.0.1", int(sys.argv[1]), ping_interval=None):
        await asyncio.get_running_loop().create_future()
asyncio.run(main())
"""

# --- the stock Channels relay, imported by daphne from this file -------------------
if os.environ.get("WS_BENCH_ROLE") == "stock":
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tagger_project.settings")
    django.setup()
    from channels.generic.websocket import AsyncJsonWebsocketConsumer
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.urls import path

    class Relay(AsyncJsonWebsocketConsumer):
        """What a plain Channels app does: one group membership and one send per socket."""

        async def connect(self):
            await self.channel_layer.group_add("session.1", self.channel_name)
            await self.accept()

        async def session_event(self, message):
            await self.send_json(message["event"])

    application = ProtocolTypeRouter(
        {"websocket": URLRouter([path("ws/sessions/<int:sid>/", Relay.as_asgi())])}
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


class Setup:
    """A throwaway SQLite database with a session, a member and its token."""

    def __init__(self, directory: str) -> None:
        self.db_url = f"sqlite:///{directory}/bench.sqlite3"
        os.environ["DATABASE_URL"] = self.db_url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tagger_project.settings")
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        from accounts.services import token_create
        from sessions_app import services

        # The publisher writes each event to the log from its event loop, as
        # simply as a bench can: no thread hop per event.
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        call_command("migrate", verbosity=0)
        user = get_user_model().objects.create(username="bench")
        self.session = services.session_create(owner=user, name="bench").value
        self.token = token_create(user)[1]

    def last_seq(self) -> int:
        self.session.refresh_from_db()
        return self.session.last_seq

    def log(self, seq: int, payload: dict) -> None:
        """Commit the event to the log and move last_seq, as append_event does."""
        from django.db import transaction

        from sessions_app.models import SessionEvent, TaggingSession

        with transaction.atomic():
            TaggingSession.objects.filter(pk=self.session.pk).update(last_seq=seq)
            SessionEvent.objects.create(
                session_id=self.session.pk, seq=seq, kind="tags.changed", payload=payload
            )


class Server:
    def __init__(self, kind: str, layer: str | None, setup: Setup) -> None:
        self.kind, self.layer, self.setup = kind, layer, setup
        self.port = free_port()
        self.prefix = f"wsbench{os.getpid()}{kind}{layer}"
        env = {
            **os.environ,
            "DATABASE_URL": setup.db_url,
            "REDIS_URL": REDIS_URL,
            "REDIS_CHANNEL_LAYER": layer or "pubsub",
            "CHANNEL_LAYER_PREFIX": self.prefix,
            "LOG_LEVEL": "ERROR",
            "PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}",
        }
        if kind == "bare":
            command = [sys.executable, "-c", BARE_SERVER, str(self.port)]
        elif kind == "stock":
            env["WS_BENCH_ROLE"] = "stock"
            command = [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "ws_bench:application",
            ]
        else:
            command = [sys.executable, "manage.py", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_port(self.port, self.process)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def layer_instance(self):
        from channels_redis.core import RedisChannelLayer
        from channels_redis.pubsub import RedisPubSubChannelLayer

        cls = RedisChannelLayer if self.layer == "classic" else RedisPubSubChannelLayer
        return cls(hosts=[REDIS_URL], prefix=self.prefix)


class Clients:
    """C sockets in this process, recording when each event reached each of them."""

    def __init__(self) -> None:
        self.count = 0
        self.last_at: dict[int, float] = {}
        self.tasks: list[asyncio.Task] = []
        self.sockets: list = []

    async def open(self, server: Server, count: int, session_id: int, last_seq: int) -> None:
        from websockets.asyncio.client import connect

        url = f"ws://127.0.0.1:{server.port}/ws/sessions/{session_id}/"
        headers = {"Authorization": f"Bearer {server.setup.token}"}
        for _ in range(count):
            ws = await connect(
                url,
                origin=url.replace("ws://", "http://").split("/ws/")[0],
                additional_headers=headers,
                ping_interval=None,
            )
            if server.kind == "tagger":
                await ws.send(json.dumps({"type": "hello", "last_seq": last_seq}))
            self.sockets.append(ws)
            self.tasks.append(asyncio.create_task(self._read(ws)))
        await asyncio.sleep(0.5)  # let the joins settle

    async def _read(self, ws) -> None:
        async for message in ws:
            now = time.time()
            frame = json.loads(message)
            kind = frame.get("type")
            events = frame["events"] if kind == "events" else [frame] if kind == "event" else []
            for event in events:
                index = event["payload"]["i"]
                self.count += 1
                if now > self.last_at.get(index, 0.0):
                    self.last_at[index] = now

    async def close(self) -> None:
        for ws in self.sockets:
            await ws.close()
        for task in self.tasks:
            task.cancel()


class Publisher:
    """Publishes events as the services' broadcast does (or to the bare server's /pub)."""

    def __init__(self, server: Server, session_id: int, base_seq: int) -> None:
        self.server, self.session_id, self.seq = server, session_id, base_seq
        self.sent_at: dict[int, float] = {}
        self.index = 0

    async def start(self) -> None:
        if self.server.kind == "bare":
            from websockets.asyncio.client import connect

            self.ws = await connect(f"ws://127.0.0.1:{self.server.port}/pub")
        else:
            self.layer = self.server.layer_instance()

    async def publish(self) -> None:
        self.index += 1
        self.seq += 1
        now = time.time()
        event = {
            "type": "event",
            "seq": self.seq,
            "kind": "tags.changed",
            "actor": "bench",
            "payload": {"i": self.index, "t": now, "pad": PAD},
            "at": "2026-01-01T00:00:00+00:00",
        }
        self.sent_at[self.index] = now
        self.server.setup.log(self.seq, event["payload"])
        text = json.dumps(event, separators=(",", ":"))
        if self.server.kind == "bare":
            await self.ws.send(text)
            return
        message = {"type": "session.event", "event": event}
        if self.server.kind == "tagger":
            message.update(session_id=self.session_id, seq=self.seq, frame=text)
        await self.layer.group_send(f"session.{self.session_id}", message)

    async def close(self) -> None:
        if self.server.kind == "bare":
            await self.ws.close()


async def wait_all(clients: Clients, expected: int, idle_s: float = 3.0) -> None:
    seen, stamp = -1, time.monotonic()
    while clients.count < expected and time.monotonic() - stamp < idle_s:
        if clients.count != seen:
            seen, stamp = clients.count, time.monotonic()
        await asyncio.sleep(0.02)


async def measure(server: Server, count: int, events: int, base: int) -> dict:
    setup = server.setup
    clients = Clients()
    await clients.open(server, count, setup.session.pk, base)
    publisher = Publisher(server, setup.session.pk, base)
    await publisher.start()
    # Saturation: everything at once.
    started = time.time()
    for _ in range(events):
        await publisher.publish()
    await wait_all(clients, events * count)
    elapsed = max(clients.last_at.values(), default=started) - started
    delivered = clients.count
    saturation = {
        "rate": delivered / elapsed if elapsed > 0 else 0.0,
        "lost": events * count - delivered,
        "p99_sat": percentile(delays(publisher, clients, range(1, events + 1)), 99),
    }
    # Paced: 25 events/s.
    first = publisher.index + 1
    clients.count = 0
    paced = PACED_RATE * PACED_SECONDS
    for _ in range(paced):
        await publisher.publish()
        await asyncio.sleep(1 / PACED_RATE)
    await wait_all(clients, paced * count)
    lags = delays(publisher, clients, range(first, first + paced))
    await publisher.close()
    await clients.close()
    return {
        **saturation,
        "p50": percentile(lags, 50),
        "p99": percentile(lags, 99),
        "paced_lost": paced * count - clients.count,
    }


def delays(publisher: Publisher, clients: Clients, indexes) -> list[float]:
    return [
        (clients.last_at[i] - publisher.sent_at[i]) * 1000 for i in indexes if i in clients.last_at
    ]


def percentile(values: list[float], pct: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


VARIANTS = [
    ("bare websockets broadcast() (ceiling)", "bare", None),
    ("stock Channels relay, daphne, Redis pub/sub", "stock", "pubsub"),
    ("stock Channels relay, daphne, Redis classic", "stock", "classic"),
    ("Tagger hub (serve), Redis pub/sub", "tagger", "pubsub"),
    ("Tagger hub (serve), Redis classic", "tagger", "classic"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="C=50 only, fewer events")
    args = parser.parse_args()
    sizes = [(50, 300)] if args.quick else [(50, 600), (200, 300)]
    with tempfile.TemporaryDirectory() as directory:
        setup = Setup(directory)
        rows = []
        for label, kind, layer in VARIANTS:
            for count, events in sizes:
                server = Server(kind, layer, setup)
                try:
                    result = asyncio.run(measure(server, count, events, setup.last_seq()))
                finally:
                    server.stop()
                rows.append((label, count, events, result))
                print(f"  measured {label} C={count}", file=sys.stderr)
    report(rows)


def report(rows) -> None:
    print()
    print(
        f"{'server':46} {'C':>4} {'events':>6} {'deliv/s sat':>12} {'lost':>6} "
        f"{'p99 sat ms':>10} {'p50 25/s':>9} {'p99 25/s':>9}"
    )
    for label, count, events, r in rows:
        print(
            f"{label:46} {count:>4} {events:>6} {r['rate']:>12,.0f} "
            f"{r['lost'] + r['paced_lost']:>6} {r['p99_sat']:>10.1f} "
            f"{r['p50']:>9.1f} {r['p99']:>9.1f}"
        )
    print()
    for label, count, _, r in rows:
        if not label.startswith("Tagger"):
            continue
        bare = next(x for x in rows if x[0].startswith("bare") and x[1] == count)[3]
        stock_label = label.replace("Tagger hub (serve)", "stock Channels relay, daphne")
        stock = next(x for x in rows if x[0] == stock_label and x[1] == count)[3]
        print(
            f"{label} C={count}: {r['rate'] / stock['rate']:.1f}× stock Channels, "
            f"{100 * r['rate'] / bare['rate']:.0f}% of bare; p99 at 25/s "
            f"{r['p99'] / bare['p99']:.1f}× bare"
        )


if __name__ == "__main__":
    main()
