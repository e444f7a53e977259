"""The tag admin: pages render, and every write goes through the services."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from sessions_app import services as session_services
from sessions_app.models import SessionEvent, SessionImageTag
from tags.models import Tag, TagAlias, TagImplication
from tags.services import implication_create

CHANGELIST = reverse("admin:tags_tag_changelist")


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def tagged(session, session_images, alice):
    """cat0: [cat, kitty, sitting], cat1: [kitty, cat]."""
    first, second, _ = session_images
    session_services.tags_add(session, first.pk, actor=alice, names=["cat", "kitty", "sitting"])
    session_services.tags_add(session, second.pk, actor=alice, names=["kitty", "cat"])
    return session_images


def change_url(tag: Tag) -> str:
    return reverse("admin:tags_tag_change", args=[tag.pk])


def inline_data(tag: Tag, **overrides) -> dict:
    """A change-form POST that keeps the tag as it is, with empty inline rows."""
    data = {
        "category": tag.category,
        "description": tag.description,
        "aliases-TOTAL_FORMS": "1",
        "aliases-INITIAL_FORMS": "0",
        "aliases-0-name": "",
        "implications-TOTAL_FORMS": "1",
        "implications-INITIAL_FORMS": "0",
        "implications-0-implied": "",
    }
    data.update(overrides)
    return data


def test_changelist_search_filter_and_counts_render(admin_client, tagged):
    page = admin_client.get(CHANGELIST)
    assert page.status_code == 200
    assert b"kitty" in page.content
    found = admin_client.get(CHANGELIST, {"q": "kit"})
    assert list(found.context["cl"].result_list) == [Tag.objects.get(name="kitty")]
    filtered = admin_client.get(CHANGELIST, {"category__exact": "character"})
    assert list(filtered.context["cl"].result_list) == []
    counts = {tag.name: tag.image_count for tag in page.context["cl"].result_list}
    assert counts == {"cat": 2, "kitty": 2, "sitting": 1}


def test_search_finds_tag_by_alias(admin_client, tagged):
    TagAlias.objects.create(name="neko", tag=Tag.objects.get(name="cat"))
    found = admin_client.get(CHANGELIST, {"q": "neko"})
    assert [tag.name for tag in found.context["cl"].result_list] == ["cat"]


def test_change_form_and_add_form_render(admin_client, tagged):
    assert admin_client.get(change_url(Tag.objects.get(name="cat"))).status_code == 200
    assert admin_client.get(reverse("admin:tags_tag_add")).status_code == 200


def test_add_tag_normalizes_through_service(admin_client, db):
    response = admin_client.post(
        reverse("admin:tags_tag_add"),
        {"name": "  Hatsune_Miku ", "category": "character", "description": ""},
    )
    assert response.status_code == 302
    tag = Tag.objects.get()
    assert (tag.name, tag.category) == ("hatsune miku", "character")


def test_add_tag_that_is_an_alias_is_refused(admin_client, tagged):
    TagAlias.objects.create(name="neko", tag=Tag.objects.get(name="cat"))
    before = set(Tag.objects.values_list("name", flat=True))
    response = admin_client.post(
        reverse("admin:tags_tag_add"), {"name": "neko", "category": "general", "description": ""}
    )
    assert response.status_code == 302  # back to the form, with the reason as a message
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("alias of 'cat'" in m for m in messages)
    assert set(Tag.objects.values_list("name", flat=True)) == before


def test_change_category_goes_through_service(admin_client, tagged):
    cat = Tag.objects.get(name="cat")
    response = admin_client.post(change_url(cat), inline_data(cat, category="character"))
    assert response.status_code == 302
    cat.refresh_from_db()
    assert cat.category == "character"
    assert SessionEvent.objects.filter(kind="tag.recategorized").exists()


def test_alias_inline_creates_alias(admin_client, tagged):
    cat = Tag.objects.get(name="cat")
    response = admin_client.post(change_url(cat), inline_data(cat, **{"aliases-0-name": "Neko"}))
    assert response.status_code == 302
    assert TagAlias.objects.get(name="neko").tag == cat


def test_alias_that_is_a_tag_in_use_is_refused(admin_client, tagged):
    cat = Tag.objects.get(name="cat")
    response = admin_client.post(change_url(cat), inline_data(cat, **{"aliases-0-name": "kitty"}))
    assert response.status_code == 200
    assert "merge it instead" in str(response.context["inline_admin_formsets"][0].formset.errors)
    assert not TagAlias.objects.exists()
    assert Tag.objects.get(name="kitty").image_count == 2


def test_alias_inline_delete_goes_through_service(admin_client, tagged):
    cat = Tag.objects.get(name="cat")
    alias = TagAlias.objects.create(name="neko", tag=cat)
    data = inline_data(
        cat,
        **{
            "aliases-TOTAL_FORMS": "1",
            "aliases-INITIAL_FORMS": "1",
            "aliases-0-id": str(alias.pk),
            "aliases-0-tag": str(cat.pk),
            "aliases-0-name": "neko",
            "aliases-0-DELETE": "on",
        },
    )
    assert admin_client.post(change_url(cat), data).status_code == 302
    assert not TagAlias.objects.exists()


def test_implication_inline_creates_implication(admin_client, tagged):
    cat, kitty = Tag.objects.get(name="cat"), Tag.objects.get(name="kitty")
    response = admin_client.post(
        change_url(kitty), inline_data(kitty, **{"implications-0-implied": str(cat.pk)})
    )
    assert response.status_code == 302
    assert TagImplication.objects.filter(tag=kitty, implied=cat).exists()


def test_implication_cycle_is_refused(admin_client, tagged):
    cat, kitty = Tag.objects.get(name="cat"), Tag.objects.get(name="kitty")
    implication_create(kitty, implied=cat)
    response = admin_client.post(
        change_url(cat),
        inline_data(cat, category="meta", **{"implications-0-implied": str(kitty.pk)}),
    )
    assert response.status_code == 200
    assert "cycle" in str(response.context["inline_admin_formsets"][1].formset.errors)
    assert TagImplication.objects.count() == 1
    cat.refresh_from_db()
    assert cat.category == "general"  # the whole form was refused


def post_action(client, action: str, tags: list[Tag], **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [str(tag.pk) for tag in tags], **extra}
    return client.post(CHANGELIST, data)


def test_merge_action_shows_form_then_merges_through_service(admin_client, session, tagged):
    kitty, cat = Tag.objects.get(name="kitty"), Tag.objects.get(name="cat")
    page = post_action(admin_client, "merge_into", [kitty])
    assert page.status_code == 200
    assert b"Merge into" in page.content
    seq_before = session.events.count()
    done = post_action(admin_client, "merge_into", [kitty], apply="1", target="cat")
    assert done.status_code == 302
    assert not Tag.objects.filter(name="kitty").exists()
    assert TagAlias.objects.get(name="kitty").tag == cat
    first = tagged[0]
    assert list(
        SessionImageTag.objects.filter(entry__image=first)
        .order_by("position")
        .values_list("tag__name", flat=True)
    ) == ["cat", "sitting"]
    cat.refresh_from_db()
    assert cat.image_count == 2
    event = SessionEvent.objects.get(session=session, seq=seq_before + 1)
    assert (event.kind, event.payload) == ("tags.merged", {"from": "kitty", "to": "cat"})


def test_merge_into_itself_is_refused(admin_client, session, tagged):
    cat = Tag.objects.get(name="cat")
    seq_before = session.events.count()
    page = post_action(admin_client, "merge_into", [cat], apply="1", target="cat")
    assert page.status_code == 200
    assert "Cannot merge a tag into itself." in page.context["form"].errors["target"]
    assert Tag.objects.filter(name="cat").exists()
    assert session.events.count() == seq_before


def test_merge_into_unknown_tag_is_refused(admin_client, session, tagged):
    kitty = Tag.objects.get(name="kitty")
    page = post_action(admin_client, "merge_into", [kitty], apply="1", target="dog")
    assert "No tag or alias has that name." in page.context["form"].errors["target"]
    assert Tag.objects.get(name="kitty").image_count == 2


def test_rename_action_renames_through_service(admin_client, session, tagged):
    sitting = Tag.objects.get(name="sitting")
    assert post_action(admin_client, "rename", [sitting]).status_code == 200
    done = post_action(admin_client, "rename", [sitting], apply="1", new_name="Sitting_Down")
    assert done.status_code == 302
    sitting.refresh_from_db()
    assert sitting.name == "sitting down"
    assert TagAlias.objects.get(name="sitting").tag == sitting
    assert session.events.order_by("-seq").first().kind == "tag.renamed"


def test_rename_to_existing_tag_is_refused(admin_client, session, tagged):
    sitting = Tag.objects.get(name="sitting")
    seq_before = session.events.count()
    page = post_action(admin_client, "rename", [sitting], apply="1", new_name="cat")
    assert page.status_code == 200
    assert "merge into it instead" in str(page.context["form"].errors["new_name"])
    assert Tag.objects.filter(name="sitting").exists()
    assert session.events.count() == seq_before


def test_rename_needs_exactly_one_tag(admin_client, tagged):
    tags = list(Tag.objects.all())
    response = post_action(admin_client, "rename", tags)
    assert response.status_code == 302
    assert set(Tag.objects.values_list("name", flat=True)) == {"cat", "kitty", "sitting"}


def test_tags_cannot_be_deleted_in_admin(admin_client, tagged):
    cat = Tag.objects.get(name="cat")
    response = admin_client.post(reverse("admin:tags_tag_delete", args=[cat.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert Tag.objects.filter(name="cat").exists()
