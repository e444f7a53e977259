"""The browser workspace end to end: real daphne, real Chromium, real database."""

import io
import json
import time
import zipfile

import pytest
from PIL import Image as PILImage
from PIL import ImageDraw
from playwright.sync_api import expect

from jobs.models import Job, JobKind
from sessions_app import services as session_services
from sessions_app.models import SessionImageTag
from sessions_app.services.importing import session_import_bytes
from tags.models import Tag
from tests.e2e.conftest import PHONE, off_loop, screenshot, serious_violations, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PALETTE = [(214, 96, 77), (77, 146, 214), (96, 180, 120), (230, 180, 70), (150, 100, 200)]


def picture(index: int, size=(320, 240)) -> bytes:
    """A small, distinct PNG: a colored field with a shape, so thumbnails look like images."""
    color = PALETTE[index % len(PALETTE)]
    img = PILImage.new("RGB", size, color)
    draw = ImageDraw.Draw(img)
    shade = tuple(max(0, c - 60) for c in color)
    x = 40 + (index * 37) % 160
    draw.ellipse((x, 50, x + 120, 170), fill=shade)
    draw.rectangle((0, 200, size[0], size[1]), fill=(250, 250, 245))
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    return buffer.getvalue()


def stocked_session(owner, name="Cats", count=5, members=()):
    """A session with `count` stored images (real files), and the given extra members."""
    return off_loop(_stock, owner, name, count, members)


def _stock(owner, name, count, members):
    session = session_services.session_create(owner=owner, name=name).value
    for user, role in members:
        session_services.session_member_add(session, actor=owner, user=user, role=role)
    ids = []
    for i in range(count):
        outcome = session_import_bytes(
            session, actor=owner, data=picture(i), original_name=f"cat{i}.png"
        ).value
        ids.append(outcome.image_id)
    return session, ids


def tag_names(image_id: int) -> list[str]:
    return list(
        SessionImageTag.objects.filter(entry__image_id=image_id)
        .order_by("position")
        .values_list("tag__name", flat=True)
    )


