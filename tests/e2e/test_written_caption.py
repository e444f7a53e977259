"""Two people write one image's caption in their browsers.

The caption follows the other person live while nothing is typed; when both
write at once, the second save is refused and that person sees both texts
and chooses: nothing typed is lost, nothing is overwritten unseen.
"""

import pytest
from playwright.sync_api import expect

from sessions_app.models import SessionImage
from tests.e2e.conftest import PHONE, screenshot, serious_violations, sign_in
from tests.e2e.test_workspace import stocked_session, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RAIN = "A woman with long black hair standing in the rain."


def caption_in_db(session, image_id) -> tuple[str, int]:
    entry = SessionImage.objects.get(session=session, image_id=image_id)
    return entry.caption, entry.caption_version


def open_as(new_page, name, session, image_id):
    page = new_page()
    sign_in(page, name)
    page.goto(f"/sessions/{session.pk}/?image={image_id}")
    expect(page.locator("#conn-pill")).to_have_text("Live")
    return page


def test_two_people_write_one_caption(new_page, alice, bob):
    session, ids = stocked_session(alice, count=2, members=[(bob, "editor")])
    image = ids[0]
    alice_page = open_as(new_page, "alice", session, image)
    bob_page = open_as(new_page, "bob", session, image)
    mine, theirs = alice_page.locator("#caption-text"), bob_page.locator("#caption-text")

    # Alice writes; Ctrl+Enter saves; bob, who typed nothing, follows live.
    mine.fill(RAIN)
    mine.press("Control+Enter")
    expect(alice_page.locator("#caption-state")).to_have_text("Saved")
    expect(theirs).to_have_value(RAIN, timeout=2000)
    assert wait_for(lambda: caption_in_db(session, image) == (RAIN, 1))
    # The CLIP count is live while editing.
    expect(alice_page.locator("#caption-tokens")).to_have_text("11 / 75 CLIP tokens")

    # Both write at once. Alice saves first...
    bob_text = "Bob's version: she holds an umbrella."
    theirs.fill(bob_text)
    alice_text = RAIN + " Her coat is red."
    mine.fill(alice_text)
    mine.press("Control+Enter")
    assert wait_for(lambda: caption_in_db(session, image) == (alice_text, 2))
    # ...so bob's box keeps his text and shows alice's beside it.
    theirs.press("Control+Enter")
    conflict = bob_page.locator("#caption-conflict")
    expect(conflict).to_be_visible()
    expect(bob_page.locator("#caption-theirs")).to_have_text(alice_text)
    expect(theirs).to_have_value(bob_text)
    assert caption_in_db(session, image) == (alice_text, 2)
    screenshot(bob_page, "caption-conflict")
    assert serious_violations(bob_page) == []

    # Bob keeps his: saved over alice's, knowingly; alice's box follows.
    bob_page.get_by_role("button", name="Keep mine").click()
    expect(conflict).to_be_hidden()
    assert wait_for(lambda: caption_in_db(session, image) == (bob_text, 3))
    expect(mine).to_have_value(bob_text, timeout=2000)

    # Alice's undo would take back her own last edit, but bob changed it since: refused.
    alice_page.locator("#grid").focus()
    alice_page.keyboard.press("z")
    expect(alice_page.locator(".toast").last).to_contain_text("changed by someone else")
    assert caption_in_db(session, image) == (bob_text, 3)


def test_the_caption_editor_on_a_phone(new_page, alice):
    session, ids = stocked_session(alice, count=1)
    page = new_page(viewport=PHONE)
    sign_in(page, "alice")
    page.goto(f"/sessions/{session.pk}/?image={ids[0]}")
    expect(page.locator("#conn-pill")).to_have_text("Live")
    box = page.locator("#caption-text")
    box.fill(RAIN)
    box.blur()
    assert wait_for(lambda: caption_in_db(session, ids[0]) == (RAIN, 1))
    expect(page.locator("#caption-tokens")).to_have_text("11 / 75 CLIP tokens")
    box.scroll_into_view_if_needed()
    screenshot(page, "caption-phone")


def test_the_tag_list_shows_its_clip_token_count_as_exported(new_page, alice):
    from sessions_app import services
    from tags.clip_tokens import clip_token_count
    from tests.e2e.conftest import off_loop

    session, ids = stocked_session(alice, count=1)
    off_loop(services.session_update, session, actor=alice, trigger_word="ohwx")
    page = open_as(new_page, "alice", session, ids[0])
    tag_input = page.get_by_role("combobox", name="Add tag")
    tag_input.fill("1girl, long hair, looking at viewer")
    tag_input.press("Enter")
    expected = clip_token_count("ohwx, 1girl, long hair, looking at viewer")
    expect(page.locator("#tags-tokens")).to_have_text(f"{expected} / 75 CLIP tokens")
    screenshot(page, "tags-token-count")
