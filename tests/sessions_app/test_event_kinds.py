"""One registry of event kinds: the log refuses what it does not describe, the page gets it."""

import json
import re
from pathlib import Path

import pytest
from django.db import transaction

from sessions_app import services
from sessions_app.event_kinds import KINDS, Kind, browser_kinds
from sessions_app.events import append_event
from sessions_app.models import SessionEvent
from sessions_app.repeat_folders import RepeatFolder
from sessions_app.services.subsets import subsets_place

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


def test_an_outcome_holds_what_the_call_and_the_services_it_called_appended(
    session, session_images, bob
):
    # Replaces the capture_events() test: the events now come back in the outcome.
    first, second, _ = session_images
    services.tags_add(session, first.pk, actor=bob, names=["outside"])
    tagged = services.tags_add(session, first.pk, actor=bob, names=["cat"])
    placed = subsets_place(session, actor=bob, placements={RepeatFolder(10, "ohwx"): [second.pk]})
    assert [event.kind for event in tagged.events] == [Kind.TAGS_CHANGED]
    assert [event.kind for event in placed.events] == [Kind.SUBSET_CREATED, Kind.SUBSET_IMAGES]
    assert [event.seq for event in tagged.events + placed.events] == list(
        SessionEvent.objects.filter(session=session).order_by("-seq").values_list("seq", flat=True)
    )[2::-1]


def test_the_workspace_page_carries_the_kinds_and_its_script_no_copy(client, session, alice):
    client.force_login(alice)
    page = client.get(f"/sessions/{session.pk}/").content.decode()
    config = re.search(r'id="workspace-config" type="application/json">(.*?)</script>', page)
    assert json.loads(config.group(1))["eventKinds"] == browser_kinds()
    script = (REPO / "static" / "js" / "workspace.js").read_text()
    assert [kind.value for kind in Kind if f'"{kind.value}"' in script] == []
