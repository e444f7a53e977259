"""Frames that used to crash a socket, and sockets that used to stall the fan-out.

Real `manage.py serve` workers, real sockets: what broke was daphne's handling
of a consumer that raised, which no in-process communicator reproduces.
"""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async

from sessions_app.models import ClientConnection
from tests.support.sockets import Client, last_seq
from tests.support.workers import workers
from tests.support.ws import token_for

pytestmark = [pytest.mark.daphne, pytest.mark.django_db(transaction=True)]

db = database_sync_to_async


def deep_ping(depth: int) -> str:
    return '{"type":"ping","x":' + "[" * depth + "]" * depth + "}"


async def client_ids() -> list[str]:
    return await db(list)(ClientConnection.objects.values_list("client_id", flat=True))


async def test_a_deeply_nested_frame_gets_an_error_and_the_socket_stays(session, bob):
    token = await db(token_for)(bob)
    with workers(1) as (worker,):
        client = await Client.open(worker.url(session.pk), token, 0)
        await client.ws.send(deep_ping(30_000))
        error = await client.until(lambda frame: frame["type"] == "error")
        assert error["code"] == "invalid_json"
        await client.send({"type": "ping"})
        await client.until(lambda frame: frame["type"] == "pong")
        await client.ws.close()


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "focus", "image_id": 10**30},
        {"type": "edit", "id": "e1", "op": "add_tags", "image_id": 10**30, "tags": ["cat"]},
        {"type": "edit", "id": "e2", "op": "set_tags", "image_id": 1, "tags": [], "version": 2**70},
    ],
    ids=["focus", "add_tags", "set_tags_version"],
)
async def test_ids_beyond_the_database_range_are_refused_by_validation(session, bob, frame):
    token = await db(token_for)(bob)
    with workers(1) as (worker,):
        client = await Client.open(worker.url(session.pk), token, 0)
        await client.send(frame)
        error = await client.until(lambda frame: frame["type"] == "error")
        assert error["code"] == "invalid", error
        await client.send({"type": "ping"})
        await client.until(lambda frame: frame["type"] == "pong")
        await client.ws.close()


async def test_frames_queued_after_a_policy_close_leave_no_ghost(session, alice, bob):
    tokens = [await db(token_for)(user) for user in (alice, bob)]
    with workers(1, STALE_CLIENT_TIMEOUT="4") as (worker,):
        watcher = await Client.open(worker.url(session.pk), tokens[0], 0)
        flooder = await Client.open(worker.url(session.pk), tokens[1], 0)
        # Far more than the bad-frame limit, all in flight before the server closes.
        for index in range(80):
            await flooder.ws.send(f"garbage {index}")
        code, _ = await flooder.until_closed()
        assert code == 1008
        gone = flooder.welcome["client_id"]
        await watcher.until(
            lambda frame: (
                frame["type"] == "presence"
                and frame["action"] == "leave"
                and frame["client_id"] == gone
            )
        )
        # Longer than the stale timeout: a ghost kept fresh by the heartbeat would still be here.
        await asyncio.sleep(6)
        assert await client_ids() == [watcher.welcome["client_id"]]
        await watcher.ws.close()


async def test_a_socket_closing_during_fan_out_delays_no_one(session, session_images, alice, bob):
    """Sockets the server is closing (close sent, no answer yet) when an event goes out."""
    tokens = [await db(token_for)(user) for user in (alice, bob)]
    base = await db(last_seq)(session.pk)
    # One bad frame closes a socket: the close starts at a moment the test knows.
    with workers(1, TAGGER_WS_MAX_BAD_FRAMES="1") as (worker,):
        url = worker.url(session.pk)
        observers = []
        # Two rounds: the order of the hub's set (closers before observers or
        # after) is up to memory addresses.
        for round_ in range(2):
            # Interleaved, so that wherever the hub's set starts, a closer comes early.
            closers = []
            for index in range(12):
                if index % 2 == 0:
                    closers.append(await Client.open(url, tokens[1], base + round_))
                elif round_ == 0:
                    observers.append(await Client.open(url, tokens[0], base))
            for closer in closers:
                await closer.ws.send("not json")
                # Never answer the server's close: the socket stays closing for a
                # second (autobahn's close handshake timeout), and the edit lands in it.
                closer.ws.transport.pause_reading()
            await asyncio.sleep(0.5)
            await observers[0].add_tags(f"e{round_}", session_images[0].pk, f"cat{round_}")
            for observer in observers:
                await observer.until_seq(base + round_ + 1, timeout=5)
            for closer in closers:
                closer.ws.transport.resume_reading()
                await closer.ws.close()
        for observer in observers:
            await observer.ws.close()


async def test_many_crashing_frames_in_a_row_keep_presence_exact(session, alice, bob):
    """Each of the frames that used to kill a consumer, on its own socket, then all gone."""
    tokens = [await db(token_for)(user) for user in (alice, bob)]
    with workers(1, STALE_CLIENT_TIMEOUT="4") as (worker,):
        watcher = await Client.open(worker.url(session.pk), tokens[0], 0)
        for text in (deep_ping(30_000), json.dumps({"type": "focus", "image_id": 10**30})):
            victim = await Client.open(worker.url(session.pk), tokens[1], 0)
            await victim.ws.send(text)
            await victim.until(lambda frame: frame["type"] == "error")
            await victim.ws.close()
            await watcher.until(
                lambda frame, gone=victim.welcome["client_id"]: (
                    frame["type"] == "presence"
                    and frame["action"] == "leave"
                    and frame["client_id"] == gone
                )
            )
        assert await client_ids() == [watcher.welcome["client_id"]]
        await watcher.ws.close()
