import pytest

from sessions_app import services
from sessions_app.models import Role, SessionImage, SessionMember
from tagger_project.errors import Conflict, InvalidInput, NotFound
from tests.support.images import make_image


def test_create_makes_owner_a_member_and_logs(alice):
    session = services.session_create(owner=alice, name="  Dogs ", trigger_word="dg").value
    assert session.name == "Dogs"
    assert SessionMember.objects.get(session=session, user=alice).role == Role.OWNER
    assert session.events.get(seq=1).kind == "session.created"


@pytest.mark.parametrize("name", ["", "   "])
def test_create_refuses_empty_name(alice, name):
    with pytest.raises(InvalidInput):
        services.session_create(owner=alice, name=name)


def test_create_refuses_duplicate_name(session, alice):
    with pytest.raises(Conflict):
        services.session_create(owner=alice, name="Cats")


def test_update_refuses_unknown_fields(session, alice):
    with pytest.raises(InvalidInput):
        services.session_update(session, actor=alice, owner=None)


def test_update_logs_change(session, alice):
    services.session_update(session, actor=alice, trigger_word="ohwx")
    session.refresh_from_db()
    assert session.trigger_word == "ohwx"
    assert session.events.last().payload == {"trigger_word": "ohwx"}


def test_member_roles_change_and_last_owner_stays(session, alice, bob):
    services.session_member_add(session, actor=alice, user=bob, role="viewer")
    assert SessionMember.objects.get(session=session, user=bob).role == "viewer"
    with pytest.raises(Conflict):
        services.session_member_add(session, actor=alice, user=alice, role="editor")
    with pytest.raises(Conflict):
        services.session_member_remove(session, actor=alice, user=alice)
    with pytest.raises(InvalidInput):
        services.session_member_add(session, actor=alice, user=bob, role="admin")
    services.session_member_remove(session, actor=alice, user=bob)
    assert not SessionMember.objects.filter(session=session, user=bob).exists()


def test_images_add_appends_once(session, alice):
    first, second = make_image(name="1.png"), make_image(name="2.png", color=(1, 2, 3))
    assert services.session_images_add(session, actor=alice, images=[first]).value == [first.pk]
    assert services.session_images_add(session, actor=alice, images=[first, second]).value == [
        second.pk
    ]
    entries = SessionImage.objects.filter(session=session).order_by("position")
    assert [entry.image_id for entry in entries] == [first.pk, second.pk]


def test_status_change_and_bad_status(session, session_images, bob):
    image = session_images[0]
    services.session_image_set_status(session, actor=bob, image_id=image.pk, status="reviewed")
    assert SessionImage.objects.get(session=session, image=image).status == "reviewed"
    event = session.events.last()
    assert event.kind == "image.status"
    assert event.inverse == {
        "op": "set_status",
        "image_id": image.pk,
        "status": "todo",
        "expected": "reviewed",
    }
    with pytest.raises(InvalidInput):
        services.session_image_set_status(session, actor=bob, image_id=image.pk, status="done")
    outsider = make_image(name="out.png", color=(9, 9, 9))
    with pytest.raises(NotFound):
        services.session_image_set_status(session, actor=bob, image_id=outsider.pk, status="todo")
