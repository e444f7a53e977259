import pytest

from images.models import Image
from sessions_app import services
from sessions_app.models import SessionEvent, SessionImage, SessionImageTag
from tests.support.api import ApiClient, error_of


@pytest.fixture
def tagged(session, session_images, alice):
    """cat0: red hair, smile · cat1: red hair, blurry · cat2: untagged."""
    first, second, _ = session_images
    services.tags_add(session, first.pk, actor=alice, names=["red hair", "smile"])
    services.tags_add(session, second.pk, actor=alice, names=["red hair", "blurry"])
    return session_images


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["original_name"] for item in response.json()["items"]]


def test_list_in_session_order_with_tags_and_status(session, tagged, as_, carol):
    body = as_(carol).get(f"/sessions/{session.pk}/images").json()
    assert [item["original_name"] for item in body["items"]] == ["cat0.png", "cat1.png", "cat2.png"]
    first = body["items"][0]
    assert first["tags"] == [
        {"name": "red hair", "category": "general", "source": "manual"},
        {"name": "smile", "category": "general", "source": "manual"},
    ]
    assert (first["status"], first["version"], first["width"]) == ("todo", 1, 64)
    assert body["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("red hair", ["cat0.png", "cat1.png"]),
        ("Red_Hair, -blurry", ["cat0.png"]),
        ("smile | blurry", ["cat0.png", "cat1.png"]),
        ("untagged", ["cat2.png"]),
        ("tags:<2", ["cat2.png"]),
        ("tags:>=2, -smile", ["cat1.png"]),
        ("source:prompt", []),
        ("no such tag", []),
        ("-no such tag", ["cat0.png", "cat1.png", "cat2.png"]),
        ("status:todo, red hair | untagged", ["cat0.png", "cat1.png", "cat2.png"]),
    ],
)
def test_list_filters_with_the_query_language(session, tagged, as_, bob, query, expected):
    assert names(as_(bob).get(f"/sessions/{session.pk}/images", q=query)) == expected


def test_query_resolves_aliases(session, tagged, as_, bob):
    from tags.models import Tag
    from tags.services import alias_create

    alias_create(Tag.objects.get(name="smile"), name="grin")
    assert names(as_(bob).get(f"/sessions/{session.pk}/images", q="grin")) == ["cat0.png"]
    # The alias and its tag in one query, and an alias beside an unknown name.
    assert names(as_(bob).get(f"/sessions/{session.pk}/images", q="grin, smile")) == ["cat0.png"]
    assert names(as_(bob).get(f"/sessions/{session.pk}/images", q="grin | nope")) == ["cat0.png"]
    assert names(as_(bob).get(f"/sessions/{session.pk}/images", q="grin, -smile")) == []


