"""One image in two sessions, edited at once over the API and the socket.

The file is stored once; each session says its own tags and written caption,
its export holds only those, and its live clients hear only its own events.
"""

import asyncio
import json
from pathlib import Path

import pytest
from channels.db import database_sync_to_async

from datasets.exporting import ExportOptions, export_to_path
from sessions_app import services
from sessions_app.models import SessionImage
from tests.support.api import ApiClient
from tests.support.images import png_bytes
from tests.support.ws import events_in, joined

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


def _two_sessions(alice, dave):
    character = services.session_create(
        owner=alice, name="Character LoRA", trigger_word="ohwx"
    ).value
    style = services.session_create(owner=dave, name="Style LoRA").value
    content = png_bytes((200, 30, 30))
    first = services.session_import_bytes(
        character, actor=alice, data=content, original_name="a.png"
    ).value
    second = services.session_import_bytes(
        style, actor=dave, data=content, original_name="b.png"
    ).value
    assert first.image_id == second.image_id  # stored once
    return character, style, first.image_id


def _api_edits(alice, session_id: int, image_id: int) -> None:
    client = ApiClient(alice)
    base = f"/sessions/{session_id}/images/{image_id}"
    answer = client.put(f"{base}/tags", {"tags": ["1girl", "red coat"], "version": 0})
    assert answer.status_code == 200, answer.content
    answer = client.put(f"{base}/caption", {"caption": "Ohwx woman in a red coat.", "version": 0})
    assert answer.status_code == 200, answer.content


def _last_seqs(*sessions) -> list[int]:
    for session in sessions:
        session.refresh_from_db(fields=["last_seq"])
    return [session.last_seq for session in sessions]


def _caption(session, image_id):
    entry = SessionImage.objects.get(session=session, image_id=image_id)
    names = list(entry.tags.order_by("position").values_list("tag__name", flat=True))
    return names, entry.caption


async def _frames(comm, quiet: float) -> list[dict]:
    """Every frame until the socket has been quiet for `quiet` seconds.

    (A receive that times out would cancel the application under test.)
    """
    frames = []
    while not await comm.receive_nothing(timeout=quiet):
        frames.append(json.loads(await comm.receive_from()))
    return frames


async def test_each_session_keeps_and_hears_only_its_own(alice, dave, tmp_path: Path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    character, style, image_id = await db(_two_sessions)(alice, dave)
    # A watcher in each session, and dave editing his over the socket.
    seqs = await db(_last_seqs)(character, style)
    watch_character, _ = await joined(character.pk, alice, last_seq=seqs[0])
    watch_style, _ = await joined(style.pk, dave, last_seq=seqs[1])
    editor, _ = await joined(style.pk, dave, last_seq=seqs[1])
    socket_edits = [
        {"op": "set_tags", "tags": ["ink", "monochrome"], "version": 0},
        {"op": "set_caption", "caption": "Ink wash, loose brushwork.", "version": 0},
    ]
    # Through asgiref's thread, as the HTTP door runs: its broadcasts reach this loop's layer.
    api = asyncio.ensure_future(db(_api_edits)(alice, character.pk, image_id))
    for number, fields in enumerate(socket_edits):
        await editor.send_json_to({"type": "edit", "id": number, "image_id": image_id, **fields})
    await api
    acks = [f for f in await _frames(editor, 1.0) if f["type"] in ("ack", "error")]
    assert [f["type"] for f in acks] == ["ack", "ack"], acks

    assert await db(_caption)(character, image_id) == (
        ["1girl", "red coat"],
        "Ohwx woman in a red coat.",
    )
    assert await db(_caption)(style, image_id) == (
        ["ink", "monochrome"],
        "Ink wash, loose brushwork.",
    )
    # Each watcher heard its own session's two edits and nothing of the other's.
    heard = {}
    for name, comm in (("character", watch_character), ("style", watch_style)):
        events = [e for f in await _frames(comm, 1.0) for e in events_in(f)]
        heard[name] = [
            (e["kind"], e["payload"].get("caption") or e["payload"].get("tags")) for e in events
        ]
    assert [kind for kind, _ in heard["character"]] == ["tags.changed", "caption.changed"]
    assert [kind for kind, _ in heard["style"]] == ["tags.changed", "caption.changed"]
    assert heard["character"][1][1] == "Ohwx woman in a red coat."
    assert heard["style"][1][1] == "Ink wash, loose brushwork."
    for comm in (watch_character, watch_style, editor):
        await comm.disconnect()

    # Each export holds its own caption.
    def exports():
        out = {}
        for session in (character, style):
            folder = tmp_path / f"export-{session.pk}"
            export_to_path(session, "kohya", folder, ExportOptions(caption_source="both"))
            out[session.name] = next(p.read_text() for p in folder.glob("*.txt"))
        return out

    assert await db(exports)() == {
        "Character LoRA": "ohwx, 1girl, red coat, Ohwx woman in a red coat.",
        "Style LoRA": "ink, monochrome, Ink wash, loose brushwork.",
    }
