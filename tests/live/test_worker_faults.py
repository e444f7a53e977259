"""Fifty clients editing through two workers while one is stopped and the other killed.

SIGTERM must drain (acks for what committed, `shutdown`, 1012); SIGKILL
loses the sockets but nothing acked. Afterwards every acked edit is in the
log and on its image, the log is gapless, and every client, resuming where
it stopped, saw every event exactly once.
"""

import asyncio
import os
import random
import signal

import pytest
from channels.db import database_sync_to_async
from websockets.exceptions import ConnectionClosed

from sessions_app import services
from sessions_app.models import SessionEvent, SessionImageTag
from tests.support.images import make_image
from tests.support.sockets import Client, last_seq
from tests.support.workers import start_worker
from tests.support.ws import token_for

pytestmark = [pytest.mark.daphne, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

db = database_sync_to_async

CLIENTS = 50
EDITS_PER_PHASE = 4


class Editor:
    """One client's whole life: its sockets in turn, what it saw and what was acked."""

    def __init__(self, index: int, token: str, image_ids: list[int]) -> None:
        self.index, self.token, self.image_ids = index, token, image_ids
        self.client: Client | None = None
        self.seen: list[int] = []
        self.acked: dict[str, int] = {}
        self.sent = 0

    async def connect(self, worker, session_id: int, base: int) -> None:
        resume = self.seen[-1] if self.seen else base
        self.client = await Client.open(worker.url(session_id), self.token, resume)
        self.client.seqs = self.seen  # one list across reconnects

    async def edit(self, count: int) -> None:
        assert self.client is not None
        for _ in range(count):
            ref = f"c{self.index}e{self.sent}"
            self.sent += 1
            await self.client.add_tags(ref, self.image_ids[self.sent % len(self.image_ids)], ref)

    async def read_until_closed(self) -> None:
        assert self.client is not None
        try:
            while True:
                await self.client.read(timeout=30)
                self.keep_acks()
        except ConnectionClosed:
            self.keep_acks()

    def keep_acks(self) -> None:
        assert self.client is not None
        self.acked.update({ref: seq for ref, seq in self.client.acks.items() if seq is not None})


async def test_fifty_clients_through_sigterm_then_sigkill_lose_no_acked_edit(
    session, alice, bob, redis_url
):
    def add_images():
        images = [make_image(color=(i, 3 * i, 5 * i), name=f"fault{i}.png") for i in range(10)]
        services.session_images_add(session, actor=alice, images=images)
        return [image.pk for image in images]

    image_ids = await db(add_images)()
    base = await db(last_seq)(session.pk)
    token = await db(token_for)(bob)
    editors = [Editor(index, token, image_ids) for index in range(CLIENTS)]
    prefix = f"t{os.getpid()}-{random.randrange(10**9)}"
    started = []

    def worker():
        started.append(start_worker(redis_url=redis_url, CHANNEL_LAYER_PREFIX=prefix))
        return started[-1]

    try:
        stopped, killed = worker(), worker()
        half = CLIENTS // 2
        for editor in editors:
            target = stopped if editor.index < half else killed
            await editor.connect(target, session.pk, base)
        # Edits in flight on both workers when the first one is told to stop.
        await asyncio.gather(*(editor.edit(EDITS_PER_PHASE) for editor in editors))
        stopped.process.send_signal(signal.SIGTERM)
        await asyncio.gather(*(editor.read_until_closed() for editor in editors[:half]))
        assert {editor.client.ws.close_code for editor in editors[:half]} == {1012}
        assert await asyncio.to_thread(stopped.process.wait, 15) == 0
        # Everyone on the survivor now, editing again; then it dies without a word.
        spare = worker()
        for editor in editors[:half]:
            await editor.connect(killed, session.pk, base)
        await asyncio.gather(*(editor.edit(EDITS_PER_PHASE) for editor in editors))
        killed.process.send_signal(signal.SIGKILL)
        await asyncio.gather(*(editor.read_until_closed() for editor in editors))
        killed.process.wait()
        # Back on the spare worker: resume from the log, edit, and see everything.
        for editor in editors:
            await editor.connect(spare, session.pk, base)
        await asyncio.gather(*(editor.edit(EDITS_PER_PHASE) for editor in editors))
        # Each editor's last phase is acked once the spare has committed them all.
        await asyncio.gather(*(editor.client.until_acks(EDITS_PER_PHASE) for editor in editors))
        final = await db(last_seq)(session.pk)
        await asyncio.gather(*(editor.client.until_seq(final) for editor in editors))
        for editor in editors:
            editor.keep_acks()
            await editor.client.ws.close()
    finally:
        for process in (w.process for w in started):
            if process.poll() is None:
                process.kill()
                process.wait()

    logged = await db(list)(
        SessionEvent.objects.filter(session=session, seq__gt=base)
        .order_by("seq")
        .values_list("seq", "payload")
    )
    assert [seq for seq, _ in logged] == list(range(base + 1, final + 1)), "log has a gap"
    added_at = {payload["added"][0]: seq for seq, payload in logged}
    tags = set(await db(list)(SessionImageTag.objects.values_list("tag__name", flat=True)))
    acked = {ref: seq for editor in editors for ref, seq in editor.acked.items()}
    lost = [ref for ref, seq in acked.items() if added_at.get(ref) != seq or ref not in tags]
    print(f"{len(acked)} acked edits, {len(lost)} acked edits lost, log gapless to {final}")
    assert lost == []
    # At least the last phase's, on the spare worker; the others' until the signals.
    assert len(acked) >= CLIENTS * EDITS_PER_PHASE
    for editor in editors:
        assert editor.seen == list(range(base + 1, final + 1)), f"client {editor.index}"
