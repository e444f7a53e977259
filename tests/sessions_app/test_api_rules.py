import pytest

from sessions_app import services
from sessions_app.models import SessionImageTag, SessionRules
from tags.clip_tokens import clip_token_count
from tags.models import Tag
from tests.support.api import error_of

ORDER = ["character", "copyright", "artist", "general", "meta"]


@pytest.fixture
def tagged(session, session_images, alice):
    Tag.objects.create(name="saber", category="character")
    Tag.objects.create(name="highres", category="meta")
    first, second, third = session_images
    services.tags_add(session, first.pk, actor=alice, names=["smile", "saber", "highres"])
    services.tags_add(
        session, second.pk, actor=alice, names=["smile", "blurry"], source="autotagger"
    )
    services.tags_add(session, third.pk, actor=alice, names=["smile"])
    return session_images


def state(images) -> list[list[tuple]]:
    return [
        list(
            SessionImageTag.objects.filter(entry__image=image)
            .order_by("position", "id")
            .values_list("tag__name", "position", "source", "confidence")
        )
        for image in images
    ]


def test_preview_then_apply_then_undo_and_redo(session, tagged, as_, bob):
    before = state(tagged)
    rules = {"blacklist": ["blurry"], "pinned": ["smile"], "category_order": ORDER}
    preview = as_(bob).post(f"/sessions/{session.pk}/rules/preview", rules)
    assert preview.status_code == 200, preview.json()
    body = preview.json()
    assert (body["total"], body["changed"]) == (3, 1)
    assert body["sample"] == [
        {
            "image_id": tagged[1].pk,
            "original_name": "cat1.png",
            "before": ["smile", "blurry"],
            "after": ["smile"],
        }
    ]
    assert state(tagged) == before

    applied = as_(bob).put(f"/sessions/{session.pk}/rules", rules)
    assert applied.status_code == 200, applied.json()
    assert applied.json()["changed"] == 1
    assert as_(bob).get(f"/sessions/{session.pk}/rules").json() == rules

    undone = as_(bob).post(f"/sessions/{session.pk}/undo")
    assert undone.status_code == 200, undone.json()
    assert undone.json() == {
        "seq": applied.json()["seq"] + 1,
        "kind": "rules.applied",
        "reversed_seq": applied.json()["seq"],
        "image_ids": [tagged[1].pk],
    }
    assert state(tagged) == before
    assert as_(bob).get(f"/sessions/{session.pk}/rules").json()["blacklist"] == []

    redone = as_(bob).post(f"/sessions/{session.pk}/redo")
    assert redone.status_code == 200
    assert redone.json()["reversed_seq"] == undone.json()["seq"]
    assert [name for name, *_ in state(tagged)[1]] == ["smile"]


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"category_order": ["character", "hair colour"]}, 400, "invalid"),
        ({"category_order": ["meta", "meta"]}, 400, "invalid"),
        ({"blacklist": ["x" * 201]}, 422, "validation_error"),
        ({"blacklist": ["x" * 401]}, 422, "validation_error"),
        ({"blacklist": ["ok"], "pinned": ["ok"]}, 400, "invalid"),
        ({"blacklist": ["ok"], "colour": "red"}, 422, "validation_error"),
        ({"pinned": "smile"}, 422, "validation_error"),
    ],
)
def test_bad_rules_are_refused_and_change_nothing(session, tagged, as_, bob, payload, status, code):
    before, seq = state(tagged), session.events.count()
    for method in ("post", "put"):
        path = f"/sessions/{session.pk}/rules" + ("/preview" if method == "post" else "")
        response = getattr(as_(bob), method)(path, payload)
        assert response.status_code == status, response.json()
        assert error_of(response)["code"] == code
    assert state(tagged) == before
    assert session.events.count() == seq
    assert not SessionRules.objects.exists()


@pytest.mark.parametrize(
    ("who", "read", "write"),
    [("alice", 200, 200), ("bob", 200, 200), ("carol", 200, 403), ("dave", 404, 404)],
)
def test_permissions_by_role(session, tagged, as_, request, who, read, write):
    client = as_(request.getfixturevalue(who))
    base = f"/sessions/{session.pk}"
    for path in ("/rules", "/stats", "/stats/pruning", "/stats/images"):
        assert client.get(base + path).status_code == read, path
    writes = [
        client.post(base + "/rules/preview", {}),
        client.put(base + "/rules", {"blacklist": ["x"]}),
        client.post(base + "/batch/source", {"selection": {"q": "smile"}, "drop": "manual"}),
        client.post(base + "/undo"),
        client.post(base + "/redo"),
    ]
    if write == 200:
        return
    for response in writes:
        assert response.status_code == write
        assert error_of(response)["code"] == ("forbidden" if write == 403 else "not_found")
    assert not SessionRules.objects.exists()


def test_undo_with_nothing_to_undo_or_redo_answers_409(session, as_, bob):
    for action in ("undo", "redo"):
        response = as_(bob).post(f"/sessions/{session.pk}/{action}")
        assert response.status_code == 409
        assert error_of(response)["message"] == f"nothing to {action}"


def test_undo_refused_when_someone_else_edited_since(session, tagged, as_, alice, bob):
    image = tagged[2]
    as_(bob).post(f"/sessions/{session.pk}/images/{image.pk}/tags", {"add": ["tree"]})
    services.tags_add(session, image.pk, actor=alice, names=["sky"])
    response = as_(bob).post(f"/sessions/{session.pk}/undo")
    assert response.status_code == 409
    assert "changed by someone else" in error_of(response)["message"]
    assert [name for name, *_ in state([image])[0]] == ["smile", "tree", "sky"]


