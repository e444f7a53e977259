"""The insight page end to end: tag table, pruning threshold, captions to fix."""

import pytest
from playwright.sync_api import expect

from sessions_app import services as session_services
from tests.e2e.conftest import PHONE, off_loop, screenshot, serious_violations, sign_in
from tests.e2e.test_workspace import stocked_session

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Enough long tags to push one caption past CLIP's 75-token window.
WORDY = [f"detailed {word} background element" for word in "abcdefghijklmnopqrst"]


def _tag(session, ids, alice):
    session_services.session_update(session, actor=alice, trigger_word="ohwx")
    for image_id in ids[:4]:
        session_services.tags_add(session, image_id, actor=alice, names=["cat", "whiskers"])
    for image_id in ids[:3]:
        session_services.tags_add(session, image_id, actor=alice, names=["indoors", "sitting"])
    session_services.tags_add(session, ids[0], actor=alice, names=WORDY)


def test_insight_shows_tags_pruning_and_captions_to_fix(new_page, alice):
    session, ids = stocked_session(alice, name="Whiskers", count=5)
    off_loop(_tag, session, ids, alice)  # cat 4/5, indoors 3/5, image 4 untagged

    page = new_page()
    sign_in(page, "alice")
    page.get_by_role("link", name="Insight").click()
    expect(page).to_have_url(f"/sessions/{session.pk}/insight/")

    table = page.get_by_role("table", name="Tags")
    cat = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name="cat", exact=True))
    expect(cat).to_contain_text("80%")
    expect(cat.get_by_role("cell").nth(0)).to_have_text("4")
    expect(cat.get_by_role("cell").nth(2)).to_contain_text("4")  # "ohwx" starts every caption
    expect(page.locator("#trigger-note")).to_contain_text("“ohwx” starts every exported caption")
    expect(page.locator("#stat-images")).to_have_text("5")

    # Captions to fix: the wordy one is over the limit, the untagged one has too few tags.
    fix = page.get_by_role("list", name="Captions to fix").get_by_role("listitem")
    expect(fix).to_have_count(3)
    wordy = fix.filter(has_text="cat0.png")
    expect(wordy).to_contain_text("over 75 tokens")
    expect(wordy.get_by_role("link")).to_have_attribute(
        "href", f"/sessions/{session.pk}/?image={ids[0]}"
    )
    expect(fix.filter(has_text="cat3.png")).to_contain_text("2 tags")
    expect(fix.filter(has_text="cat4.png")).to_contain_text("0 tags")
    expect(page.locator("#stat-long")).to_have_text("1")

    # Pruning: at 80% "cat" and "whiskers" bleed; lowered to 60% "indoors" and "sitting" too.
    pruned = page.get_by_role("list", name="Tags that will bleed into the trigger word")
    expect(pruned.get_by_role("listitem")).to_have_count(2)
    expect(page.get_by_label("Minimum share of images", exact=True)).to_have_value("80")
    number = page.get_by_label("Minimum share of images, in percent")
    number.fill("60")
    expect(pruned.get_by_role("listitem")).to_have_count(4)
    expect(pruned).to_contain_text("indoors")
    expect(page.locator("#prune-summary")).to_contain_text("4 tags on 60% of the images or more")
    expect(page.locator("tr.bleeds")).to_have_count(4)
    # The slider follows the number box, and the keyboard moves it.
    slider = page.get_by_label("Minimum share of images", exact=True)
    expect(slider).to_have_value("60")
    slider.focus()
    page.keyboard.press("End")
    expect(number).to_have_value("100")
    expect(page.locator("#prune-summary")).to_contain_text("No tag is on 100%")
    number.fill("0")  # refused in words; the list stays as it was
    expect(page.locator("#prune-error")).to_have_text("Choose a share between 1% and 100%.")
    expect(pruned.get_by_role("listitem")).to_have_count(0)
    number.fill("80")
    expect(page.locator("#prune-error")).to_be_hidden()
    expect(pruned.get_by_role("listitem")).to_have_count(2)
    number.blur()

    assert not serious_violations(page)
    screenshot(page, "insight-1280x800")
    page.set_viewport_size(PHONE)
    screenshot(page, "insight-390x844")

    # A caption to fix opens in the workspace on its image.
    wordy.get_by_role("link").click()
    expect(page).to_have_url(f"/sessions/{session.pk}/?image={ids[0]}")
    expect(page.get_by_role("list", name="Tags", exact=True)).to_contain_text("whiskers")
    assert page.errors == []