def wait_for(check, timeout: float = 5.0):
    """Poll the database until `check()` is truthy (the browser's edit is asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def chips(page):
    return page.get_by_role("list", name="Tags", exact=True).get_by_role("listitem")


def test_sign_in_create_session_and_upload_with_one_bad_file(new_page, alice):
    page = new_page()
    page.goto("/sessions/")
    expect(page).to_have_url("/accounts/login/?next=/sessions/")
    assert not serious_violations(page)

    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")

    sign_in(page, "alice")
    page.get_by_label("New session name").fill("Holiday")
    page.get_by_role("button", name="Create session").click()
    expect(page.get_by_role("link", name="Holiday", exact=True)).to_be_visible()

    page.get_by_label("Create session").count()  # the form stays usable after a reload
    page.get_by_label("Upload images to Holiday").set_input_files(
        [
            {"name": "beach.png", "mimeType": "image/png", "buffer": picture(0)},
            {"name": "dunes.png", "mimeType": "image/png", "buffer": picture(1)},
            {"name": "broken.png", "mimeType": "image/png", "buffer": b"this is no image"},
        ]
    )
    files = page.get_by_role("list", name="Uploaded files")
    expect(files.get_by_role("listitem")).to_have_count(3)
    broken = files.get_by_role("listitem").filter(has_text="broken.png")
    expect(broken).to_contain_text("Error:")
    expect(files.get_by_role("listitem").filter(has_text="beach.png")).to_contain_text("Added")
    expect(files.get_by_role("listitem").filter(has_text="dunes.png")).to_contain_text("Added")
    expect(page.get_by_text("Done: 2 added, 1 failed")).to_be_visible()
    assert "{" not in broken.inner_text()  # words, never raw JSON

    page.reload()
    expect(page.get_by_text("of 2 done")).to_be_visible()
    screenshot(page, "sessions-1280x800")

    # Export: pick a format, open Options from the keyboard, change the trigger word.
    page.get_by_label("Export as").select_option(label="kohya metadata JSON")
    page.locator("summary", has_text="Options").focus()
    page.keyboard.press("Enter")
    page.get_by_role("textbox", name="Trigger word").fill("ohwx")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    assert download.value.suggested_filename == "holiday-kohya-json.zip"
    with zipfile.ZipFile(download.value.path()) as archive:
        metadata = json.loads(archive.read("metadata.json"))
    assert metadata == {"beach.png": {"tags": "ohwx"}, "dunes.png": {"tags": "ohwx"}}
    # Only images marked "skipped" (none is), with tags pinned after the trigger word.
    page.get_by_role("checkbox", name="skipped").check()
    page.get_by_role("textbox", name="Pinned tags").fill("sand, sky ,")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    # Built by a job (the server's worker), whose options are the form's.
    options = Job.objects.filter(kind=JobKind.EXPORT).latest("id").params["options"]
    assert options["statuses"] == ["skipped"] and options["pinned"] == ["sand", "sky"]
    expect(page.locator(".export-job")).to_contain_text("Export ready: holiday-kohya-json.zip")
    with zipfile.ZipFile(download.value.path()) as archive:
        assert json.loads(archive.read("metadata.json")) == {}
    screenshot(page, "sessions-export-1280x800")
    assert not serious_violations(page)
    page.set_viewport_size(PHONE)
    screenshot(page, "sessions-390x844")
    assert page.errors == []


def test_tag_with_keyboard_reorder_remove_undo_filter_and_batch(new_page, alice, bob):
    session, ids = stocked_session(alice)
    # A popular tag that autocomplete should offer for "red".
    other, _ = stocked_session(alice, name="Other", count=0)
    off_loop(session_services.tags_add, session, ids[4], actor=alice, names=["red hair"])
    first = ids[0]

    page = new_page()
    sign_in(page, "alice")
    page.goto(f"/sessions/{session.pk}/?image={first}")
    expect(page.locator("#conn-pill")).to_have_text("Live")
    expect(page.locator(".tile")).to_have_count(5)

    # Keyboard: t focuses the input, autocomplete offers "red hair", ArrowDown + Enter adds it.
    page.locator("#grid").focus()
    page.keyboard.press("t")
    tag_input = page.get_by_role("combobox", name="Add tag")
    expect(tag_input).to_be_focused()
    tag_input.type("red")
    option = page.get_by_role("option", name="red hair")
    expect(option).to_be_visible()
    expect(option).to_contain_text("1")  # its image count
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(chips(page)).to_have_count(1)
    expect(chips(page).first).to_contain_text("red hair")
    tag_input.type("smile")
    page.keyboard.press("Enter")
    tag_input.type("outdoors")
    page.keyboard.press("Enter")
    expect(chips(page)).to_have_count(3)
    assert wait_for(lambda: tag_names(first) == ["red hair", "smile", "outdoors"])

    # Reorder by dragging "outdoors" onto the left half of "red hair", once the
    # optimistic chips are confirmed (confirming re-renders them under the mouse).
    expect(page.get_by_role("list", name="Tags", exact=True).locator("li.pending")).to_have_count(0)
    target = chips(page).filter(has_text="red hair")
    expect(target).to_be_visible()
    box = target.bounding_box()
    chips(page).filter(has_text="outdoors").drag_to(
        target, target_position={"x": 4, "y": box["height"] / 2}
    )
    assert wait_for(lambda: tag_names(first) == ["outdoors", "red hair", "smile"])
    expect(chips(page).first).to_contain_text("outdoors")

    # Remove with the chip's × button.
    page.get_by_role("button", name="Remove tag smile").click()
    expect(chips(page)).to_have_count(2)
    assert wait_for(lambda: tag_names(first) == ["outdoors", "red hair"])

    # Undo and redo on the server: Ctrl+Z, Ctrl+Shift+Z, then z undoes the redo.
    page.locator("#grid").focus()
    for key, expected in (
        ("Control+z", ["outdoors", "red hair", "smile"]),
        ("Control+Shift+z", ["outdoors", "red hair"]),
        ("z", ["outdoors", "red hair", "smile"]),
    ):
        page.keyboard.press(key)
        assert wait_for(lambda: tag_names(first) == expected), key  # noqa: B023
        expect(chips(page)).to_have_count(len(expected))

    # Bob edits the image: undoing my reorder now would clobber his tag, so it is refused.
    # (Written from the test process: the server sees it in the database, the page does not.)
    off_loop(session_services.tags_add, session, first, actor=bob, names=["by bob"])
    page.keyboard.press("Control+z")
    expect(page.locator("#toasts")).to_contain_text(
        f"Image {first} was changed by someone else since; undo refused."
    )
    assert tag_names(first) == ["outdoors", "red hair", "smile", "by bob"]

    # In the tag input Ctrl+Z is the browser's own: it undoes the typing, not a tag edit.
    tag_input.type("sky")
    tag_input.press("Control+z")
    expect(tag_input).to_have_value("")
    assert tag_names(first) == ["outdoors", "red hair", "smile", "by bob"]
    tag_input.press("Escape")

    # `?` lists the shortcuts.
    page.locator("#grid").focus()
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()

    # Filter with the query language; a malformed query is explained inline.
    filter_box = page.get_by_label("Filter images")
    filter_box.fill("outdoors")
    filter_box.press("Enter")
    expect(page.locator(".tile")).to_have_count(1)
    filter_box.fill("outdoors |")
    filter_box.press("Enter")
    expect(page.locator("#filter-error")).to_be_visible()
    assert "{" not in page.locator("#filter-error").inner_text()
    page.get_by_role("button", name="Clear", exact=True).click()
    expect(page.locator(".tile")).to_have_count(5)

    # Batch: click the second image, shift-click the fourth, add a tag to those three.
    page.locator(f"#tile-{ids[1]}").click(modifiers=["Control"])
    page.locator(f"#tile-{ids[3]}").click(modifiers=["Shift"])
    expect(page.locator("#selection-count")).to_have_text("3 selected")
    page.get_by_label("Batch tag").press_sequentially("red h", delay=20)
    # The batch box completes from the vocabulary too.
    expect(page.locator("#batch-suggestions option[value='red hair']")).to_have_count(1)
    page.get_by_label("Batch tag").fill("sunset")
    page.get_by_role("button", name="Apply to selection").click()
    expect(page.get_by_text("3 images changed.")).to_be_visible()
    sunset = Tag.objects.get(name="sunset")
    assert set(
        SessionImageTag.objects.filter(tag=sunset).values_list("entry__image_id", flat=True)
    ) == set(ids[1:4])

    # Sidebar: the session's tags with counts; clicking filters by one.
    page.locator("#tag-counts").get_by_role("button", name="sunset 3", exact=True).click()
    expect(page.locator(".tile")).to_have_count(3)

    screenshot(page, "workspace-1280x800")
    assert not serious_violations(page)
    page.set_viewport_size(PHONE)
    expect(page.locator(".tile").first).to_be_visible()
    screenshot(page, "workspace-390x844")
    assert not serious_violations(page)
    assert page.errors == []
    assert other.pk


def test_two_people_see_each_other_and_each_others_edits(new_page, alice, bob):
    session, ids = stocked_session(alice, count=3, members=[(bob, "editor")])
    pages = {}
    for name in ("alice", "bob"):
        page = new_page()
        sign_in(page, name)
        page.goto(f"/sessions/{session.pk}/?image={ids[0]}")
        expect(page.locator("#conn-pill")).to_have_text("Live")
        pages[name] = page

    for page in pages.values():
        presence = page.locator("#presence")
        expect(presence.get_by_role("img", name="alice", exact=False)).to_be_visible()
        expect(presence.get_by_role("img", name="bob", exact=False)).to_be_visible()
    # Bob sees that alice is looking at the same image.
    expect(pages["bob"].locator(f"#tile-{ids[0]} .tile-badges [data-user=alice]")).to_be_visible()

    tag_input = pages["alice"].get_by_role("combobox", name="Add tag")
    tag_input.fill("cherry blossom")
    tag_input.press("Enter")
    expect(chips(pages["bob"]).filter(has_text="cherry blossom")).to_be_visible(timeout=1000)

    # The sessions page shows both as online.
    overview = pages["alice"].context.new_page()
    overview.goto("/sessions/")
    expect(overview.get_by_text("Online: alice, bob")).to_be_attached()
    overview.close()

    # And back: bob's status change shows on alice's thumbnail.
    pages["bob"].locator("#grid").focus()
    pages["bob"].keyboard.press("2")
    expect(pages["alice"].locator(f"#tile-{ids[0]}")).to_have_attribute(
        "data-status", "tagged", timeout=1000
    )


def test_reconnects_after_restart_and_sends_the_edits_queued_offline(new_page, alice, server):
    session, ids = stocked_session(alice, count=2)
    page = new_page()
    sign_in(page, "alice")
    page.goto(f"/sessions/{session.pk}/?image={ids[1]}")
    pill = page.locator("#conn-pill")
    expect(pill).to_have_text("Live")
    expect(page.locator("#panel-caption")).to_contain_text("cat1.png")

    server.stop()
    expect(page.locator("#conn-banner")).to_be_visible()
    tag_input = page.get_by_role("combobox", name="Add tag")
    for name in ("written offline", "oops"):
        tag_input.fill(name)
        tag_input.press("Enter")
    expect(chips(page).filter(has_text="written offline")).to_be_visible()
    # An undo made offline waits in the same queue, after the edits before it.
    page.locator("#grid").focus()
    page.keyboard.press("Control+z")
    expect(page.locator("#conn-banner")).to_contain_text("3 edits will be sent")
    assert tag_names(ids[1]) == []

    server.start()
    expect(pill).to_have_text("Live", timeout=15_000)
    assert wait_for(lambda: tag_names(ids[1]) == ["written offline"])
    expect(chips(page)).to_have_count(1)
    expect(page.locator("#conn-banner")).to_be_hidden()
    assert page.errors == []
