"""A session's subsets through the API: who may change them, refusals, undo, the live feed."""

import pytest
from channels.db import database_sync_to_async

from sessions_app import selectors
from sessions_app.models import SessionEvent, SessionImage, SessionSubset, TaggingSession
from sessions_app.services import session_create, session_images_add
from sessions_app.services.subsets import (
    subset_assign,
    subset_create,
    subsets_dump,
    subsets_load,
)
from sessions_app.services.undo import operation_redo, operation_undo
from tagger_project.errors import Conflict
from tests.support.api import error_of
from tests.support.images import make_image
from tests.support.ws import events_until, joined


def subsets_url(session) -> str:
    return f"/sessions/{session.pk}/subsets"


def subset_of(session, image_id: int):
    return SessionImage.objects.get(session=session, image_id=image_id).subset_id


@pytest.fixture
def ohwx(session, alice):
    return subset_create(session, actor=alice, name="ohwx", num_repeats=10).value


# --- editing ---------------------------------------------------------------------------


def test_editor_creates_renames_sets_repeats_and_deletes(session, as_, bob, session_images):
    api = as_(bob)
    created = api.post(subsets_url(session), {"name": "ohwx", "num_repeats": 10})
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["folder"], body["class_tokens"]) == ("10_ohwx", "ohwx")
    url = f"{subsets_url(session)}/{body['id']}"
    edited = api.patch(url, {"name": "sks", "num_repeats": 3, "class_tokens": "sks woman"})
    assert edited.json() == {
        "id": body["id"],
        "name": "sks",
        "num_repeats": 3,
        "class_tokens": "sks woman",
        "folder": "3_sks",
    }
    ids = [image.pk for image in session_images[:2]]
    moved = api.post(
        f"/sessions/{session.pk}/subset-assignments", {"subset_id": body["id"], "image_ids": ids}
    )
    assert moved.json() == {"subset_id": body["id"], "moved": ids}
    listed = api.get(subsets_url(session)).json()
    assert listed["items"][0]["images"] == 2 and listed["unassigned"] == 1
    assert api.delete(url).status_code == 204
    assert subset_of(session, ids[0]) is None
    kinds = list(
        SessionEvent.objects.filter(session=session, kind__startswith="subset.").values_list(
            "kind", flat=True
        )
    )
    assert kinds == ["subset.created", "subset.updated", "subset.images", "subset.deleted"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "ohwx", "num_repeats": 0}, "invalid"),
        ({"name": "ohwx", "num_repeats": -3}, "invalid"),
        ({"name": "ohwx", "num_repeats": 10_001}, "invalid"),
        ({"name": "ohwx", "num_repeats": "10"}, "invalid"),
        ({"name": "a/b"}, "invalid"),
        ({"name": "a\\b"}, "invalid"),
        ({"name": ".."}, "invalid"),
        ({"name": "x" * 101}, "invalid"),
        ({"name": "tab\there"}, "invalid"),
        ({"name": "   "}, "invalid"),
    ],
)
def test_bad_subsets_are_refused_and_nothing_is_made(session, as_, bob, body, code) -> None:
    response = as_(bob).post(subsets_url(session), body)
    assert response.status_code in (400, 422), response.content
    assert error_of(response)["code"] in (code, "validation_error", "invalid_request")
    assert not SessionSubset.objects.exists()


def test_a_folder_taken_is_a_conflict(session, as_, bob, ohwx) -> None:
    response = as_(bob).post(subsets_url(session), {"name": "ohwx", "num_repeats": 10})
    assert response.status_code == 409
    other = as_(bob).post(subsets_url(session), {"name": "ohwx", "num_repeats": 5})
    assert other.status_code == 201  # 5_ohwx beside 10_ohwx, as two folders
    renamed = as_(bob).patch(f"{subsets_url(session)}/{other.json()['id']}", {"num_repeats": 10})
    assert renamed.status_code == 409
    assert SessionSubset.objects.get(pk=other.json()["id"]).num_repeats == 5


def test_viewer_reads_but_cannot_edit(session, as_, carol, ohwx, session_images) -> None:
    viewer = as_(carol)
    assert viewer.get(subsets_url(session)).json()["items"][0]["folder"] == "10_ohwx"
    url = f"{subsets_url(session)}/{ohwx.pk}"
    assert viewer.post(subsets_url(session), {"name": "x"}).status_code == 403
    assert viewer.patch(url, {"num_repeats": 2}).status_code == 403
    assert viewer.delete(url).status_code == 403
    assign = {"subset_id": ohwx.pk, "image_ids": [session_images[0].pk]}
    assert viewer.post(f"/sessions/{session.pk}/subset-assignments", assign).status_code == 403
    ohwx.refresh_from_db()
    assert ohwx.num_repeats == 10 and subset_of(session, session_images[0].pk) is None


def test_outsider_sees_nothing(session, as_, dave, ohwx) -> None:
    assert as_(dave).get(subsets_url(session)).status_code in (403, 404)


