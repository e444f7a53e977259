"""The subsets panel: kohya repeat folders listed with counts, edited, filled from a selection."""

import pytest
from playwright.sync_api import expect

from sessions_app.models import SessionImage, SessionSubset
from sessions_app.services.subsets import subset_assign, subset_create
from tests.e2e.conftest import off_loop, screenshot, serious_violations, sign_in
from tests.e2e.test_workspace import stocked_session, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def subset_rows(page):
    return page.get_by_role("list", name="Subsets").get_by_role("listitem")


def _prepare(alice, bob, carol):
    session, ids = stocked_session(alice, count=5, members=[(bob, "editor"), (carol, "viewer")])

    def make():
        ohwx = subset_create(session, actor=alice, name="ohwx", num_repeats=10).value
        subset_create(session, actor=alice, name="style", num_repeats=5)
        subset_assign(session, actor=alice, subset_id=ohwx.pk, image_ids=ids[:2])
        return ohwx

    return session, ids, off_loop(make)


def subset_of(session, image_id):
    return SessionImage.objects.get(session=session, image_id=image_id).subset_id


def test_editor_edits_subsets_and_fills_one_from_the_selection(new_page, alice, bob, carol):
    session, ids, ohwx = _prepare(alice, bob, carol)
    page = new_page()
    sign_in(page, "bob")
    page.goto(f"/sessions/{session.pk}/")
    expect(page.locator("#conn-pill")).to_have_text("Live")
    rows = subset_rows(page)
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("10_ohwx")
    expect(rows.nth(0).locator(".count")).to_have_text("2")
    expect(page.locator(".subset-unassigned")).to_have_text("3 in no subset")

    # Repeats: the folder's name follows.
    repeats = page.get_by_label("Repeats of 10_ohwx")
    repeats.fill("4")
    repeats.press("Enter")
    expect(rows.nth(0)).to_contain_text("4_ohwx")
    assert wait_for(lambda: SessionSubset.objects.get(pk=ohwx.pk).num_repeats == 4)
    page.get_by_label("Class of 4_ohwx").fill("ohwx woman")
    page.get_by_label("Class of 4_ohwx").press("Tab")
    assert wait_for(lambda: SessionSubset.objects.get(pk=ohwx.pk).class_tokens == "ohwx woman")

    # Bad repeats are refused, and the field shows what is stored.
    page.get_by_label("Repeats of 5_style").fill("0")
    page.get_by_label("Repeats of 5_style").press("Enter")
    expect(page.locator(".toast.error")).to_be_visible()
    expect(page.get_by_label("Repeats of 5_style")).to_have_value("5")

    # Select two images and add them to 5_style.
    page.locator(f"#tile-{ids[3]}").click(modifiers=["Control"])
    page.locator(f"#tile-{ids[4]}").click(modifiers=["Control"])
    rows.nth(1).get_by_role("button", name="Add selected").click()
    expect(rows.nth(1).locator(".count")).to_have_text("2")
    assert wait_for(lambda: subset_of(session, ids[4]) is not None)

    # A new subset from the form.
    page.get_by_placeholder("New subset, e.g. ohwx").fill("pose")
    page.get_by_label("Its repeats").fill("3")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(rows).to_have_count(3)
    expect(rows.nth(2)).to_contain_text("3_pose")
    screenshot(page, "subsets-panel-edit")
    page.get_by_role("button", name="Delete subset 3_pose").click()
    expect(rows).to_have_count(2)

    # Clicking a subset filters the grid to it.
    rows.nth(1).get_by_role("button", name="5_style", exact=True).click()
    expect(page.locator("#filter-input")).to_have_value("subset:5_style")
    expect(page.locator(".tile")).to_have_count(2)
    assert not serious_violations(page)
    screenshot(page, "subsets-panel")


def test_viewer_sees_subsets_and_follows_live_but_cannot_edit(new_page, alice, bob, carol):
    session, ids, ohwx = _prepare(alice, bob, carol)
    page = new_page()
    sign_in(page, "carol")
    page.goto(f"/sessions/{session.pk}/")
    expect(page.locator("#conn-pill")).to_have_text("Live")
    rows = subset_rows(page)
    expect(rows).to_have_count(2)
    expect(page.get_by_label("Repeats of 10_ohwx")).to_be_disabled()
    expect(page.get_by_role("button", name="Add selected")).to_have_count(0)
    expect(page.get_by_placeholder("New subset, e.g. ohwx")).to_be_hidden()
    # Someone else's edit shows up without a reload.
    off_loop(subset_assign, session, actor=alice, subset_id=ohwx.pk, image_ids=ids[2:4])
    expect(rows.nth(0).locator(".count")).to_have_text("4")
