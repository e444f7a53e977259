"""Real `manage.py serve` workers on loopback ports, driven by `websockets` clients."""

import asyncio
import os
import random
import signal
import subprocess
import sys
import time

import pytest
from channels.db import database_sync_to_async
from websockets.exceptions import ConnectionClosed

from sessions_app import services
from sessions_app.models import ClientConnection, SessionEvent, SessionImageTag
from tests.support.images import make_image
from tests.support.sockets import Client, last_seq, origin_of
from tests.support.workers import ROOT, workers
from tests.support.ws import token_for

pytestmark = [pytest.mark.daphne, pytest.mark.django_db(transaction=True)]

db = database_sync_to_async


async def test_two_workers_serve_one_session_through_redis(
    session, session_images, alice, bob, redis_url
):
    base = await db(last_seq)(session.pk)
    tokens = [await db(token_for)(user) for user in (alice, bob)]
    prefix = f"t{os.getpid()}-{random.randrange(10**9)}"
    with workers(2, redis_url=redis_url, CHANNEL_LAYER_PREFIX=prefix) as (one, two):
        first = await Client.open(one.url(session.pk), tokens[0], base)
        second = await Client.open(two.url(session.pk), tokens[1], base)
        for index in range(10):
            await first.add_tags(f"a{index}", session_images[index % 3].pk, f"a{index}")
            await second.add_tags(f"b{index}", session_images[index % 3].pk, f"b{index}")
        final = base + 20
        await first.until_seq(final)
        await second.until_seq(final)
        assert first.seqs == second.seqs == list(range(base + 1, final + 1))
        for client in (first, second):
            await client.until_acks(10)
            await client.ws.close()
    assert await db(SessionImageTag.objects.count)() == 20


async def test_sigterm_sends_shutdown_and_1012_and_clients_resume_on_another_worker(
    session, session_images, alice, bob
):
    base = await db(last_seq)(session.pk)
    tokens = [await db(token_for)(user) for user in (alice, bob)]
    with workers(2) as (doomed, survivor):
        client = await Client.open(doomed.url(session.pk), tokens[0], base)
        other = await Client.open(survivor.url(session.pk), tokens[1], base)
        for index in range(8):
            await client.add_tags(f"e{index}", session_images[0].pk, f"e{index}")
        await client.until(lambda frame: frame["type"] == "ack")
        stopped_at = time.monotonic()
        doomed.process.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed):
            while True:
                await client.read()
        assert client.ws.close_code == 1012, str([f["type"] for f in client.frames])
        shutdown = [frame for frame in client.frames if frame["type"] == "shutdown"]
        assert shutdown[0]["reconnect_after_ms"] > 0
        assert await asyncio.to_thread(doomed.process.wait, 10) == 0
        assert time.monotonic() - stopped_at < 5
        # Every acked edit is in the log and on the image.
        for ref, seq in client.acks.items():
            event = await db(SessionEvent.objects.get)(session=session, seq=seq)
            assert event.payload["added"] == [ref]
        # The session moves on while the client is away.
        for index in range(3):
            await other.add_tags(f"o{index}", session_images[1].pk, f"o{index}")
        await other.until_acks(3)
        resumed = await Client.open(
            survivor.url(session.pk), tokens[0], client.seqs[-1] if client.seqs else base
        )
        final = await db(last_seq)(session.pk)
        await resumed.until_seq(final)
        assert client.seqs + resumed.seqs == list(range(base + 1, final + 1))
        assert await db(ClientConnection.objects.count)() == 2
        await resumed.ws.close()
        await other.ws.close()


VICTIM = """
import asyncio, json, sys
from websockets.asyncio.client import connect

async def main():
    url, origin, token = sys.argv[1:4]
    headers = {"Authorization": "Bearer " + token}
    async with connect(url, origin=origin, additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "hello", "last_seq": 0}))
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "welcome":
                print(frame["client_id"], flush=True)
                await asyncio.sleep(600)

asyncio.run(main())
"""


async def test_frozen_client_leaves_presence_within_the_timeout(session, alice, bob):
    timeout = 3
    tokens = [await db(token_for)(user) for user in (alice, bob)]
    with workers(1, STALE_CLIENT_TIMEOUT=str(timeout)) as (worker,):
        watcher = await Client.open(worker.url(session.pk), tokens[0], 0)
        victim = subprocess.Popen(
            [
                sys.executable,
                "-c",
                VICTIM,
                worker.url(session.pk),
                origin_of(worker.url(session.pk)),
                tokens[1],
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            client_id = (await asyncio.to_thread(victim.stdout.readline)).strip()
            assert client_id
            # Stopped, not killed: no close frame, no FIN, no pong: the network is gone.
            victim.send_signal(signal.SIGSTOP)
            frozen_at = time.monotonic()
            await watcher.until(
                lambda frame: (
                    frame["type"] == "presence"
                    and frame["action"] == "leave"
                    and frame["client_id"] == client_id
                ),
                timeout=timeout + 5,
            )
            assert time.monotonic() - frozen_at <= timeout + 3
            rows = await db(list)(ClientConnection.objects.values_list("client_id", flat=True))
            assert rows == [watcher.welcome["client_id"]]
        finally:
            victim.kill()
            victim.wait()
        await watcher.ws.close()


@pytest.mark.slow
async def test_fifty_clients_forty_edits_each_lose_and_repeat_nothing(session, alice, bob):
    clients_count, edits_each = 50, 40

    def add_images():
        images = [make_image(color=(i, 2 * i, 3 * i), name=f"load{i}.png") for i in range(20)]
        services.session_images_add(session, actor=alice, images=images)
        return [image.pk for image in images]

    image_ids = await db(add_images)()
    base = await db(last_seq)(session.pk)
    token = await db(token_for)(bob)
    rng = random.Random(4)
    plan = {(c, e): rng.choice(image_ids) for c in range(clients_count) for e in range(edits_each)}
    with workers(1) as (worker,):
        clients = await asyncio.gather(
            *(Client.open(worker.url(session.pk), token, base) for _ in range(clients_count))
        )

        async def run(index: int, client: Client) -> None:
            for edit in range(edits_each):
                await client.add_tags(f"{edit}", plan[index, edit], f"c{index}e{edit}")
            await client.until_seq(base + clients_count * edits_each)
            await client.until_acks(edits_each)

        await asyncio.gather(*(run(index, client) for index, client in enumerate(clients)))
        for client in clients:
            await client.ws.close()
    expected_seqs = list(range(base + 1, base + clients_count * edits_each + 1))
    for client in clients:
        assert client.seqs == expected_seqs
        assert all(seq is not None for seq in client.acks.values())
    rows = await db(list)(SessionImageTag.objects.values_list("tag__name", "entry__image_id"))
    assert sorted(rows) == sorted((f"c{c}e{e}", image_id) for (c, e), image_id in plan.items())
    logged = await db(list)(
        SessionEvent.objects.filter(session=session, seq__gt=base).values_list("seq", flat=True)
    )
    assert logged == expected_seqs