def test_status_filter_and_cursor_pages(session, tagged, as_, bob):
    client = as_(bob)
    client.post(f"/sessions/{session.pk}/images/{tagged[1].pk}/status", {"status": "reviewed"})
    assert names(client.get(f"/sessions/{session.pk}/images", status="reviewed")) == ["cat1.png"]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = client.get(f"/sessions/{session.pk}/images", **params).json()
        seen += [item["original_name"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["cat0.png", "cat1.png", "cat2.png"]


@pytest.mark.parametrize(
    ("query", "position"),
    [("red hair,,", 9), ("a | | b", 4), ('"open', 0), ("tags:lots", 0), ("status:done", 0)],
)
def test_malformed_query_answers_400_with_position(session, tagged, as_, bob, query, position):
    response = as_(bob).get(f"/sessions/{session.pk}/images", q=query)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_query"
    assert error["details"][0]["position"] == position


def test_bad_list_parameters(session, as_, bob):
    client = as_(bob)
    assert client.get(f"/sessions/{session.pk}/images", limit=0).status_code == 422
    assert client.get(f"/sessions/{session.pk}/images", limit=501).status_code == 422
    assert client.get(f"/sessions/{session.pk}/images", status="done").status_code == 422
    bad_cursor = error_of(client.get(f"/sessions/{session.pk}/images", cursor="x"))
    assert bad_cursor["message"] == "query.cursor: is not a cursor this API handed out"


def test_list_costs_a_fixed_number_of_queries(session, tagged, bob, django_assert_num_queries):
    from sessions_app.selectors import images_for_session

    # The tags (aliases resolved, with the library's size), the page, the page's tag
    # rows, their names (tags.labels reads them afresh inside the test's transaction;
    # outside one, a warm process reads the vocabulary counter instead).
    with django_assert_num_queries(4):
        items, _ = images_for_session(session, query="red hair, -blurry", cursor=None, limit=50)
    assert len(items) == 1
    with django_assert_num_queries(3):
        _, cursor = images_for_session(session, query=None, cursor=None, limit=1)
    with django_assert_num_queries(3):
        assert len(images_for_session(session, query=None, cursor=cursor, limit=50)[0]) == 2
    with django_assert_num_queries(4):
        images_for_session(session, query="red hair", cursor=None, limit=50)


def test_list_answers_its_declared_schema(session, tagged, as_, carol):
    # The page skips ninja's response validation, so check its shape here too.
    from sessions_app.schemas import ImagePage

    body = as_(carol).get(f"/sessions/{session.pk}/images", limit=1).json()
    page = ImagePage.model_validate(body)
    assert page.model_dump(mode="json") == body and body["next_cursor"]
    assert body["items"][0]["tags"][0] == {
        "name": "red hair",
        "category": "general",
        "source": "manual",
    }


def test_list_items_leave_the_metadata_to_the_image_endpoint(session, tagged, as_, carol):
    image = tagged[0]
    Image.objects.filter(pk=image.pk).update(metadata={"prompt": "a cat, red hair"})
    (item,) = as_(carol).get(f"/sessions/{session.pk}/images", q="smile").json()["items"]
    assert "metadata" not in item
    assert item["id"] == image.pk and item["original_name"] == "cat0.png"
    assert as_(carol).get(f"/sessions/{session.pk}/images/{image.pk}").json()["metadata"] == {
        "prompt": "a cat, red hair"
    }


def test_image_detail_visible_to_members_only(session, tagged, as_, carol, dave):
    image = tagged[0]
    body = as_(carol).get(f"/sessions/{session.pk}/images/{image.pk}").json()
    assert set(body) >= {"id", "width", "height", "status", "version", "tags", "metadata"}
    assert [tag["name"] for tag in body["tags"]] == ["red hair", "smile"]
    assert (
        error_of(as_(dave).get(f"/sessions/{session.pk}/images/{image.pk}"))["code"] == "not_found"
    )
    assert as_(carol).get(f"/sessions/{session.pk}/images/999999").status_code == 404


def test_add_and_remove_tags_appends_an_event(session, tagged, as_, bob, carol):
    image = tagged[0]
    response = as_(bob).post(
        f"/sessions/{session.pk}/images/{image.pk}/tags",
        {"add": ["Blue_Eyes"], "remove": ["smile"]},
    )
    assert response.status_code == 200
    body = response.json()
    assert [tag["name"] for tag in body["tags"]] == ["red hair", "blue eyes"]
    assert body["version"] == 3
    events = as_(carol).get(f"/sessions/{session.pk}/events", after=body["seq"] - 2).json()
    assert [e["kind"] for e in events["items"]] == ["tags.changed", "tags.changed"]
    assert events["items"][-1]["seq"] == body["seq"] == events["last_seq"]
    assert events["items"][-1]["actor"] == "bob"
    assert events["items"][-1]["payload"]["added"] == ["blue eyes"]


@pytest.mark.parametrize(("who", "status"), [("carol", 403), ("dave", 404)])
def test_viewer_and_outsider_cannot_edit_tags(session, tagged, as_, request, who, status):
    image = tagged[0]
    client = as_(request.getfixturevalue(who))
    before = SessionEvent.objects.count()
    assert (
        client.post(f"/sessions/{session.pk}/images/{image.pk}/tags", {"add": ["x"]}).status_code
        == status
    )
    assert client.put(
        f"/sessions/{session.pk}/images/{image.pk}/tags", {"tags": ["x"], "version": 1}
    ).status_code == (status)
    assert SessionEvent.objects.count() == before
    assert not SessionImageTag.objects.filter(entry__image=image, tag__name="x").exists()


def test_invalid_tag_name_changes_nothing(session, tagged, as_, bob):
    image = tagged[0]
    path = f"/sessions/{session.pk}/images/{image.pk}/tags"
    response = as_(bob).post(path, {"add": ["ok", "bad\u0007"]})
    assert response.status_code == 422  # the schema's tag name pattern refuses it
    assert "must be a tag name" in error_of(response)["message"]
    assert as_(bob).post(path, {"add": "red"}).status_code == 422
    assert SessionImage.objects.get(session=session, image=image).version == 1


def test_set_tags_with_version_and_409_when_stale(session, tagged, as_, bob):
    image = tagged[0]
    client = as_(bob)
    ok = client.put(
        f"/sessions/{session.pk}/images/{image.pk}/tags",
        {"tags": ["smile", "red hair"], "version": 1},
    )
    assert ok.status_code == 200
    assert [tag["name"] for tag in ok.json()["tags"]] == ["smile", "red hair"]
    stale = client.put(
        f"/sessions/{session.pk}/images/{image.pk}/tags", {"tags": ["cat"], "version": 1}
    )
    assert stale.status_code == 409
    error = error_of(stale)
    assert error["code"] == "stale_version"
    assert error["details"][0]["version"] == 2
    assert [tag["name"] for tag in error["details"][0]["tags"]] == ["smile", "red hair"]


def test_set_status_validates(session, tagged, as_, bob, carol):
    path = f"/sessions/{session.pk}/images/{tagged[0].pk}/status"
    assert as_(carol).post(path, {"status": "tagged"}).status_code == 403
    assert as_(bob).post(path, {"status": "done"}).status_code == 422
    body = as_(bob).post(path, {"status": "reviewed"}).json()
    assert body["status"] == "reviewed"
    assert SessionEvent.objects.get(session=session, seq=body["seq"]).kind == "image.status"
    other = services.session_create(owner=bob, name="Other").value
    outside = f"/sessions/{other.pk}/images/{tagged[0].pk}/status"
    assert as_(bob).post(outside, {"status": "tagged"}).status_code == 404


def test_batch_by_ids_and_by_query(session, tagged, as_, bob):
    client = as_(bob)
    path = f"/sessions/{session.pk}/batch"
    ids = [image.pk for image in tagged]
    body = client.post(path, {"selection": {"image_ids": ids}, "add": ["cat"]}).json()
    assert (body["changed"], body["selected"]) == (3, 3)
    body = client.post(
        path,
        {"selection": {"q": "blurry"}, "replace": {"from": "blurry", "to": "sharp"}},
    ).json()
    assert body["changed"] == 1
    assert names(client.get(f"/sessions/{session.pk}/images", q="sharp")) == ["cat1.png"]
    events = client.get(f"/sessions/{session.pk}/events", after=body["seq"] - 1).json()
    assert events["items"][0]["kind"] == "batch.applied"


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"selection": {}, "add": ["x"]}, 422),
        ({"selection": {"image_ids": [1], "q": "a"}, "add": ["x"]}, 422),
        ({"selection": {"q": "a,,"}, "add": ["x"]}, 400),
        ({"selection": {"image_ids": [1]}}, 400),
    ],
)
def test_batch_refuses_bad_input(session, tagged, as_, bob, payload, status):
    before = SessionEvent.objects.count()
    assert as_(bob).post(f"/sessions/{session.pk}/batch", payload).status_code == status
    assert SessionEvent.objects.count() == before


