"""The batch bar's whole-list operations (add at the front, sort, clear), the panel's
display rendition and the built-in vocabulary: what BooruDatasetTagManager
users expect, in the browser."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from images.models import Image
from sessions_app import services as session_services
from sessions_app.services import session_import_bytes
from tests.e2e.conftest import PHONE, off_loop, screenshot, serious_violations
from tests.e2e.test_defects import open_workspace
from tests.e2e.test_workspace import stocked_session, tag_names, wait_for
from tests.support.images import encoded, photo

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def batch(page, op: str, tags: str = "") -> None:
    page.get_by_label("Batch action").select_option(op)
    if tags:
        page.get_by_label("Batch tag").fill(tags)
    page.get_by_role("button", name="Apply to selection").click()


def test_batch_adds_at_the_front_sorts_clears_and_z_undoes(new_page, alice):
    session, ids = stocked_session(alice, count=3)
    off_loop(
        session_services.tags_add, session, ids[0], actor=alice, names=["smile", "cat", "ohwx"]
    )
    off_loop(session_services.tags_add, session, ids[1], actor=alice, names=["dog", "blue sky"])
    page = open_workspace(new_page, "alice", session, ids[0])
    page.get_by_role("button", name="Select all matching").click()

    # Several tags at once, completed one by one: the datalist offers the whole text.
    page.get_by_label("Batch action").select_option("front")
    page.get_by_label("Batch tag").press_sequentially("ohwx, blue s", delay=20)
    expect(page.locator("#batch-suggestions option[value='ohwx, blue sky']")).to_have_count(1)
    page.get_by_label("Batch tag").fill("ohwx, solo")
    page.get_by_role("button", name="Apply to selection").click()
    expect(page.get_by_text("3 images changed.")).to_be_visible()
    assert wait_for(lambda: tag_names(ids[1]) == ["ohwx", "solo", "dog", "blue sky"])
    # ohwx was there already: it stays where it was ("skip existing").
    assert tag_names(ids[0]) == ["solo", "smile", "cat", "ohwx"]
    expect(page.locator("#chips li").first).to_contain_text("solo")

    # Sort A–Z, keeping the first tag in place; the tag box hides, "keep first" shows.
    page.get_by_label("Batch action").select_option("sort")
    expect(page.get_by_label("Batch tag")).to_be_hidden()
    page.get_by_label("Keep first").fill("1")
    page.get_by_role("button", name="Apply to selection").click()
    assert wait_for(lambda: tag_names(ids[1]) == ["ohwx", "blue sky", "dog", "solo"])
    assert tag_names(ids[0]) == ["solo", "cat", "ohwx", "smile"]
    page.get_by_label("Batch action").select_option("front")
    page.get_by_label("Batch tag").fill("")
    # The tiles and the selection's tag counts follow the batch.
    expect(page.locator(f"#tile-{ids[1]} .tile-meta")).to_contain_text("4 tags")
    counts = page.locator("#tag-counts")
    expect(counts.get_by_role("button", name="solo 3", exact=True)).to_be_visible()
    screenshot(page, "batch-bar-1280x800")
    assert not serious_violations(page)

    # Clear asks first; declining changes nothing.
    page.once("dialog", lambda dialog: dialog.dismiss())
    batch(page, "clear")
    page.wait_for_timeout(300)
    assert tag_names(ids[0]) == ["solo", "cat", "ohwx", "smile"]
    page.once("dialog", lambda dialog: dialog.accept())
    batch(page, "clear")
    assert wait_for(lambda: all(tag_names(i) == [] for i in ids))
    expect(page.locator("#chips li")).to_have_count(0)

    # One z puts every list back as it was before the clear.
    page.locator("#grid").focus()
    page.keyboard.press("z")
    assert wait_for(lambda: tag_names(ids[0]) == ["solo", "cat", "ohwx", "smile"])
    assert tag_names(ids[2]) == ["ohwx", "solo"]
    expect(page.locator("#chips li")).to_have_count(4)

    page.set_viewport_size(PHONE)
    page.get_by_label("Batch action").select_option("sort")
    screenshot(page, "batch-bar-390x844")
    assert page.errors == []


def large_png_session(owner):
    def stock():
        session = session_services.session_create(owner=owner, name="Large").value
        outcomes = [
            session_import_bytes(
                session, actor=owner, data=encoded(photo((2400, 1600)), "PNG"), original_name=name
            ).value
            for name in ("big0.png", "big1.png")
        ]
        return session, [outcome.image_id for outcome in outcomes]

    return off_loop(stock)


def test_the_panel_loads_the_display_rendition_and_1_to_1_the_original(new_page, alice):
    session, ids = large_png_session(alice)
    original_bytes = Image.objects.get(pk=ids[0]).byte_size
    page = open_workspace(new_page, "alice", session, ids[0])
    panel_image = page.locator("#panel-image")
    expect(panel_image).to_have_attribute("src", f"/api/images/{ids[0]}/display")
    page.wait_for_function("() => document.getElementById('panel-image').naturalWidth > 0")
    assert panel_image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [1200, 800]
    loaded = page.evaluate(
        "() => performance.getEntriesByName(document.getElementById('panel-image').src)"
        ".map(e => e.encodedBodySize)"
    )
    assert loaded and 0 < max(loaded) < original_bytes / 5, (loaded, original_bytes)
    # The next image was fetched ahead: moving there asks the server for nothing new.
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    page.locator("#grid").focus()
    page.keyboard.press("j")
    expect(page.locator("#panel-caption")).to_contain_text("big1.png")
    expect(panel_image).to_have_attribute("src", f"/api/images/{ids[1]}/display")
    assert not [url for url in asked if f"/api/images/{ids[1]}" in url], asked
    page.keyboard.press("k")

    # The preview fits the rendition laid out at the original's size; 1:1 loads the original.
    page.get_by_role("button", name="Open the large preview").click()
    preview = page.locator("#preview .preview-image")
    expect(preview).to_have_attribute("src", f"/api/images/{ids[0]}/display")
    assert wait_for(lambda: 0 < float(preview.get_attribute("data-scale") or 0) < 1)
    box = preview.bounding_box()
    scale = float(preview.get_attribute("data-scale"))
    assert abs(box["width"] - 2400 * scale) < 2
    page.keyboard.press("1")
    expect(preview).to_have_attribute("src", f"/api/images/{ids[0]}/file")
    page.wait_for_function(
        "() => document.querySelector('#preview .preview-image').naturalWidth === 2400"
    )
    assert float(preview.get_attribute("data-scale")) == 1.0
    screenshot(page, "preview-original-1280x800")
    assert page.errors == []


def test_a_fresh_install_completes_and_colours_tags_from_the_builtin_vocabulary(new_page, alice):
    session, ids = stocked_session(alice, count=1)
    off_loop(call_command, "import_vocabulary", "--builtin", "--if-empty", verbosity=0)
    page = open_workspace(new_page, "alice", session, ids[0])
    tag_input = page.get_by_role("combobox", name="Add tag")
    tag_input.press_sequentially("hatsune", delay=20)
    suggestion = page.locator("#suggestions li").first
    expect(suggestion).to_contain_text("hatsune miku")
    expect(suggestion).to_have_class("cat-character")
    screenshot(page, "vocabulary-1280x800")
    tag_input.press("ArrowDown")
    tag_input.press("Enter")
    chip = page.locator("#chips li").first
    expect(chip).to_contain_text("hatsune miku")
    expect(chip).to_have_class("chip cat-character")
    colour = chip.evaluate("li => getComputedStyle(li).backgroundColor")
    general = page.evaluate(
        "() => { const li = document.createElement('li'); li.className = 'chip cat-general';"
        " document.getElementById('chips').append(li);"
        " const c = getComputedStyle(li).backgroundColor; li.remove(); return c; }"
    )
    assert colour != general
    assert wait_for(lambda: tag_names(ids[0]) == ["hatsune miku"])
    assert page.errors == []
