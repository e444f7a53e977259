"""The WebSocket door through the real ASGI stack (origin check, auth, routing, hub)."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from django.db import transaction
from django.db.models import F

from live.hub import get_hub
from sessions_app import services
from sessions_app.models import (
    ClientConnection,
    SessionEvent,
    SessionImage,
    SessionImageTag,
    TaggingSession,
)
from tests.support.ws import (
    communicator,
    events_until,
    frame_of_type,
    joined,
    token_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


def tag_names(image_id: int) -> list[str]:
    return list(
        SessionImageTag.objects.filter(entry__image_id=image_id)
        .order_by("position")
        .values_list("tag__name", flat=True)
    )


def last_seq(session_id: int) -> int:
    return TaggingSession.objects.get(pk=session_id).last_seq


async def refused_with(comm) -> int:
    connected, _ = await comm.connect()
    assert connected  # accepted so that the browser sees the code
    message = await comm.receive_output()
    assert message["type"] == "websocket.close"
    return message["code"]


# --- handshake -----------------------------------------------------------------


async def test_anonymous_is_refused_with_4401(session):
    assert await refused_with(await communicator(session.pk)) == 4401


async def test_outsider_is_refused_with_4403(session, dave):
    assert await refused_with(await communicator(session.pk, dave)) == 4403


async def test_unknown_session_is_refused_like_a_foreign_one(session, bob):
    assert await refused_with(await communicator(session.pk + 1000, bob)) == 4403


@pytest.mark.parametrize("origin", [b"http://evil.example", None])
async def test_foreign_or_missing_origin_is_refused(session, bob, origin):
    comm = await communicator(session.pk, bob, origin=origin)
    connected, _ = await comm.connect()
    assert not connected
    assert await db(ClientConnection.objects.count)() == 0


async def test_bearer_token_authenticates_the_handshake(session, bob):
    token = await db(token_for)(bob)
    comm = await communicator(session.pk, headers=[(b"authorization", f"Bearer {token}".encode())])
    assert (await comm.connect())[0]
    await comm.send_json_to({"type": "hello", "last_seq": await db(last_seq)(session.pk)})
    welcome = await frame_of_type(comm, "welcome")
    assert (welcome["user"], welcome["role"]) == ("bob", "editor")
    await comm.disconnect()


async def test_bad_bearer_token_is_anonymous_even_with_a_cookie(session, bob):
    comm = await communicator(session.pk, bob, headers=[(b"authorization", b"Bearer tg_nope")])
    assert await refused_with(comm) == 4401


# --- resume ----------------------------------------------------------------------


async def test_hello_replays_the_log_after_last_seq(session, session_images, bob):
    for index in range(5):
        await db(services.tags_add)(session, session_images[0].pk, actor=bob, names=[f"t{index}"])
    current = await db(last_seq)(session.pk)
    comm, welcome = await joined(session.pk, bob, last_seq=2)
    assert welcome["seq"] == current
    assert welcome["client_id"] in [p["client_id"] for p in welcome["present"]]
    events = await events_until(comm, current)
    assert [event["seq"] for event in events] == list(range(3, current + 1))
    assert events[-1]["kind"] == "tags.changed"
    assert events[-1]["payload"]["added"] == ["t4"]
    await comm.disconnect()


@pytest.mark.parametrize("behind", ["too_far", "ahead"])
async def test_resync_when_the_log_cannot_bridge_the_gap(
    session, session_images, bob, settings, behind
):
    settings.TAGGER_MAX_REPLAY = 2
    current = await db(last_seq)(session.pk)
    asked = 0 if behind == "too_far" else current + 50
    comm, _ = await joined(session.pk, bob, last_seq=asked)
    assert (await frame_of_type(comm, "resync"))["seq"] == current
    # Live from here on, without the old events.
    state = await db(services.tags_add)(session, session_images[0].pk, actor=bob, names=["cat"])
    events = await events_until(comm, state.seq)
    assert [event["seq"] for event in events] == [current + 1]
    await comm.disconnect()


@transaction.atomic
def log_without_broadcast(session) -> None:
    """An event in the log whose broadcast never goes out (a message the layer dropped)."""
    TaggingSession.objects.filter(pk=session.pk).update(last_seq=F("last_seq") + 1)
    seq = last_seq(session.pk)
    SessionEvent.objects.create(session=session, seq=seq, kind="note", payload={})


async def test_lost_broadcast_is_filled_from_the_log(session, session_images, bob):
    """An event whose broadcast never came is read from the log: no gap on the socket."""
    comm, welcome = await joined(session.pk, bob, last_seq=await db(last_seq)(session.pk))
    await db(log_without_broadcast)(session)
    state = await db(services.tags_add)(session, session_images[0].pk, actor=bob, names=["cat"])
    events = await events_until(comm, state.seq)
    assert [(e["seq"], e["kind"]) for e in events] == [
        (welcome["seq"] + 1, "note"),
        (welcome["seq"] + 2, "tags.changed"),
    ]
    await comm.disconnect()


async def test_a_lost_last_broadcast_arrives_without_a_later_edit(session, session_images, bob):
    """The last event of a burst, its broadcast dropped: read from the log with no edit after it."""
    comm, welcome = await joined(session.pk, bob, last_seq=await db(last_seq)(session.pk))
    # An event through the live path first: the replay after hello is over.
    state = await db(services.tags_add)(session, session_images[0].pk, actor=bob, names=["cat"])
    await events_until(comm, state.seq)
    await db(log_without_broadcast)(session)
    events = await events_until(comm, welcome["seq"] + 2, timeout=5)
    assert [(e["seq"], e["kind"]) for e in events] == [(welcome["seq"] + 2, "note")]
    # Counted (this test's loop has its own hub), so that a layer dropping messages shows.
    assert get_hub().missed_events == 1
    await comm.disconnect()


# --- edits -------------------------------------------------------------------------


async def test_edit_is_acked_after_commit_and_reaches_everyone(session, session_images, alice, bob):
    image_id = session_images[0].pk
    watcher, _ = await joined(session.pk, alice, last_seq=await db(last_seq)(session.pk))
    editor, _ = await joined(session.pk, bob, last_seq=await db(last_seq)(session.pk))
    await editor.send_json_to(
        {"type": "edit", "id": "c-1", "op": "add_tags", "image_id": image_id, "tags": ["Red_Hair"]}
    )
    ack = await frame_of_type(editor, "ack")
    assert ack["id"] == "c-1"
    assert await db(tag_names)(image_id) == ["red hair"]
    (event,) = await events_until(watcher, ack["seq"])
    assert (event["seq"], event["actor"], event["payload"]["added"]) == (
        ack["seq"],
        "bob",
        ["red hair"],
    )
    for op, extra in (
        ("set_tags", {"tags": ["b", "a"], "version": 1}),
        ("remove_tags", {"tags": ["a"]}),
        ("set_status", {"status": "reviewed"}),
    ):
        await editor.send_json_to(
            {"type": "edit", "id": op, "op": op, "image_id": image_id, **extra}
        )
        ack = await frame_of_type(editor, "ack")
        assert ack["id"] == op
        (event,) = (await events_until(watcher, ack["seq"]))[-1:]
        assert event["seq"] == ack["seq"]
    assert await db(tag_names)(image_id) == ["b"]
    entry = await db(SessionImage.objects.get)(session=session, image_id=image_id)
    assert entry.status == "reviewed"
    await watcher.disconnect()
    await editor.disconnect()


async def test_welcome_comes_first_while_others_move_about(session, session_images, alice, bob):
    """Presence arriving between joining the feed and `welcome` waits for the welcome."""
    watcher, _ = await joined(session.pk, alice, last_seq=await db(last_seq)(session.pk))

    async def wander():
        for index in range(40):
            image_id = session_images[index % len(session_images)].pk
            await watcher.send_json_to({"type": "focus", "image_id": image_id})
            await asyncio.sleep(0.005)

    walking = asyncio.ensure_future(wander())
    try:
        for _ in range(4):
            comm = await communicator(session.pk, bob)
            connected, _ = await comm.connect()
            assert connected
            await comm.send_json_to({"type": "hello", "last_seq": 0})
            first = await comm.receive_json_from(timeout=3)
            assert first["type"] == "welcome", first
            await comm.disconnect()
    finally:
        await walking
        await watcher.disconnect()


async def test_concurrent_set_tags_with_one_version_conflict(session, session_images, alice, bob):
    image_id = session_images[0].pk
    first, _ = await joined(session.pk, alice, last_seq=await db(last_seq)(session.pk))
    second, _ = await joined(session.pk, bob, last_seq=await db(last_seq)(session.pk))
    for comm, tags in ((first, ["one"]), (second, ["two"])):
        await comm.send_json_to(
            {
                "type": "edit",
                "id": 7,
                "op": "set_tags",
                "image_id": image_id,
                "tags": tags,
                "version": 0,
            }
        )
    outcomes = [
        await read_ack_or_error(first),
        await read_ack_or_error(second),
    ]
    assert sorted(frame["type"] for frame in outcomes) == ["ack", "error"]
    error = next(frame for frame in outcomes if frame["type"] == "error")
    assert (error["code"], error["id"]) == ("stale_version", 7)
    assert error["current"]["version"] == 1
    winner = ["one"] if outcomes[0]["type"] == "ack" else ["two"]
    assert await db(tag_names)(image_id) == winner
    await first.disconnect()
    await second.disconnect()


async def read_ack_or_error(comm) -> dict:
    while True:
        frame = json.loads(await comm.receive_from())
        if frame["type"] in ("ack", "error"):
            return frame


async def test_viewer_edit_is_refused_and_changes_nothing(session, session_images, carol):
    comm, _ = await joined(session.pk, carol, last_seq=await db(last_seq)(session.pk))
    before = await db(last_seq)(session.pk)
    await comm.send_json_to(
        {
            "type": "edit",
            "id": "v",
            "op": "add_tags",
            "image_id": session_images[0].pk,
            "tags": ["x"],
        }
    )
    error = await frame_of_type(comm, "error")
    assert (error["code"], error["id"]) == ("forbidden", "v")
    assert await db(tag_names)(session_images[0].pk) == []
    assert await db(last_seq)(session.pk) == before
    await comm.send_json_to({"type": "ping"})
    assert (await frame_of_type(comm, "pong"))["type"] == "pong"
    await comm.disconnect()


async def test_edit_of_an_image_outside_the_session_is_not_found(session, session_images, bob):
    comm, _ = await joined(session.pk, bob, last_seq=await db(last_seq)(session.pk))
    await comm.send_json_to(
        {"type": "edit", "id": "x", "op": "add_tags", "image_id": 999_999, "tags": ["x"]}
    )
    assert (await frame_of_type(comm, "error"))["code"] == "not_found"
    await comm.send_json_to(
        {
            "type": "edit",
            "id": "y",
            "op": "add_tags",
            "image_id": session_images[0].pk,
            "tags": ["a,b"],
        }
    )
    assert (await frame_of_type(comm, "error"))["code"] == "invalid_tag"
    assert await db(SessionImageTag.objects.count)() == 0
    await comm.disconnect()


async def test_edits_from_other_doors_reach_the_socket_in_order(
    session, session_images, alice, bob
):
    comm, welcome = await joined(session.pk, alice, last_seq=await db(last_seq)(session.pk))

    def burst():
        return [
            services.tags_add(session, image.pk, actor=bob, names=[f"n{i}"]).seq
            for i, image in enumerate(session_images * 3)
        ]

    seqs = await db(burst)()
    events = await events_until(comm, seqs[-1])
    assert [event["seq"] for event in events] == list(range(welcome["seq"] + 1, seqs[-1] + 1))
    await comm.disconnect()


# --- undo and redo ---------------------------------------------------------------


async def test_undo_and_redo_are_acked_and_reach_everyone(session, session_images, alice, bob):
    image_id = session_images[0].pk
    await db(services.tags_add)(session, image_id, actor=bob, names=["a"])
    await db(services.tags_add)(session, image_id, actor=bob, names=["b"])
    watcher, _ = await joined(session.pk, alice, last_seq=await db(last_seq)(session.pk))
    editor, _ = await joined(session.pk, bob, last_seq=await db(last_seq)(session.pk))

    await editor.send_json_to({"type": "edit", "id": "u", "op": "undo"})
    ack = await frame_of_type(editor, "ack")
    assert (ack["id"], ack["seq"]) == ("u", await db(last_seq)(session.pk))
    assert await db(tag_names)(image_id) == ["a"]
    (event,) = await events_until(watcher, ack["seq"])
    assert (event["seq"], event["actor"], event["kind"]) == (ack["seq"], "bob", "tags.changed")
    assert (event["payload"]["removed"], event["payload"]["undo_of"]) == (["b"], ack["seq"] - 1)

    await editor.send_json_to({"type": "edit", "id": "r", "op": "redo"})
    ack = await frame_of_type(editor, "ack")
    assert (ack["id"], ack["seq"]) == ("r", await db(last_seq)(session.pk))
    assert await db(tag_names)(image_id) == ["a", "b"]
    (event,) = await events_until(watcher, ack["seq"])
    assert (event["payload"]["added"], event["payload"]["redo_of"]) == (["b"], ack["seq"] - 1)
    await watcher.disconnect()
    await editor.disconnect()


async def test_nothing_to_undo_or_redo_is_a_conflict_error(session, session_images, bob):
    comm, _ = await joined(session.pk, bob, last_seq=await db(last_seq)(session.pk))
    before = await db(last_seq)(session.pk)
    for op in ("undo", "redo"):
        await comm.send_json_to({"type": "edit", "id": op, "op": op})
        error = await frame_of_type(comm, "error")
        assert (error["code"], error["id"], error["message"]) == (
            "conflict",
            op,
            f"nothing to {op}",
        )
    assert await db(last_seq)(session.pk) == before
    await comm.disconnect()


async def test_undo_after_someone_elses_edit_is_refused_and_changes_nothing(
    session, session_images, alice, bob
):
    image_id = session_images[0].pk
    await db(services.tags_add)(session, image_id, actor=bob, names=["mine"])
    await db(services.tags_add)(session, image_id, actor=alice, names=["hers"])
    comm, _ = await joined(session.pk, bob, last_seq=await db(last_seq)(session.pk))
    before = await db(last_seq)(session.pk)
    await comm.send_json_to({"type": "edit", "id": 3, "op": "undo"})
    error = await frame_of_type(comm, "error")
    assert (error["code"], error["id"]) == ("conflict", 3)
    assert error["message"] == f"image {image_id} was changed by someone else since; undo refused"
    assert await db(tag_names)(image_id) == ["mine", "hers"]
    assert await db(last_seq)(session.pk) == before
    await comm.disconnect()


async def test_viewer_undo_is_refused(session, session_images, carol):
    comm, _ = await joined(session.pk, carol, last_seq=await db(last_seq)(session.pk))
    before = await db(last_seq)(session.pk)
    await comm.send_json_to({"type": "edit", "id": "v", "op": "undo"})
    error = await frame_of_type(comm, "error")
    assert (error["code"], error["id"]) == ("forbidden", "v")
    assert await db(last_seq)(session.pk) == before
    await comm.disconnect()


# --- bad frames ------------------------------------------------------------------


BAD_FRAMES = [
    ("not json", "invalid_json"),
    ("[1, 2]", "invalid"),
    ('{"type": "dance"}', "unknown_type"),
    ('{"type": "edit", "id": "e", "op": "paint", "image_id": 1}', "invalid"),
    ('{"type": "edit", "id": "e", "op": "add_tags", "image_id": "1", "tags": ["a"]}', "invalid"),
    ('{"type": "edit", "id": "e", "op": "add_tags", "image_id": 1, "tags": "a"}', "invalid"),
    ('{"type": "edit", "id": "e", "op": "set_tags", "image_id": 1, "tags": []}', "invalid"),
    ('{"type": "edit", "id": "e", "op": "set_status", "image_id": 1, "status": "x"}', "invalid"),
    ('{"type": "focus", "image_id": true}', "invalid"),
    ('{"type": "hello", "last_seq": -1}', "invalid"),
    ('{"type": "edit", "id": "e", "op": "undo", "image_id": 1}', "invalid"),
    ('{"type": "edit", "op": "redo"}', "invalid"),
    ("x" * 70_000, "too_large"),
]


async def test_bad_frames_get_errors_and_the_connection_stays(
    session, session_images, bob, settings
):
    settings.TAGGER_WS_MAX_BAD_FRAMES = 50
    comm, _ = await joined(session.pk, bob, last_seq=await db(last_seq)(session.pk))
    before = await db(last_seq)(session.pk)
    for text, code in BAD_FRAMES:
        await comm.send_to(text_data=text)
        error = await frame_of_type(comm, "error")
        assert error["code"] == code, text[:80]
    await comm.send_to(bytes_data=b"\x00\x01")
    assert (await frame_of_type(comm, "error"))["code"] == "invalid"
    await comm.send_json_to({"type": "hello", "last_seq": 0})
    assert (await frame_of_type(comm, "error"))["message"] == "hello was already received"
    await comm.send_json_to({"type": "ping"})
    assert (await frame_of_type(comm, "pong"))["type"] == "pong"
    assert await db(last_seq)(session.pk) == before
    assert await db(SessionImageTag.objects.count)() == 0
    await comm.disconnect()


async def test_edit_before_hello_is_refused(session, session_images, bob):
    comm = await communicator(session.pk, bob)
    assert (await comm.connect())[0]
    await comm.send_json_to(
        {
            "type": "edit",
            "id": "e",
            "op": "add_tags",
            "image_id": session_images[0].pk,
            "tags": ["a"],
        }
    )
    error = await frame_of_type(comm, "error")
    assert (error["code"], error["id"]) == ("hello_required", "e")
    assert await db(SessionImageTag.objects.count)() == 0
    await comm.disconnect()


async def test_garbage_flood_is_closed_with_1008(session, bob, settings):
    settings.TAGGER_WS_MAX_BAD_FRAMES = 5
    comm, _ = await joined(session.pk, bob, last_seq=await db(last_seq)(session.pk))
    for _ in range(5):
        await comm.send_to(text_data="garbage")
    codes = []
    while True:
        message = await comm.receive_output()
        if message["type"] == "websocket.close":
            break
        codes.append(json.loads(message["text"]).get("code"))
    assert message["code"] == 1008
    assert codes.count("invalid_json") == 5


async def test_frame_flood_is_rate_limited(session, bob, settings):
    settings.TAGGER_WS_RATE, settings.TAGGER_WS_BURST = 1, 3
    comm, _ = await joined(session.pk, bob, last_seq=await db(last_seq)(session.pk))
    for _ in range(4):  # the hello took one token
        await comm.send_json_to({"type": "ping"})
    kinds = [json.loads(await comm.receive_from())["type"] for _ in range(5)]
    assert kinds.count("presence") == 1  # its own join
    assert kinds.count("pong") == 2
    assert kinds.count("error") == 2
    await comm.disconnect()


# --- presence and client tracking ------------------------------------------------


async def test_presence_on_join_focus_and_leave(session, session_images, alice, bob):
    watcher, _ = await joined(session.pk, alice, last_seq=await db(last_seq)(session.pk))
    other, welcome = await joined(session.pk, bob, last_seq=await db(last_seq)(session.pk))
    assert {p["user"] for p in welcome["present"]} == {"alice", "bob"}
    await frame_of_type(watcher, "presence")  # alice's own join
    join = await frame_of_type(watcher, "presence")
    assert (join["action"], join["user"], join["client_id"]) == (
        "join",
        "bob",
        welcome["client_id"],
    )
    await other.send_json_to({"type": "focus", "image_id": session_images[1].pk})
    focus = await frame_of_type(watcher, "presence")
    assert (focus["action"], focus["image_id"]) == ("focus", session_images[1].pk)
    row = await db(ClientConnection.objects.get)(client_id=welcome["client_id"])
    assert row.image_id == session_images[1].pk
    await other.send_json_to({"type": "focus", "image_id": 999_999})
    assert (await frame_of_type(other, "error"))["code"] == "not_found"
    await other.disconnect()
    leave = await frame_of_type(watcher, "presence")
    assert (leave["action"], leave["client_id"]) == ("leave", welcome["client_id"])
    assert not await db(ClientConnection.objects.filter(client_id=welcome["client_id"]).exists)()
    await watcher.disconnect()


async def test_upkeep_counts_frames_and_sweeps_stale_clients(session, alice, bob, settings):
    settings.STALE_CLIENT_TIMEOUT = 60
    watcher, welcome = await joined(session.pk, alice, last_seq=await db(last_seq)(session.pk))
    await watcher.send_json_to({"type": "ping"})
    await frame_of_type(watcher, "pong")

    def ghost():
        """A row whose worker died: nobody refreshes its last_seen any more."""
        from datetime import timedelta

        from django.utils import timezone

        old = timezone.now() - timedelta(minutes=5)
        return ClientConnection.objects.create(
            client_id="ghost",
            session=session,
            user=bob,
            channel_name="nowhere",
            worker_id="dead:1",
            connected_at=old,
            last_seen=old,
        )

    await db(ghost)()
    await get_hub().upkeep_once()
    leave = await frame_of_type(watcher, "presence")
    if leave["action"] == "join":  # its own join may come late through Redis
        leave = await frame_of_type(watcher, "presence")
    assert (leave["action"], leave["client_id"], leave["user"]) == ("leave", "ghost", "bob")
    row = await db(ClientConnection.objects.get)()
    assert row.client_id == welcome["client_id"]
    assert row.frames_in == 2  # hello, ping
    assert row.frames_out >= 2  # welcome, pong (and its join, when it came first)
    await watcher.disconnect()