def test_batch_needs_an_editor(session, tagged, as_, carol):
    payload = {"selection": {"image_ids": [tagged[0].pk]}, "add": ["x"]}
    assert as_(carol).post(f"/sessions/{session.pk}/batch", payload).status_code == 403


def test_session_tag_counts(session, tagged, as_, carol, bob):
    client = as_(carol)
    body = client.get(f"/sessions/{session.pk}/tags").json()
    assert [(t["name"], t["count"]) for t in body["items"]] == [
        ("red hair", 2),
        ("blurry", 1),
        ("smile", 1),
    ]
    as_(bob).post(f"/sessions/{session.pk}/images/{tagged[2].pk}/tags", {"add": ["smile"]})
    body = client.get(f"/sessions/{session.pk}/tags").json()
    assert ("smile", 2) in [(t["name"], t["count"]) for t in body["items"]]


def test_events_page_with_cursor(session, tagged, as_, carol):
    client = as_(carol)
    first = client.get(f"/sessions/{session.pk}/events", limit=2).json()
    assert [e["seq"] for e in first["items"]] == [1, 2]
    assert first["items"][0]["type"] == "event"
    rest = client.get(f"/sessions/{session.pk}/events", after=first["next_cursor"]).json()
    assert rest["items"][0]["seq"] == 3
    assert rest["next_cursor"] is None
    assert client.get(f"/sessions/{session.pk}/events", after=-1).status_code == 422


