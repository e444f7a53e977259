"""Workspace defects users met, each as the browser met it (real daphne, Chromium, database)."""

import time

import pytest
from django.db.models import F
from playwright.sync_api import expect

from sessions_app import services as session_services
from sessions_app.models import SessionImage
from tags.models import Tag
from tests.conftest import password_of
from tests.e2e.conftest import off_loop, sign_in
from tests.e2e.test_workspace import chips, stocked_session, tag_names, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def open_workspace(new_page, user, session, image_id):
    page = new_page()
    sign_in(page, user)
    page.goto(f"/sessions/{session.pk}/?image={image_id}")
    expect(page.locator("#conn-pill")).to_have_text("Live")
    expect(page.locator("#panel-caption")).not_to_be_empty()
    return page


def type_tags(page, *names):
    tag_input = page.get_by_role("combobox", name="Add tag")
    for name in names:
        tag_input.fill(name)
        tag_input.press("Enter")
        expect(chips(page).filter(has_text=name)).to_be_visible()
    expect(page.locator("#chips li.pending")).to_have_count(0)


def test_z_undoes_three_of_my_edits_one_after_another(new_page, alice):
    session, ids = stocked_session(alice, count=2)
    page = open_workspace(new_page, "alice", session, ids[0])
    type_tags(page, "aaa", "bbb", "ccc")
    assert wait_for(lambda: tag_names(ids[0]) == ["aaa", "bbb", "ccc"])

    page.locator("#grid").focus()
    for expected in (["aaa", "bbb"], ["aaa"], []):
        page.keyboard.press("z")
        assert wait_for(lambda: tag_names(ids[0]) == expected), expected  # noqa: B023
        expect(chips(page)).to_have_count(len(expected))
    expect(page.locator("#toasts .toast.error")).to_have_count(0)
    assert page.errors == []


def test_select_all_matching_applies_to_the_filter_that_was_applied(new_page, alice):
    session, ids = stocked_session(alice, count=5)
    for image_id in ids[:2]:
        off_loop(session_services.tags_add, session, image_id, actor=alice, names=["1boy"])
    for image_id in ids[2:4]:
        off_loop(session_services.tags_add, session, image_id, actor=alice, names=["landscape"])
    page = open_workspace(new_page, "alice", session, ids[0])

    filter_box = page.get_by_label("Filter images")
    filter_box.fill("1boy")
    filter_box.press("Enter")
    expect(page.locator(".tile")).to_have_count(2)
    page.get_by_role("button", name="Select all matching").click()
    filter_box.fill("landscape")  # typed, never applied
    page.get_by_label("Batch tag").fill("picked")
    page.get_by_role("button", name="Apply to selection").click()
    expect(page.get_by_text("2 images changed.")).to_be_visible()
    picked = [image_id for image_id in ids if "picked" in tag_names(image_id)]
    assert picked == ids[:2]


