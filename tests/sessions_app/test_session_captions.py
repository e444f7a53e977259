"""Each session owns what it says about an image.

Two sessions holding the same bytes share the stored file and nothing else:
the tags, their log and the rules that order them stay in the session that
wrote them, and no door reaches a session image through a session the caller
is not a member of. dave plays eve: a user who is no member of alice's session.
"""

from sessions_app.models import SessionEvent
from tests.support.api import ApiClient
from tests.support.images import png_bytes


def _upload(client: ApiClient, session_id: int, name: str, content: bytes) -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.client.post(
        f"/api/sessions/{session_id}/images", {"files": [SimpleUploadedFile(name, content)]}
    )
    assert response.status_code == 200, response.content
    return response.json()["items"][0]


def _tag_names(body: dict) -> list[str]:
    return [tag["name"] for tag in body["tags"]]


def test_a_copy_in_another_session_gets_its_own_empty_caption(session, as_, alice, dave):
    alice_client, eve_client = as_(alice), as_(dave)
    content = png_bytes((10, 20, 30))
    image_id = _upload(alice_client, session.pk, "img000.png", content)["image_id"]
    mine = f"/sessions/{session.pk}/images/{image_id}"
    answer = alice_client.put(f"{mine}/tags", {"tags": ["red hair", "smile"], "version": 0})
    assert answer.status_code == 200, answer.content
    rules = {"blacklist": ["blurry"], "pinned": ["smile"], "category_order": []}
    assert alice_client.put(f"/sessions/{session.pk}/rules", rules).status_code == 200
    alice_log = list(SessionEvent.objects.filter(session=session).values_list("seq", "kind"))

    eve_session = eve_client.post("/sessions", {"name": "Eve's"}).json()["id"]
    copy = _upload(eve_client, eve_session, "copy.png", content)
    # The bytes are stored once: eve's copy is the same file...
    assert copy["image_id"] == image_id
    theirs = f"/sessions/{eve_session}/images/{image_id}"
    # ...with its own, empty caption.
    shown = eve_client.get(theirs).json()
    assert (shown["tags"], shown["version"]) == ([], 0)
    # ...and its own name: alice's file name is none of eve's business.
    assert shown["original_name"] == "copy.png"
    listed = eve_client.get(f"/sessions/{eve_session}/images").json()["items"]
    assert [item["original_name"] for item in listed] == ["copy.png"]
    download = eve_client.get(f"/images/{image_id}/file")
    assert "copy.png" in download["Content-Disposition"]
    assert "img000" not in download["Content-Disposition"]
    assert "img000.png" in alice_client.get(f"/images/{image_id}/file")["Content-Disposition"]
    # alice's blacklist and pinned head do not apply to eve's edits.
    answer = eve_client.put(f"{theirs}/tags", {"tags": ["blurry", "cat"], "version": 0})
    assert answer.status_code == 200, answer.content
    assert _tag_names(answer.json()) == ["blurry", "cat"]
    eve_rules = {"blacklist": ["smile"], "pinned": [], "category_order": []}
    assert eve_client.put(f"/sessions/{eve_session}/rules", eve_rules).status_code == 200

    # No door into alice's session image opens for eve.
    assert eve_client.get(mine).status_code == 404
    assert eve_client.put(f"{mine}/tags", {"tags": ["x"], "version": 1}).status_code == 404
    assert eve_client.post(f"{mine}/tags", {"add": ["x"]}).status_code == 404
    assert eve_client.post(f"{mine}/status", {"status": "reviewed"}).status_code == 404
    assert eve_client.get(f"/sessions/{session.pk}/images").status_code == 404

    # alice's caption, log and rules are as she left them.
    kept = alice_client.get(mine).json()
    assert (_tag_names(kept), kept["version"]) == (["smile", "red hair"], 2)
    assert list(SessionEvent.objects.filter(session=session).values_list("seq", "kind")) == (
        alice_log
    )
    assert alice_client.get(f"/sessions/{session.pk}/rules").json()["blacklist"] == ["blurry"]
    assert _tag_names(eve_client.get(theirs).json()) == ["blurry", "cat"]