def test_another_sessions_images_and_subsets_are_refused(
    session, as_, alice, bob, ohwx, session_images
) -> None:
    other = session_create(owner=alice, name="Dogs").value
    foreign = make_image(color=(1, 2, 250), name="dog.png")
    session_images_add(other, actor=alice, images=[foreign])
    foreign_subset = subset_create(other, actor=alice, name="dog").value
    api = as_(bob)
    mixed = {"subset_id": ohwx.pk, "image_ids": [session_images[0].pk, foreign.pk]}
    response = api.post(f"/sessions/{session.pk}/subset-assignments", mixed)
    assert response.status_code == 404
    assert error_of(response)["details"] == [{"image_ids": [foreign.pk]}]
    assert subset_of(session, session_images[0].pk) is None  # refused whole
    into_foreign = {"subset_id": foreign_subset.pk, "image_ids": [session_images[0].pk]}
    assert api.post(f"/sessions/{session.pk}/subset-assignments", into_foreign).status_code == 404
    assert api.patch(f"{subsets_url(session)}/{foreign_subset.pk}", {"name": "x"}).status_code == (
        404
    )
    assert api.delete(f"{subsets_url(session)}/{foreign_subset.pk}").status_code == 404
    assert SessionSubset.objects.get(pk=foreign_subset.pk).name == "dog"


def test_image_detail_names_its_subset(session, as_, carol, alice, ohwx, session_images) -> None:
    subset_assign(session, actor=alice, subset_id=ohwx.pk, image_ids=[session_images[1].pk])
    detail = as_(carol).get(f"/sessions/{session.pk}/images/{session_images[1].pk}").json()
    assert detail["subset_id"] == ohwx.pk


def test_the_query_filters_by_subset(session, as_, carol, alice, ohwx, session_images) -> None:
    subset_assign(session, actor=alice, subset_id=ohwx.pk, image_ids=[session_images[1].pk])

    def ids(q: str) -> list[int]:
        page = as_(carol).get(f"/sessions/{session.pk}/images", q=q).json()
        return [item["id"] for item in page["items"]]

    assert ids("subset:ohwx") == [session_images[1].pk]
    assert ids("subset:10_ohwx") == [session_images[1].pk]
    assert ids('subset:"ohwx"') == [session_images[1].pk]
    assert ids("subset:5_ohwx") == []
    assert ids("-has:subset") == [session_images[0].pk, session_images[2].pk]
    assert ids("has:subset") == [session_images[1].pk]


def test_subset_counts_in_two_queries(session, ohwx, django_assert_num_queries) -> None:
    with django_assert_num_queries(2):
        selectors.session_subsets(session)


# --- undo ----------------------------------------------------------------------------


def test_undo_and_redo_each_subset_edit(session, alice, session_images) -> None:
    image = session_images[0].pk
    subset = subset_create(session, actor=alice, name="ohwx", num_repeats=10).value
    subset_assign(session, actor=alice, subset_id=subset.pk, image_ids=[image])
    from sessions_app.services.subsets import subset_delete, subset_update

    subset_update(session, subset.pk, actor=alice, num_repeats=4)
    subset_delete(session, subset.pk, actor=alice)
    assert not SessionSubset.objects.exists()

    operation_undo(session, actor=alice)  # the delete: back, with its image
    restored = SessionSubset.objects.get()
    assert (restored.folder, subset_of(session, image)) == ("4_ohwx", restored.pk)
    operation_undo(session, actor=alice)  # the repeats
    assert SessionSubset.objects.get().num_repeats == 10
    operation_undo(session, actor=alice)  # the move
    assert subset_of(session, image) is None
    operation_undo(session, actor=alice)  # the creation
    assert not SessionSubset.objects.exists()
    operation_redo(session, actor=alice)
    assert SessionSubset.objects.get().folder == "10_ohwx"


def test_undo_never_clobbers_someone_elses_move(session, alice, bob, session_images) -> None:
    image = session_images[0].pk
    first = subset_create(session, actor=bob, name="a").value
    second = subset_create(session, actor=bob, name="b").value
    subset_assign(session, actor=alice, subset_id=first.pk, image_ids=[image])
    subset_assign(session, actor=bob, subset_id=second.pk, image_ids=[image])
    with pytest.raises(Conflict):
        operation_undo(session, actor=alice)
    assert subset_of(session, image) == second.pk


# --- plain data for a backup ------------------------------------------------------------


def test_dump_and_load_recreate_the_subsets_in_another_session(
    session, alice, session_images
) -> None:
    subset = subset_create(
        session, actor=alice, name="ohwx", num_repeats=10, class_tokens="sks"
    ).value
    subset_assign(session, actor=alice, subset_id=subset.pk, image_ids=[session_images[2].pk])
    dumped = subsets_dump(session)
    assert dumped == [
        {
            "name": "ohwx",
            "num_repeats": 10,
            "class_tokens": "sks",
            "images": [session_images[2].sha256],
        }
    ]
    copy = session_create(owner=alice, name="Copy").value
    session_images_add(copy, actor=alice, images=session_images)
    subsets_load(copy, actor=alice, subsets=dumped)
    assert subsets_dump(copy) == dumped
    subsets_load(copy, actor=alice, subsets=dumped)  # again: nothing doubles
    assert subsets_dump(copy) == dumped


# --- the live feed ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_subset_edits_reach_open_sockets(session, alice, bob, session_images) -> None:
    db = database_sync_to_async
    seq = await db(lambda: TaggingSession.objects.get(pk=session.pk).last_seq)()
    comm, _ = await joined(session.pk, bob, last_seq=seq)
    try:
        created = await db(subset_create)(session, actor=alice, name="ohwx", num_repeats=10)
        subset = created.value
        await db(subset_assign)(
            session, actor=alice, subset_id=subset.pk, image_ids=[session_images[0].pk]
        )
        events = await events_until(comm, seq + 2)
        assert [e["kind"] for e in events] == ["subset.created", "subset.images"]
        assert events[0]["payload"]["subset"]["folder"] == "10_ohwx"
        assert events[1]["payload"]["moves"] == [[subset.pk, [session_images[0].pk]]]
        assert await comm.receive_nothing(0.2)
    finally:
        await comm.disconnect()
