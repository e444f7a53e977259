import pytest
from django.contrib.auth.models import AnonymousUser

from sessions_app import permissions
from tagger_project.errors import NotFound, PermissionDenied


def test_roles_of_the_cast(session, alice, bob, carol, dave):
    assert [permissions.role_of(u, session) for u in (alice, bob, carol, dave)] == [
        "owner",
        "editor",
        "viewer",
        None,
    ]
    assert permissions.role_of(AnonymousUser(), session) is None


def test_sessions_visible_only_to_members(session, carol, dave):
    assert list(permissions.sessions_visible_to(carol)) == [session]
    assert not permissions.sessions_visible_to(dave).exists()
    assert not permissions.sessions_visible_to(AnonymousUser()).exists()


def test_outsider_gets_not_found_and_viewer_cannot_edit(session, bob, carol, dave):
    with pytest.raises(NotFound):
        permissions.require_role(dave, session)
    with pytest.raises(PermissionDenied):
        permissions.require_role(carol, session, "editor")
    assert permissions.require_role(bob, session.pk, "editor") == "editor"
    with pytest.raises(PermissionDenied):
        permissions.session_for(bob, session.pk, "owner")


def test_image_visible_through_its_sessions(session_images, bob, carol, dave):
    image = session_images[0]
    assert permissions.image_for(bob, image.pk, "editor") == image
    assert permissions.image_for(carol, image.pk) == image
    with pytest.raises(PermissionDenied):
        permissions.image_for(carol, image.pk, "editor")
    with pytest.raises(NotFound):
        permissions.image_for(dave, image.pk)
    with pytest.raises(NotFound):
        permissions.image_for(bob, 10**9)