def test_file_and_thumbnail_only_for_members(session, as_, bob, dave):
    from tests.support.images import png_bytes

    upload = _upload(as_(bob), session, [("a.png", png_bytes())])
    image_id = upload.json()["items"][0]["image_id"]
    for kind in ("file", "thumbnail"):
        response = as_(bob).get(f"/images/{image_id}/{kind}")
        assert response.status_code == 200
        assert b"".join(response.streaming_content)
        assert as_(dave).get(f"/images/{image_id}/{kind}").status_code == 404


def _upload(client: ApiClient, session, files):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {"files": [SimpleUploadedFile(name, content) for name, content in files]}
    return client.client.post(f"/api/sessions/{session.pk}/images", data)


def test_upload_reports_per_file(session, as_, bob, carol):
    from tests.support.images import png_bytes

    files = [("a.png", png_bytes()), ("b.png", png_bytes()), ("c.txt", b"not an image")]
    response = _upload(as_(bob), session, files)
    assert response.status_code == 200, response.content
    body = response.json()
    assert [item["status"] for item in body["items"]] == ["imported", "duplicate", "skipped"]
    assert (body["imported"], body["duplicates"], body["skipped"]) == (1, 1, 1)
    assert body["items"][2]["reason"]
    assert _upload(as_(carol), session, files[:1]).status_code == 403


def test_upload_takes_the_caption_file_beside_its_image(session, as_, bob):
    from tests.support.images import png_bytes

    files = [
        ("lone.txt", b"nothing to caption"),
        ("cat.png", png_bytes(color=(9, 9, 9))),
        ("cat.txt", b"red scarf, smile\n"),
    ]
    body = _upload(as_(bob), session, files).json()
    assert [(item["name"], item["status"]) for item in body["items"]] == [
        ("cat.png", "imported"),
        ("lone.txt", "skipped"),
    ]
    assert "needs its image" in body["items"][1]["reason"]
    tags = SessionImageTag.objects.filter(entry__image_id=body["items"][0]["image_id"]).order_by(
        "position"
    )
    assert list(tags.values_list("tag__name", "source")) == [
        ("red scarf", "caption"),
        ("smile", "caption"),
    ]


def test_upload_limits_answer_413_and_store_nothing(session, as_, bob, settings):
    from tests.support.images import png_bytes

    client = as_(bob)
    settings.TAGGER_MAX_UPLOAD_FILES = 2
    three = [(f"{i}.png", png_bytes(color=(i, 0, 0))) for i in range(3)]
    response = _upload(client, session, three)
    assert response.status_code == 413
    assert "at most 2 files" in error_of(response)["message"]
    settings.TAGGER_MAX_UPLOAD_BYTES = 100
    response = _upload(client, session, [("big.png", png_bytes(size=(300, 300)))])
    assert response.status_code == 413
    assert error_of(response)["code"] == "too_large"
    settings.TAGGER_MAX_UPLOAD_BYTES = 10**7
    settings.TAGGER_MAX_IMAGE_PIXELS = 1000
    response = _upload(client, session, [("wide.png", png_bytes(size=(100, 100)))])
    assert response.status_code == 413
    assert "pixels" in error_of(response)["message"]
    assert not SessionImage.objects.filter(session=session).exists()


def test_upload_needs_files(session, as_, bob):
    response = as_(bob).client.post(f"/api/sessions/{session.pk}/images", {})
    assert response.status_code == 422


def test_export_streams_a_zip_or_json(session, as_, bob, carol, dave):
    import io
    import zipfile

    from tests.support.images import png_bytes

    _upload(as_(bob), session, [("a.png", png_bytes())])
    image_id = SessionImage.objects.get(session=session).image_id
    as_(bob).post(f"/sessions/{session.pk}/images/{image_id}/tags", {"add": ["red hair", "smile"]})
    response = as_(carol).get(f"/sessions/{session.pk}/export", format="kohya")
    assert response.status_code == 200
    assert response.streaming
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    captions = [name for name in archive.namelist() if name.endswith(".txt")]
    assert b"red hair, smile" in archive.read(captions[0])
    document = as_(carol).get(f"/sessions/{session.pk}/export", format="json", images="false")
    assert document["Content-Type"].startswith("application/json")
    assert b"red hair" in b"".join(document.streaming_content)
    assert as_(carol).get(f"/sessions/{session.pk}/export", format="csv").status_code == 422
    assert as_(dave).get(f"/sessions/{session.pk}/export").status_code == 404
