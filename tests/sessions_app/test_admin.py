"""The session admin: members and settings through the services, the event log read-only."""

import pytest
from django.urls import reverse

from sessions_app import services
from sessions_app.models import Role, SessionEvent, SessionMember, TaggingSession

CHANGELIST = reverse("admin:sessions_app_taggingsession_changelist")


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def change_url(session) -> str:
    return reverse("admin:sessions_app_taggingsession_change", args=[session.pk])


def form_data(session, members, **overrides) -> dict:
    """A change-form POST keeping the session's fields and the given member rows."""
    data = {
        "name": session.name,
        "description": session.description,
        "trigger_word": session.trigger_word,
        "separator": session.separator,
        "members-TOTAL_FORMS": str(len(members) + 1),
        "members-INITIAL_FORMS": str(len(members)),
        f"members-{len(members)}-user": "",
        f"members-{len(members)}-role": "",
    }
    for index, member in enumerate(members):
        data[f"members-{index}-id"] = str(member.pk)
        data[f"members-{index}-session"] = str(session.pk)
        data[f"members-{index}-user"] = str(member.user_id)
        data[f"members-{index}-role"] = member.role
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def members_of(session) -> list[SessionMember]:
    return list(SessionMember.objects.filter(session=session).order_by("id"))


def roles(session) -> dict[str, str]:
    return dict(SessionMember.objects.filter(session=session).values_list("user__username", "role"))


def test_changelist_shows_progress_per_status(admin_client, session, session_images, alice):
    services.session_image_set_status(
        session, actor=alice, image_id=session_images[0].pk, status="tagged"
    )
    page = admin_client.get(CHANGELIST)
    assert page.status_code == 200
    assert "1 of 3 done — 2 todo · 1 tagged · 0 reviewed · 0 skipped" in page.content.decode()
    assert admin_client.get(CHANGELIST, {"q": "cat"}).status_code == 200


def test_change_page_shows_progress_members_and_events_link(admin_client, session, session_images):
    page = admin_client.get(change_url(session))
    assert page.status_code == 200
    html = page.content.decode()
    assert "0 of 3 done" in html
    assert f"?session__id__exact={session.pk}" in html
    assert admin_client.get(reverse("admin:sessions_app_taggingsession_add")).status_code == 200


def test_add_session_through_service(admin_client, alice):
    response = admin_client.post(
        reverse("admin:sessions_app_taggingsession_add"),
        {"name": "Dogs", "owner": str(alice.pk), "separator": ", ", "trigger_word": "dg"},
    )
    assert response.status_code == 302
    created = TaggingSession.objects.get(name="Dogs")
    assert roles(created) == {"alice": Role.OWNER}
    assert created.events.get().kind == "session.created"


def test_settings_change_is_logged(admin_client, session):
    response = admin_client.post(
        change_url(session), form_data(session, members_of(session), trigger_word="ohwx")
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.trigger_word == "ohwx"
    event = session.events.order_by("-seq").first()
    assert (event.kind, event.payload) == ("session.updated", {"trigger_word": "ohwx"})


def test_member_add_role_change_and_remove_go_through_services(admin_client, session, dave, staff):
    members = members_of(session)  # alice owner, bob editor, carol viewer
    data = form_data(
        session,
        members,
        **{
            "members-1-role": "viewer",  # bob
            "members-2-DELETE": "on",  # carol
            "members-3-user": str(dave.pk),
            "members-3-role": "editor",
        },
    )
    assert admin_client.post(change_url(session), data).status_code == 302
    assert roles(session) == {"alice": "owner", "bob": "viewer", "dave": "editor"}
    kinds = list(session.events.order_by("seq").values_list("kind", "payload", "actor"))[-3:]
    assert ("member.removed", {"username": "carol"}, staff.pk) in kinds
    assert ("member.added", {"username": "dave", "role": "editor"}, staff.pk) in kinds


def test_removing_the_last_owner_is_refused(admin_client, session):
    members = members_of(session)
    data = form_data(session, members, **{"members-0-role": "editor", "trigger_word": "x"})
    response = admin_client.post(change_url(session), data)
    assert response.status_code == 200
    assert "at least one owner" in str(
        response.context["inline_admin_formsets"][0].formset.non_form_errors()
    )
    assert roles(session)["alice"] == "owner"
    session.refresh_from_db()
    assert session.trigger_word == ""


def test_owner_hand_over_in_one_save(admin_client, session):
    members = members_of(session)
    data = form_data(session, members, **{"members-0-role": "editor", "members-1-role": "owner"})
    assert admin_client.post(change_url(session), data).status_code == 302
    assert roles(session) == {"alice": "editor", "bob": "owner", "carol": "viewer"}


def test_session_name_clash_is_refused(admin_client, session, alice):
    services.session_create(owner=alice, name="Dogs")
    response = admin_client.post(
        change_url(session), form_data(session, members_of(session), name="Dogs")
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["name"]
    assert errors == ["alice already has a session called 'Dogs'."]
    assert TaggingSession.objects.filter(name="Cats").exists()
    assert session.events.order_by("-seq").first().kind != "session.updated"


def test_delete_session_through_service(admin_client, session, session_images):
    url = reverse("admin:sessions_app_taggingsession_delete", args=[session.pk])
    confirm = admin_client.get(url)
    assert confirm.status_code == 200
    assert not confirm.context["perms_lacking"]
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not TaggingSession.objects.filter(pk=session.pk).exists()


def test_events_are_listed_read_only(admin_client, session, session_images):
    url = reverse("admin:sessions_app_sessionevent_changelist")
    page = admin_client.get(url, {"session__id__exact": session.pk})
    assert page.status_code == 200
    assert len(page.context["cl"].result_list) == session.events.count()
    assert admin_client.get(url, {"kind__exact": "images.added"}).status_code == 200
    event = session.events.get(seq=1)
    detail = admin_client.get(reverse("admin:sessions_app_sessionevent_change", args=[event.pk]))
    assert detail.status_code == 200
    assert b"session.created" in detail.content


def test_events_cannot_be_added_changed_or_deleted(admin_client, session):
    event = session.events.get(seq=1)
    delete = reverse("admin:sessions_app_sessionevent_delete", args=[event.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert admin_client.get(reverse("admin:sessions_app_sessionevent_add")).status_code == 403
    change = reverse("admin:sessions_app_sessionevent_change", args=[event.pk])
    admin_client.post(change, {"kind": "forged", "seq": "1", "payload": "{}"})
    event.refresh_from_db()
    assert event.kind == "session.created"
    assert SessionEvent.objects.filter(pk=event.pk).exists()
