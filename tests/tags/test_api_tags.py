import pytest

from sessions_app import services
from tags.models import Tag, TagAlias, TagImplication
from tags.services import alias_create
from tests.support.api import ApiClient, error_of


@pytest.fixture
def vocabulary(session, session_images, alice):
    first, second, third = session_images
    services.tags_add(session, first.pk, actor=alice, names=["hat", "hair", "hand"])
    services.tags_add(session, second.pk, actor=alice, names=["hair", "hand"])
    services.tags_add(session, third.pk, actor=alice, names=["hair"])
    Tag.objects.filter(name="hat").update(category="meta")
    alias_create(Tag.objects.get(name="hand"), name="hazard hand")
    return session_images


def test_autocomplete_orders_by_count_and_resolves_aliases(vocabulary, carol):
    client = ApiClient(carol)
    items = client.get("/tags", prefix="H", limit=10).json()["items"]
    assert [(t["name"], t["image_count"]) for t in items] == [("hair", 3), ("hand", 2), ("hat", 1)]
    assert items[1]["alias"] is None
    items = client.get("/tags", prefix="haz").json()["items"]
    assert [(t["name"], t["alias"]) for t in items] == [("hand", "hazard hand")]
    items = client.get("/tags", prefix="h", category="meta").json()["items"]
    assert [t["name"] for t in items] == ["hat"]
    assert client.get("/tags", prefix="h", limit=1).json()["items"][0]["name"] == "hair"


def test_autocomplete_refuses_bad_input(vocabulary, carol):
    client = ApiClient(carol)
    assert client.get("/tags", category="nope").status_code == 422
    assert client.get("/tags", limit=0).status_code == 422
    assert error_of(client.get("/tags", prefix="a\u0007"))["code"] == "validation_error"
    assert ApiClient().get("/tags").status_code == 401


def test_curation_is_for_staff_only(vocabulary, alice):
    client = ApiClient(alice)
    for path, body in [
        ("/tags/hat/rename", {"to": "cap"}),
        ("/tags/hat/merge", {"into": "hair"}),
        ("/tags/hat/aliases", {"name": "hut"}),
        ("/tags/hat/implications", {"implies": "hair"}),
    ]:
        response = client.post(path, body)
        assert response.status_code == 403, path
        assert error_of(response)["code"] == "forbidden"
    assert client.get("/tags/hat/aliases").status_code == 403
    assert Tag.objects.filter(name="hat").exists()
    assert not TagAlias.objects.filter(name="hut").exists()


def test_rename_keeps_old_name_as_alias_and_logs(vocabulary, session, staff, carol):
    client = ApiClient(staff)
    response = client.post("/tags/hat/rename", {"to": "Sun_Hat"})
    assert response.json() == {"name": "sun hat", "category": "meta", "image_count": 1}
    assert TagAlias.objects.get(name="hat").tag.name == "sun hat"
    kinds = [
        e["kind"] for e in ApiClient(carol).get(f"/sessions/{session.pk}/events").json()["items"]
    ]
    assert kinds[-1] == "tag.renamed"
    assert client.post("/tags/sun hat/rename", {"to": "hair"}).status_code == 409


def test_merge_moves_images(vocabulary, staff):
    client = ApiClient(staff)
    response = client.post("/tags/hand/merge", {"into": "hat"})
    assert response.status_code == 200
    assert response.json()["image_count"] == 2
    assert not Tag.objects.filter(name="hand").exists()
    assert client.post("/tags/hat/merge", {"into": "hat"}).status_code == 400
    assert client.post("/tags/nothing/merge", {"into": "hat"}).status_code == 404


def test_aliases_and_implications(vocabulary, staff):
    client = ApiClient(staff)
    assert client.post("/tags/hat/aliases", {"name": "Cap"}).status_code == 201
    assert client.get("/tags/hat/aliases").json()["items"] == [{"name": "cap", "tag": "hat"}]
    assert client.post("/tags/hair/aliases", {"name": "cap"}).status_code == 409
    assert client.post("/tags/hat/implications", {"implies": "hair"}).status_code == 201
    assert client.get("/tags/hat/implications").json()["items"] == [
        {"tag": "hat", "implies": "hair"}
    ]
    cycle = client.post("/tags/hair/implications", {"implies": "hat"})
    assert cycle.status_code == 409
    assert TagImplication.objects.count() == 1
