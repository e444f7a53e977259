"""One registry of event kinds: the log refuses what it does not describe, the page gets it."""

import json
import re
from pathlib import Path

import pytest
from django.db import transaction

from sessions_app import services
from sessions_app.event_kinds import KINDS, Kind, browser_kinds
from sessions_app.events import append_event, capture_events
from sessions_app.models import SessionEvent

REPO = Path(__file__).resolve().parents[2]


def test_every_kind_has_one_entry():
    assert set(KINDS) == {kind.value for kind in Kind}


@pytest.mark.parametrize(
    ("kind", "payload", "inverse", "message"),
    [
        ("tags.renamd", {"from": "a", "to": "b"}, None, "unknown event kind"),
        (Kind.TAGS_CHANGED, {"image_id": 1, "tags": []}, None, "without version"),
        (Kind.TAG_RENAMED, {"from": "a", "to": "b"}, {"op": "rows"}, "'rows' inverse"),
    ],
)
def test_the_log_refuses_an_event_the_registry_does_not_describe(
    session, alice, kind, payload, inverse, message
):
    before = SessionEvent.objects.count()
    with pytest.raises(ValueError, match=message), transaction.atomic():
        append_event(session.pk, kind=kind, payload=payload, actor=alice, inverse=inverse)
    assert SessionEvent.objects.count() == before


def test_no_service_names_a_kind_by_its_bare_string():
    sources = [*REPO.glob("sessions_app/**/*.py"), *REPO.glob("datasets/**/*.py")]
    literal = re.compile(r"kind=\"")
    offenders = [str(path) for path in sources if literal.search(path.read_text())]
    assert offenders == []


def test_capture_events_hands_back_what_the_calls_inside_appended(session, session_images, bob):
    first, second, _ = session_images
    services.tags_add(session, first.pk, actor=bob, names=["outside"])
    with capture_events() as outer:
        services.tags_add(session, first.pk, actor=bob, names=["cat"])
        with capture_events() as inner:
            services.session_image_set_status(
                session, actor=bob, image_id=second.pk, status="tagged"
            )
    assert [event.kind for event in inner] == [Kind.IMAGE_STATUS]
    assert [event.kind for event in outer] == [Kind.TAGS_CHANGED, Kind.IMAGE_STATUS]
    assert [event.seq for event in outer] == list(
        SessionEvent.objects.filter(session=session).order_by("-seq").values_list("seq", flat=True)
    )[1::-1]


def test_the_workspace_page_carries_the_kinds_and_its_script_no_copy(client, session, alice):
    client.force_login(alice)
    page = client.get(f"/sessions/{session.pk}/").content.decode()
    config = re.search(r'id="workspace-config" type="application/json">(.*?)</script>', page)
    assert json.loads(config.group(1))["eventKinds"] == browser_kinds()
    script = (REPO / "static" / "js" / "workspace.js").read_text()
    assert [kind.value for kind in Kind if f'"{kind.value}"' in script] == []
