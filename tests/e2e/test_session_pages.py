"""The pages around a session: settings, sharing, refusals and the upload card."""

import pytest
from playwright.sync_api import expect

from sessions_app import services as session_services
from sessions_app.models import SessionMember, TaggingSession
from sessions_app.rules import session_rules
from tests.e2e.conftest import PHONE, off_loop, screenshot, serious_violations, sign_in
from tests.e2e.test_workspace import picture, stocked_session, tag_names, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_owner_sets_the_caption_style_and_rules_in_the_settings_page(new_page, alice):
    session, ids = stocked_session(alice, count=2)
    off_loop(
        session_services.tags_add, session, ids[0], actor=alice, names=["smile", "blurry", "solo"]
    )
    page = new_page()
    sign_in(page, "alice")
    page.goto(f"/sessions/{session.pk}/")
    page.get_by_role("link", name="Settings").click()
    expect(page).to_have_url(f"/sessions/{session.pk}/settings/")

    page.get_by_label("Trigger word").fill("ohwx")
    page.get_by_label("Separator").fill(" | ")
    page.get_by_label("Underscores instead of spaces").check()
    page.get_by_role("button", name="Save caption style").click()
    expect(page.locator("#style-form .form-result")).to_contain_text("Saved")
    stored = TaggingSession.objects.get(pk=session.pk)
    assert (stored.trigger_word, stored.separator, stored.use_underscores) == ("ohwx", " | ", True)

    page.get_by_label("Blacklist").fill("blurry")
    page.get_by_label("Pinned head").fill("solo")
    page.get_by_label("Category order").fill("character, general, meta")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#rules-form .form-result")).to_have_text("1 of 2 images would change.")
    assert tag_names(ids[0]) == ["smile", "blurry", "solo"]
    page.get_by_role("button", name="Save and apply rules").click()
    expect(page.locator("#rules-form .form-result")).to_contain_text("1 image changed")
    assert tag_names(ids[0]) == ["solo", "smile"]
    rules = session_rules(session.pk)
    assert (rules.blacklist, rules.pinned) == (("blurry",), ("solo",))

    # A bad category is explained and changes nothing.
    page.get_by_label("Category order").fill("nonsense")
    page.get_by_role("button", name="Save and apply rules").click()
    expect(page.locator("#rules-form .field-error")).to_contain_text("nonsense")
    assert session_rules(session.pk).category_order == ("character", "general", "meta")

    # The insight page now knows the trigger word.
    page.reload()
    expect(page.get_by_label("Trigger word")).to_have_value("ohwx")
    page.evaluate("() => window.scrollTo(0, 0)")  # a reload keeps the scroll
    screenshot(page, "settings-1280x800")
    assert not serious_violations(page)
    page.set_viewport_size(PHONE)
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot(page, "settings-390x844")
    page.goto(f"/sessions/{session.pk}/insight/")
    expect(page.locator("main")).not_to_contain_text("No trigger word is set")
    assert page.errors == []


def test_an_editor_may_change_rules_but_not_the_caption_style(new_page, alice, bob):
    session, _ = stocked_session(alice, count=1, members=[(bob, "editor")])
    page = new_page()
    sign_in(page, "bob")
    page.goto(f"/sessions/{session.pk}/settings/")
    expect(page.get_by_label("Trigger word")).to_be_disabled()
    expect(page.get_by_text("Only the owner can change them.")).to_be_visible()
    expect(page.get_by_label("Blacklist")).to_be_enabled()


