"""What one user can learn about another's sessions and account: nothing they are not shown."""

import pytest
from django.db import IntegrityError, transaction

from sessions_app import services
from sessions_app.models import SessionMember, TaggingSession
from tagger_project.errors import Conflict
from tests.support.api import error_of


def test_another_owner_may_reuse_a_name_without_learning_it_exists(session, as_, dave):
    response = as_(dave).post("/sessions", {"name": "Cats"})
    assert response.status_code == 201, response.content
    assert TaggingSession.objects.filter(name="Cats").count() == 2
    renamed = as_(dave).post("/sessions", {"name": "Dogs"}).json()
    patched = as_(dave).patch(f"/sessions/{renamed['id']}", {"name": " Cats "})
    assert error_of(patched)["code"] == "conflict"  # dave's own "Cats", not alice's
    assert "you already own" in error_of(patched)["message"]


def test_one_owner_cannot_hold_two_sessions_of_one_name(session, as_, alice):
    response = as_(alice).post("/sessions", {"name": "Cats"})
    assert response.status_code == 409
    assert error_of(response)["message"] == "you already own a session called 'Cats'"
    other = services.session_create(owner=alice, name="Dogs").value
    with pytest.raises(Conflict):
        services.session_update(other, actor=alice, name="Cats")


def test_the_database_holds_names_unique_per_owner(session, alice, bob):
    TaggingSession.objects.create(owner=bob, name="Cats")
    with pytest.raises(IntegrityError), transaction.atomic():
        TaggingSession.objects.create(owner=alice, name="Cats")


def test_removing_a_non_member_answers_alike_whether_the_user_exists(session, as_, alice, dave):
    path = f"/sessions/{session.pk}/members"
    existing = as_(alice).delete(path, username="dave")
    missing = as_(alice).delete(path, username="no-such-user")
    assert existing.status_code == missing.status_code == 404
    assert error_of(existing)["message"] == "no member called 'dave' in this session"
    assert error_of(missing)["message"] == "no member called 'no-such-user' in this session"
    assert SessionMember.objects.filter(session=session).count() == 3


def test_commands_ask_for_the_owner_when_a_name_is_shared(session, dave, tmp_path):
    from django.core.management import CommandError, call_command

    services.session_create(owner=dave, name="Cats")
    with pytest.raises(CommandError, match=r"several sessions are called 'Cats'.*session's id"):
        call_command("export_dataset", "Cats", "--out", str(tmp_path / "out"))
    with pytest.raises(CommandError, match=r"several sessions are called 'Cats'.*--owner"):
        call_command("import_dataset", str(tmp_path), "--session", "Cats")


@pytest.mark.parametrize(
    "name", ["two\nlines", "cr\rhere", "zero\u200bwidth", "bidi\u202eflip", "bell\x07"]
)
def test_session_names_refuse_what_tags_refuse(as_, alice, session, name):
    created = as_(alice).post("/sessions", {"name": name})
    assert created.status_code == 422  # the schema's pattern states it
    assert "invisible characters" in error_of(created)["message"]
    patched = as_(alice).patch(f"/sessions/{session.pk}", {"name": name})
    assert patched.status_code == 422
    assert TaggingSession.objects.filter(owner=alice).count() == 1