def test_a_reorder_refused_by_a_concurrent_edit_says_so_and_the_message_stays(new_page, alice):
    session, ids = stocked_session(alice, count=1)
    off_loop(session_services.tags_add, session, ids[0], actor=alice, names=["aaa", "bbb"])
    page = open_workspace(new_page, "alice", session, ids[0])
    expect(chips(page)).to_have_count(2)
    # Someone's edit whose event has not reached this page yet: the server's
    # version moves on, so the reorder quoting the old one meets a 409.
    SessionImage.objects.filter(session=session, image_id=ids[0]).update(version=F("version") + 1)
    chips(page).filter(has_text="bbb").focus()
    page.keyboard.press("Alt+ArrowLeft")
    error = page.locator("#tag-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("changed")
    time.sleep(1.5)
    expect(error).to_be_visible()
    expect(error).to_contain_text("changed")
    assert tag_names(ids[0]) == ["aaa", "bbb"]


def test_keyboard_reorder_keeps_focus_on_the_moved_chip(new_page, alice):
    session, ids = stocked_session(alice, count=1)
    off_loop(session_services.tags_add, session, ids[0], actor=alice, names=["aaa", "bbb", "ccc"])
    page = open_workspace(new_page, "alice", session, ids[0])
    expect(chips(page)).to_have_count(3)
    chips(page).filter(has_text="ccc").focus()
    page.keyboard.press("Alt+ArrowLeft")
    assert wait_for(lambda: tag_names(ids[0]) == ["aaa", "ccc", "bbb"])
    expect(chips(page).filter(has_text="ccc")).to_be_focused()
    page.keyboard.press("Alt+ArrowLeft")
    assert wait_for(lambda: tag_names(ids[0]) == ["ccc", "aaa", "bbb"])
    expect(chips(page).filter(has_text="ccc")).to_be_focused()
    page.keyboard.press("Alt+ArrowRight")
    assert wait_for(lambda: tag_names(ids[0]) == ["aaa", "ccc", "bbb"])
    expect(chips(page).filter(has_text="ccc")).to_be_focused()


def test_autocomplete_after_a_comma_suggests_for_the_current_token(new_page, alice):
    session, ids = stocked_session(alice, count=2)
    off_loop(session_services.tags_add, session, ids[1], actor=alice, names=["smile"])
    page = open_workspace(new_page, "alice", session, ids[0])
    refused = []
    page.on(
        "response",
        lambda r: refused.append(r.url) if "/api/tags" in r.url and r.status >= 400 else None,
    )
    tag_input = page.get_by_role("combobox", name="Add tag")
    tag_input.press_sequentially("red scarf, sm", delay=30)
    option = page.get_by_role("option", name="smile")
    expect(option).to_be_visible()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert wait_for(lambda: tag_names(ids[0]) == ["red scarf", "smile"])
    assert refused == []


def test_a_trailing_comma_in_the_filter_is_accepted(new_page, alice):
    session, ids = stocked_session(alice, count=3)
    off_loop(session_services.tags_add, session, ids[1], actor=alice, names=["1girl"])
    page = open_workspace(new_page, "alice", session, ids[1])
    filter_box = page.get_by_label("Filter images")
    filter_box.fill("1girl,")
    filter_box.press("Enter")
    expect(page.locator(".tile")).to_have_count(1)
    expect(page.locator("#filter-error")).to_be_hidden()


def test_the_panel_leaves_an_image_the_filter_excludes(new_page, alice):
    session, ids = stocked_session(alice, count=3)
    off_loop(session_services.tags_add, session, ids[0], actor=alice, names=["blurry"])
    page = open_workspace(new_page, "alice", session, ids[0])
    expect(page.locator("#panel-caption")).to_contain_text("cat0.png")
    filter_box = page.get_by_label("Filter images")
    filter_box.fill("-blurry")
    filter_box.press("Enter")
    expect(page.locator(".tile")).to_have_count(2)
    # The first image that matches takes its place, as in BooruDatasetTagManager.
    expect(page.locator("#panel-caption")).to_contain_text("cat1.png")
    type_tags(page, "sharp")
    assert wait_for(lambda: tag_names(ids[1]) == ["sharp"])
    assert tag_names(ids[0]) == ["blurry"]

    # A filter nothing matches leaves nothing to edit.
    filter_box.fill("no such tag")
    filter_box.press("Enter")
    expect(page.locator("#grid-empty")).to_be_visible()
    expect(page.locator("#panel-empty")).to_be_visible()
    expect(page.get_by_role("combobox", name="Add tag")).to_be_hidden()


def test_a_category_change_in_the_admin_shows_live(new_page, alice, staff):
    session, ids = stocked_session(alice, count=1)
    off_loop(session_services.tags_add, session, ids[0], actor=alice, names=["saber"])
    page = open_workspace(new_page, "alice", session, ids[0])
    chip = chips(page).filter(has_text="saber")
    expect(chip).to_have_class("chip cat-general")

    admin = new_page()
    admin.goto("/admin/login/")
    admin.get_by_label("Username").fill(staff.username)
    admin.get_by_label("Password").fill(password_of(staff.username))
    admin.get_by_role("button", name="Log in").click()
    admin.goto(f"/admin/tags/tag/{Tag.objects.get(name='saber').pk}/change/")
    admin.get_by_label("Category").select_option("character")
    admin.get_by_role("button", name="Save", exact=True).click()
    expect(admin.locator(".messagelist")).to_contain_text("changed successfully")

    expect(chip).to_have_class("chip cat-character", timeout=3000)
    sidebar_entry = page.locator("#tag-counts").get_by_role("button", name="saber")
    expect(sidebar_entry).to_have_class("tag-count cat-character", timeout=3000)
