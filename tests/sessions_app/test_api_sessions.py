import pytest

from sessions_app.models import SessionMember, TaggingSession
from tests.support.api import ApiClient, error_of


def test_list_shows_only_my_sessions_with_my_role(session, as_, carol, dave):
    body = as_(carol).get("/sessions").json()
    assert [(s["name"], s["role"], s["owner"]) for s in body["items"]] == [
        ("Cats", "viewer", "alice")
    ]
    assert body["next_cursor"] is None
    assert as_(dave).get("/sessions").json() == {"items": [], "next_cursor": None}


def test_list_pages_with_a_cursor(alice, as_):
    client = as_(alice)
    for name in ("one", "two", "three"):
        assert client.post("/sessions", {"name": name}).status_code == 201
    first = client.get("/sessions", limit=2).json()
    assert [s["name"] for s in first["items"]] == ["three", "two"]
    rest = client.get("/sessions", limit=2, cursor=first["next_cursor"]).json()
    assert [s["name"] for s in rest["items"]] == ["one"]
    assert rest["next_cursor"] is None
    assert error_of(client.get("/sessions", cursor="garbage!"))["code"] == "validation_error"


def test_create_makes_me_owner_and_logs(as_, bob):
    response = as_(bob).post("/sessions", {"name": " Dogs ", "trigger_word": "dgz"})
    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["role"], body["trigger_word"], body["last_seq"]) == (
        "Dogs",
        "owner",
        "dgz",
        1,
    )
    assert SessionMember.objects.get(session_id=body["id"], user=bob).role == "owner"


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"name": ""}, 422, "validation_error"),
        ({"name": "   "}, 422, "validation_error"),
        ({"name": "x", "separator": ""}, 422, "validation_error"),
        ({}, 422, "validation_error"),
    ],
)
def test_create_refuses_bad_input_and_changes_nothing(session, as_, bob, payload, status, code):
    before = TaggingSession.objects.count()
    response = as_(bob).post("/sessions", payload)
    assert response.status_code == status
    assert error_of(response)["code"] == code
    assert TaggingSession.objects.count() == before


@pytest.mark.parametrize(
    ("who", "get", "patch", "delete"),
    [
        ("alice", 200, 200, 204),
        ("bob", 200, 403, 403),
        ("carol", 200, 403, 403),
        ("dave", 404, 404, 404),
    ],
)
def test_session_permissions_by_role(session, as_, request, who, get, patch, delete):
    client = as_(request.getfixturevalue(who))
    assert client.get(f"/sessions/{session.pk}").status_code == get
    assert client.patch(f"/sessions/{session.pk}", {"description": "x"}).status_code == patch
    assert client.delete(f"/sessions/{session.pk}").status_code == delete
    assert TaggingSession.objects.filter(pk=session.pk).exists() == (delete != 204)


def test_patch_changes_settings_and_logs(session, as_, alice):
    response = as_(alice).patch(
        f"/sessions/{session.pk}", {"separator": " ", "use_underscores": True}
    )
    assert response.status_code == 200
    assert (response.json()["separator"], response.json()["use_underscores"]) == (" ", True)
    events = as_(alice).get(f"/sessions/{session.pk}/events").json()["items"]
    assert events[-1]["kind"] == "session.updated"


def test_anonymous_gets_401_everywhere(session):
    anonymous = ApiClient()
    for path in ("/sessions", f"/sessions/{session.pk}", f"/sessions/{session.pk}/images"):
        response = anonymous.get(path)
        assert response.status_code == 401
        assert error_of(response)["code"] == "unauthenticated"
    assert anonymous.post("/sessions", {"name": "x"}).status_code == 401
    assert not TaggingSession.objects.filter(name="x").exists()


def test_members_owner_manages(session, as_, alice, bob, dave):
    client = as_(alice)
    listed = client.get(f"/sessions/{session.pk}/members").json()["items"]
    assert listed == [
        {"username": "alice", "role": "owner"},
        {"username": "bob", "role": "editor"},
        {"username": "carol", "role": "viewer"},
    ]
    added = client.post(f"/sessions/{session.pk}/members", {"username": "dave", "role": "viewer"})
    assert added.status_code == 201
    assert as_(dave).get(f"/sessions/{session.pk}").status_code == 200
    assert client.delete(f"/sessions/{session.pk}/members", username="dave").status_code == 204
    assert as_(dave).get(f"/sessions/{session.pk}").status_code == 404


def test_members_refusals(session, as_, alice, bob, carol):
    path = f"/sessions/{session.pk}/members"
    assert as_(bob).post(path, {"username": "dave", "role": "editor"}).status_code == 403
    assert as_(alice).post(path, {"username": "dave", "role": "boss"}).status_code == 422
    nobody = as_(alice).post(path, {"username": "nobody", "role": "viewer"})
    assert error_of(nobody)["code"] == "not_found"
    assert as_(alice).delete(path, username="alice").status_code == 409  # last owner
    assert as_(bob).delete(path, username="carol").status_code == 403
    # Anyone may leave.
    assert as_(carol).delete(path, username="carol").status_code == 204
    assert SessionMember.objects.filter(session=session).count() == 2


def test_progress_counts_statuses(session, session_images, as_, bob, carol):
    image = session_images[0]
    path = f"/sessions/{session.pk}/images/{image.pk}/status"
    assert as_(bob).post(path, {"status": "tagged"}).status_code == 200
    assert as_(carol).get(f"/sessions/{session.pk}/progress").json() == {
        "total": 3,
        "todo": 2,
        "tagged": 1,
        "reviewed": 0,
        "skipped": 0,
    }