def test_owner_shares_the_session_and_changes_and_removes_members(new_page, alice, bob, carol):
    session, _ = stocked_session(alice, count=1)
    page = new_page()
    sign_in(page, "alice")
    page.goto(f"/sessions/{session.pk}/")
    page.get_by_role("link", name="Sharing").click()
    expect(page).to_have_url(f"/sessions/{session.pk}/sharing/")
    members = page.locator("#members tr")
    expect(members).to_have_count(1)
    expect(members.first).to_contain_text("alice (you)")

    page.get_by_label("Username").fill("nobody")
    page.get_by_role("button", name="Add member").click()
    expect(page.locator("#member-add .field-error")).to_contain_text("No user called 'nobody'")

    page.get_by_label("Username").fill("bob")
    page.get_by_role("button", name="Add member").click()
    expect(members).to_have_count(2)
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Add member").click()
    expect(members).to_have_count(3)
    roles = dict(
        SessionMember.objects.filter(session=session).values_list("user__username", "role")
    )
    assert roles == {"alice": "owner", "bob": "editor", "carol": "viewer"}

    page.get_by_label("Role of carol").select_option("editor")
    assert wait_for(lambda: SessionMember.objects.get(session=session, user=carol).role == "editor")
    page.get_by_role("button", name="Remove bob").click()
    expect(members).to_have_count(2)
    assert not SessionMember.objects.filter(session=session, user=bob).exists()
    screenshot(page, "sharing-1280x800")
    assert not serious_violations(page)
    page.set_viewport_size(PHONE)
    screenshot(page, "sharing-390x844")

    # Carol sees who is in, but cannot change it.
    other = new_page()
    sign_in(other, "carol")
    other.goto(f"/sessions/{session.pk}/sharing/")
    expect(other.locator("#members tr")).to_have_count(2)
    expect(other.get_by_role("button", name="Add member")).to_have_count(0)
    expect(other.get_by_role("combobox")).to_have_count(0)
    assert page.errors == [] and other.errors == []


@pytest.mark.parametrize("where", ["", "settings/", "sharing/", "insight/"])
def test_a_non_member_gets_our_not_found_page(new_page, alice, dave, where):
    session, _ = stocked_session(alice, count=0)
    page = new_page()
    sign_in(page, "dave")
    response = page.goto(f"/sessions/{session.pk}/{where}")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.locator("main")).to_contain_text("not one of its members")
    expect(page.get_by_text("Using the URLconf")).to_have_count(0)  # Django's debug page
    expect(page.get_by_role("link", name="Your sessions")).to_be_visible()
    if not where:
        screenshot(page, "not-found-1280x800")
        page.set_viewport_size(PHONE)
        screenshot(page, "not-found-390x844")


def test_upload_summary_card_count_failed_rows_and_caption_files(new_page, alice):
    session, ids = stocked_session(alice, count=1)  # cat0.png is already in it
    page = new_page()
    sign_in(page, "alice")
    expect(page.get_by_text("of 1 done")).to_be_visible()
    page.get_by_label(f"Upload images to {session.name}").set_input_files(
        [
            {"name": "again.png", "mimeType": "image/png", "buffer": picture(0)},
            {"name": "new.png", "mimeType": "image/png", "buffer": picture(7)},
            {"name": "new.txt", "mimeType": "text/plain", "buffer": b"red scarf, smile\n"},
            {"name": "broken.png", "mimeType": "image/png", "buffer": b"no image"},
        ]
    )
    files = page.get_by_role("list", name="Uploaded files").get_by_role("listitem")
    expect(files).to_have_count(3)  # the caption rides with its image
    expect(page.get_by_text("Done: 1 added, 1 already present, 1 failed")).to_be_visible()
    expect(files.filter(has_text="again.png")).to_contain_text("Already in this session")
    expect(files.filter(has_text="new.png")).to_contain_text("with its caption's tags")
    broken = files.filter(has_text="broken.png")
    expect(broken).to_contain_text("Error:")
    expect(broken.locator("progress")).not_to_be_visible()
    # The card counts the new image without a reload.
    expect(page.get_by_text("of 2 done")).to_be_visible()
    new_id = session.entries.exclude(image_id__in=ids).get().image_id
    assert tag_names(new_id) == ["red scarf", "smile"]
    screenshot(page, "sessions-upload-1280x800")
    page.set_viewport_size(PHONE)
    screenshot(page, "sessions-upload-390x844")
    assert page.errors == []