def test_accept_and_drop_a_source_on_a_selection(session, tagged, as_, bob):
    path = f"/sessions/{session.pk}/batch/source"
    accepted = as_(bob).post(path, {"selection": {"q": "smile"}, "accept": "autotagger"})
    assert accepted.status_code == 200, accepted.json()
    assert (accepted.json()["changed"], accepted.json()["selected"]) == (1, 3)
    assert {source for _, _, source, _ in state(tagged)[1]} == {"manual"}
    assert as_(bob).post(f"/sessions/{session.pk}/undo").status_code == 200
    assert {source for _, _, source, _ in state(tagged)[1]} == {"autotagger"}
    ids = [image.pk for image in tagged]
    dropped = as_(bob).post(path, {"selection": {"image_ids": ids}, "drop": "autotagger"})
    assert dropped.json()["changed"] == 1
    assert state(tagged)[1] == []


@pytest.mark.parametrize(
    "payload",
    [
        {"selection": {"q": "smile"}},
        {"selection": {"q": "smile"}, "accept": "caption", "drop": "prompt"},
        {"selection": {"q": "smile"}, "accept": "robot"},
        {"selection": {"q": "smile"}, "drop": "caption", "also": 1},
    ],
)
def test_source_batch_refuses_bad_input(session, tagged, as_, bob, payload):
    before = state(tagged)
    response = as_(bob).post(f"/sessions/{session.pk}/batch/source", payload)
    assert response.status_code == 422
    assert error_of(response)["code"] == "validation_error"
    assert state(tagged) == before


def test_stats_frequency_share_and_trigger_cooccurrence(session, tagged, as_, alice, carol):
    services.session_update(session, actor=alice, trigger_word="saber")
    body = as_(carol).get(f"/sessions/{session.pk}/stats").json()
    assert (body["total_images"], body["trigger_mode"]) == (3, "tag")
    by_name = {item["name"]: item for item in body["items"]}
    assert by_name["smile"] == {
        "name": "smile",
        "category": "general",
        "count": 3,
        "share": 1.0,
        "with_trigger": 1,
    }
    assert by_name["blurry"]["with_trigger"] == 0
    services.session_update(session, actor=alice, trigger_word="zzz")
    body = as_(carol).get(f"/sessions/{session.pk}/stats").json()
    assert body["trigger_mode"] == "setting"
    assert {item["name"]: item["with_trigger"] for item in body["items"]}["blurry"] == 1


def test_pruning_lists_tags_on_most_images(session, tagged, as_, carol):
    path = f"/sessions/{session.pk}/stats/pruning"
    assert [item["name"] for item in as_(carol).get(path).json()["items"]] == ["smile"]
    names = [item["name"] for item in as_(carol).get(path, min_share=0.3).json()["items"]]
    assert names == ["smile", "blurry", "highres", "saber"]
    for bad in ("0", "1.5", "lots"):
        response = as_(carol).get(path, min_share=bad)
        assert response.status_code == 422
        assert error_of(response)["code"] == "validation_error"


RAIN = "A woman with long black hair standing in the rain. "


def test_caption_stats_count_clip_tokens_of_the_exported_caption(session, tagged, as_, carol):
    long_names = [f"very long descriptive tag number {i}" for i in range(15)]
    services.tags_add(session, tagged[0].pk, actor=carol, names=long_names)
    body = as_(carol).get(f"/sessions/{session.pk}/stats/images", max_tags=1).json()
    assert (body["total_images"], body["too_few_tags"], body["over_token_limit"]) == (3, 1, 1)
    by_id = {item["image_id"]: item for item in body["items"]}
    caption = ", ".join(["smile", "saber", "highres", *long_names])
    assert by_id[tagged[0].pk]["tokens"] == clip_token_count(caption) > 75
    assert by_id[tagged[0].pk]["over_token_limit"] is True
    assert by_id[tagged[2].pk] == {
        "image_id": tagged[2].pk,
        "original_name": "cat2.png",
        "tag_count": 1,
        "tokens": 1,
        "too_few_tags": True,
        "over_token_limit": False,
    }
    # A written caption is what the trainer reads: it is counted, and it is not "too few tags".
    services.caption_set(session, tagged[2].pk, actor=carol, text=RAIN, version=0)
    body = as_(carol).get(f"/sessions/{session.pk}/stats/images", max_tags=1).json()
    assert body["too_few_tags"] == 0
    assert {item["image_id"] for item in body["items"]} == {tagged[0].pk}
    services.caption_set(session, tagged[2].pk, actor=carol, text=RAIN * 8, version=1)
    body = as_(carol).get(f"/sessions/{session.pk}/stats/images", max_tags=1).json()
    by_id = {item["image_id"]: item for item in body["items"]}
    assert by_id[tagged[2].pk]["tokens"] == clip_token_count(RAIN * 8)
    assert by_id[tagged[2].pk]["over_token_limit"] is True
    response = as_(carol).get(f"/sessions/{session.pk}/stats/images", max_tokens=0)
    assert response.status_code == 422


def test_undo_three_times_over_the_api(session, session_images, as_, bob):
    image = session_images[0]
    for name in ("aaa", "bbb", "ccc"):
        response = as_(bob).post(f"/sessions/{session.pk}/images/{image.pk}/tags", {"add": [name]})
        assert response.status_code in (200, 201), response.json()
    for expected in (["aaa", "bbb"], ["aaa"], []):
        undone = as_(bob).post(f"/sessions/{session.pk}/undo")
        assert undone.status_code == 200, undone.json()
        names = SessionImageTag.objects.filter(entry__image=image).order_by("position")
        assert list(names.values_list("tag__name", flat=True)) == expected
