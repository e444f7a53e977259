"""The browser pages as HTML: who sees what, and what the workspace is told."""

import json

import pytest

from sessions_app.overview import sessions_overview
from tests.support.images import make_image

pytestmark = pytest.mark.django_db


def config_of(response) -> dict:
    html = response.content.decode()
    start = html.index('id="workspace-config"')
    body = html[html.index(">", start) + 1 : html.index("</script>", start)]
    return json.loads(body)


def test_login_page_has_the_usual_fields(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html and 'name="password"' in html


def test_pages_send_anonymous_people_to_sign_in(client, session):
    for path in ("/sessions/", f"/sessions/{session.pk}/", "/"):
        response = client.get(path, follow=True)
        assert response.redirect_chain[-1][0].startswith("/accounts/login/")


def test_sessions_page_lists_only_my_sessions_with_progress(client, alice, dave, session_images):
    from sessions_app import services

    services.session_create(owner=dave, name="Dave's secret")
    client.force_login(alice)
    html = client.get("/sessions/").content.decode()
    assert "Cats" in html
    assert "Dave&#x27;s secret" not in html and "Dave's secret" not in html
    assert "0 of 3 images done" in html


def test_overview_counts_statuses_in_few_queries(
    alice, session, session_images, django_assert_max_num_queries
):
    from sessions_app import services

    services.session_image_set_status(
        session, actor=alice, image_id=session_images[0].pk, status="tagged"
    )
    with django_assert_max_num_queries(5):
        (row,) = sessions_overview(alice)
    assert (row.total, row.done, row.role) == (3, 1, "owner")
    assert row.counts == {"todo": 2, "tagged": 1}


def test_workspace_is_not_found_for_outsiders(client, dave, session):
    client.force_login(dave)
    assert client.get(f"/sessions/{session.pk}/").status_code == 404
    assert client.get("/sessions/999999/").status_code == 404


def test_workspace_tells_the_page_who_i_am_and_which_image_to_open(client, carol, session):
    image = make_image()
    client.force_login(carol)
    response = client.get(f"/sessions/{session.pk}/?image={image.pk}")
    assert response.status_code == 200
    config = config_of(response)
    assert config["role"] == "viewer" and config["canEdit"] is False
    assert config["initialImage"] == image.pk
    session.refresh_from_db()
    assert config["lastSeq"] == session.last_seq
    assert config_of(client.get(f"/sessions/{session.pk}/?image=nonsense"))["initialImage"] is None


def test_insight_page_is_for_members_only(client, alice, carol, dave, session):
    path = f"/sessions/{session.pk}/insight/"
    assert client.get(path, follow=True).redirect_chain[-1][0].startswith("/accounts/login/")
    client.force_login(dave)
    assert client.get(path).status_code == 404
    assert client.get("/sessions/999999/insight/").status_code == 404
    for member in (alice, carol):  # owner and viewer alike: reading is all it does
        client.force_login(member)
        response = client.get(path)
        assert response.status_code == 200
        assert "js/insight.js" in response.content.decode()


def test_insight_page_names_its_session_and_is_linked_from_the_others(client, carol, session):
    client.force_login(carol)
    html = client.get(f"/sessions/{session.pk}/insight/").content.decode()
    assert "Cats" in html and f'href="/sessions/{session.pk}/"' in html
    assert 'for="prune-range"' in html and 'for="prune-number"' in html
    insight_href = f'href="/sessions/{session.pk}/insight/"'
    assert insight_href in client.get(f"/sessions/{session.pk}/").content.decode()
    assert insight_href in client.get("/sessions/").content.decode()


def test_export_options_start_from_the_sessions_pinned_tags(client, alice, session):
    from sessions_app.rules import TagRules
    from sessions_app.services.rules import rules_save

    rules_save(session, TagRules(pinned=("solo", "red hair")))
    client.force_login(alice)
    html = client.get("/sessions/").content.decode()
    assert f'id="export-pinned-{session.pk}" name="pinned"' in html
    assert 'value="solo, red hair"' in html
    for status in ("todo", "tagged", "reviewed", "skipped"):
        assert f'name="status" value="{status}"' in html
