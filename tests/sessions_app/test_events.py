"""The log is written in the edit's transaction; the broadcast follows the commit."""

import asyncio
import threading

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.db import connection, transaction

from sessions_app import services
from sessions_app.events import group_name
from sessions_app.models import SessionImage, SessionImageTag


async def drain(layer, channel, wait: float = 0.3) -> list[dict]:
    """Everything the channel has received, waiting `wait` seconds for stragglers."""
    messages = []
    while True:
        try:
            messages.append(await asyncio.wait_for(layer.receive(channel), wait))
        except TimeoutError:
            return messages


def listen_while(session, action) -> list[dict]:
    """Join the session's group, run `action` in a worker thread, return what arrived."""

    async def scenario():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(group_name(session.pk), channel)
        try:
            await drain(layer, channel, wait=0.05)
            await sync_to_async(action)()
            return await drain(layer, channel)
        finally:
            await layer.group_discard(group_name(session.pk), channel)

    return async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_edit_is_broadcast_after_commit(session, session_images, bob):
    states = []
    messages = listen_while(
        session,
        lambda: states.append(
            services.tags_add(session, session_images[0].pk, actor=bob, names=["cat"])
        ),
    )
    (message,) = messages
    assert message["type"] == "session.event"
    event = message["event"]
    assert (event["seq"], event["kind"], event["actor"]) == (
        states[0].seq,
        "tags.changed",
        "bob",
    )
    assert event["payload"]["tags"][0]["name"] == "cat"


@pytest.mark.django_db(transaction=True)
def test_rolled_back_edit_is_neither_logged_nor_broadcast(session, session_images, bob):
    last_seq = session.events.count()

    def failing_caller():
        with pytest.raises(RuntimeError), transaction.atomic():
            services.tags_add(session, session_images[0].pk, actor=bob, names=["cat"])
            raise RuntimeError("the caller fails after the service")

    assert listen_while(session, failing_caller) == []
    assert session.events.count() == last_seq
    session.refresh_from_db()
    assert session.last_seq == last_seq
    assert not SessionImageTag.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_editors_of_one_image_lose_nothing(session, session_images, alice, bob):
    """Writers queue on the database's lock (IMMEDIATE on SQLite, row locks on PostgreSQL)."""
    image = session_images[0]
    errors: list[BaseException] = []

    def edit(user, prefix):
        try:
            for index in range(15):
                services.tags_add(session, image.pk, actor=user, names=[f"{prefix}{index}"])
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=edit, args=(u, p)) for u, p in ((alice, "a"), (bob, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert SessionImageTag.objects.filter(entry__image=image).count() == 30
    assert SessionImage.objects.get(image=image).version == 30
    seqs = list(session.events.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


def test_sqlite_runs_in_wal_mode_with_immediate_transactions(db):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite-only settings")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        # 64 MiB of page cache per connection, not SQLite's 2 MiB.
        cursor.execute("PRAGMA cache_size")
        assert cursor.fetchone()[0] == -64 * 1024
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
