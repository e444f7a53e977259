"""What BooruDatasetTagManager and taggui users reach for first: the keyboard
flow, tiles that say what they hold, a searchable tag list counting the current
filter or selection, and a large preview with zoom, pan, fit, 1:1 and full screen."""

import pytest
from playwright.sync_api import expect

from sessions_app import services as session_services
from tests.e2e.conftest import PHONE, off_loop, screenshot, serious_violations
from tests.e2e.test_defects import open_workspace
from tests.e2e.test_workspace import chips, stocked_session, tag_names, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_tag_a_run_of_images_without_leaving_the_keyboard(new_page, alice):
    session, ids = stocked_session(alice, count=3)
    page = open_workspace(new_page, "alice", session, ids[0])
    tag_input = page.get_by_role("combobox", name="Add tag")
    tag_input.focus()
    tag_input.type("red scarf")
    tag_input.press("Enter")
    tag_input.type("smile")
    tag_input.press("Enter")
    expect(chips(page)).to_have_count(2)
    # Enter on the empty box: the next image, and the box keeps the focus.
    tag_input.press("Enter")
    expect(page.locator("#panel-caption")).to_contain_text("cat1.png")
    expect(tag_input).to_be_focused()
    tag_input.type("oops")
    tag_input.press("Enter")
    expect(chips(page).filter(has_text="oops")).to_be_visible()
    # Backspace on the empty box takes the last tag back.
    tag_input.press("Backspace")
    expect(chips(page)).to_have_count(0)
    assert wait_for(lambda: tag_names(ids[1]) == [])

    # c copies the previous image's tags, in order, onto this one.
    page.locator("#grid").focus()
    page.keyboard.press("c")
    assert wait_for(lambda: tag_names(ids[1]) == ["red scarf", "smile"])
    expect(chips(page)).to_have_count(2)
    # ... and it is one edit that z takes back.
    page.keyboard.press("z")
    assert wait_for(lambda: tag_names(ids[1]) == [])
    assert tag_names(ids[0]) == ["red scarf", "smile"]
    assert page.errors == []


def test_tiles_show_name_size_and_tag_count_and_the_slider_resizes_them(new_page, alice):
    session, ids = stocked_session(alice, count=6)
    off_loop(session_services.tags_add, session, ids[0], actor=alice, names=["a", "b", "c"])
    page = open_workspace(new_page, "alice", session, ids[0])
    tile = page.locator(f"#tile-{ids[0]}")
    expect(tile.locator(".tile-name")).to_have_text("cat0.png")
    expect(tile.locator(".tile-meta")).to_contain_text("KB")
    expect(tile.locator(".tile-meta")).to_contain_text("3 tags")
    named = page.get_by_role("option", name=f"todo cat0.png {tile_meta(tile)}", exact=True)
    expect(named).to_have_count(1)
    # A tag added shows in the count at once.
    tag_input = page.get_by_role("combobox", name="Add tag")
    tag_input.fill("d")
    tag_input.press("Enter")
    expect(tile.locator(".tile-meta")).to_contain_text("4 tags")

    width = tile.bounding_box()["width"]
    page.get_by_label("Tile size").fill("280")
    assert wait_for(lambda: tile.bounding_box()["width"] > width * 1.5)
    page.get_by_label("Tile size").fill("72")
    assert wait_for(lambda: tile.bounding_box()["width"] < width)
    expect(tile.locator(".tile-info")).to_be_hidden()  # too small for words
    page.reload()
    expect(page.get_by_label("Tile size")).to_have_value("72")  # remembered
    assert page.errors == []


def tile_meta(tile) -> str:
    return tile.locator(".tile-meta").inner_text()


def test_tag_list_counts_the_filter_and_the_selection_and_searches(new_page, alice):
    session, ids = stocked_session(alice, count=4)
    off_loop(session_services.tags_add, session, ids[0], actor=alice, names=["cat", "red hair"])
    off_loop(session_services.tags_add, session, ids[1], actor=alice, names=["cat", "blue hair"])
    off_loop(session_services.tags_add, session, ids[2], actor=alice, names=["dog", "red hair"])
    page = open_workspace(new_page, "alice", session, ids[0])
    sidebar = page.locator("#tag-counts")

    def count_of(name):
        return sidebar.get_by_role("button", name=name, exact=False).locator(".t-count")

    expect(page.locator("#tag-scope")).to_have_text("In the whole session")
    expect(count_of("red hair")).to_have_text("2")
    expect(count_of("cat")).to_have_text("2")

    filter_box = page.get_by_label("Filter images")
    filter_box.fill("cat")
    filter_box.press("Enter")
    expect(page.locator("#tag-scope")).to_have_text("In the 2 images the filter shows")
    expect(count_of("red hair")).to_have_text("1")
    expect(sidebar.get_by_role("button", name="dog")).to_have_count(0)

    page.locator(f"#tile-{ids[1]}").click(modifiers=["Control"])
    expect(page.locator("#tag-scope")).to_have_text("In the 1 selected image")
    expect(sidebar.get_by_role("button", name="red hair")).to_have_count(0)
    expect(count_of("blue hair")).to_have_text("1")
    # × in the selection removes the tag from the selected images.
    page.get_by_role("button", name="Remove tag blue hair from the selection").click()
    assert wait_for(lambda: tag_names(ids[1]) == ["cat"])
    expect(sidebar.get_by_role("button", name="blue hair")).to_have_count(0)

    page.get_by_role("button", name="Clear selection").click()
    page.get_by_role("button", name="Clear", exact=True).click()
    expect(page.locator("#tag-scope")).to_have_text("In the whole session")
    page.get_by_label("Search tags").fill("hair")
    expect(sidebar.get_by_role("button")).to_have_count(1)
    expect(count_of("red hair")).to_have_text("2")
    page.get_by_label("Search tags").fill("zzz")
    expect(sidebar).to_contain_text("No tag here contains")
    page.get_by_label("Search tags").fill("")
    # Wildcards in the filter: any tag whose name fits.
    filter_box.fill("*hair")
    filter_box.press("Enter")
    expect(page.locator(".tile")).to_have_count(2)  # blue hair left cat1 above
    expect(count_of("red hair")).to_have_text("2")
    screenshot(page, "workspace-tags-1280x800")
    assert not serious_violations(page)
    assert page.errors == []


def test_large_preview_zooms_pans_fits_and_goes_full_screen(new_page, alice):
    session, ids = stocked_session(alice, count=2)
    page = open_workspace(new_page, "alice", session, ids[0])
    page.get_by_role("button", name="Open the large preview").click()
    dialog = page.get_by_role("dialog", name="cat0.png")
    expect(dialog).to_be_visible()
    image = page.locator("#preview .preview-image")

    def scale():
        return float(image.get_attribute("data-scale") or 0)

    assert wait_for(lambda: scale() > 1)  # a 320×240 picture fitted to the window
    fitted = scale()
    expect(dialog.locator(".preview-zoom")).to_contain_text("(fit)")
    page.keyboard.press("1")
    assert wait_for(lambda: scale() == 1.0)
    page.keyboard.press("0")
    assert wait_for(lambda: abs(scale() - fitted) < 0.01)

    # The wheel zooms around the pointer: the point under it stays put.
    stage = dialog.locator(".preview-stage").bounding_box()
    x, y = stage["x"] + stage["width"] / 2 + 50, stage["y"] + stage["height"] / 2
    page.mouse.move(x, y)
    page.mouse.wheel(0, -300)
    assert wait_for(lambda: scale() > fitted * 1.5)
    before = image.bounding_box()
    page.mouse.down()
    page.mouse.move(x - 120, y - 40, steps=4)
    page.mouse.up()
    after = image.bounding_box()
    assert abs((after["x"] - before["x"]) + 120) < 2 and abs((after["y"] - before["y"]) + 40) < 2

    dialog.get_by_role("button", name="Fit").click()
    assert wait_for(lambda: abs(scale() - fitted) < 0.01)
    dialog.get_by_role("button", name="Zoom in").click()
    assert wait_for(lambda: scale() > fitted)

    # → shows the next image in the preview (and the panel follows).
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("dialog", name="cat1.png")).to_be_visible()
    expect(page.locator("#panel-caption")).to_contain_text("cat1.png")

    dialog = page.get_by_role("dialog", name="cat1.png")
    dialog.get_by_role("button", name="Full screen").click()
    assert wait_for(lambda: page.evaluate("() => Boolean(document.fullscreenElement)"))
    screenshot(page, "preview-1280x800")
    page.evaluate("() => document.exitFullscreen()")
    assert wait_for(lambda: not page.evaluate("() => Boolean(document.fullscreenElement)"))
    assert not serious_violations(page)
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()

    # f opens it from the keyboard, on a phone too.
    page.set_viewport_size(PHONE)
    page.locator("#grid").focus()
    page.keyboard.press("f")
    expect(page.get_by_role("dialog", name="cat1.png")).to_be_visible()
    assert wait_for(lambda: scale() > 0)
    screenshot(page, "preview-390x844")
    assert page.errors == []


def a1111_png(parameters: str) -> bytes:
    """A PNG carrying AUTOMATIC1111's `parameters` text chunk."""
    import io

    from PIL import Image as PILImage
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", parameters)
    buffer = io.BytesIO()
    PILImage.new("RGB", (64, 48), (120, 80, 160)).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def test_the_panel_shows_the_full_generation_metadata(new_page, alice):
    from sessions_app.services.importing import session_import_bytes

    session, _ = stocked_session(alice, count=0)
    parameters = (
        "1girl, smile\nNegative prompt: lowres, blurry\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 64x48, "
        "Model hash: abc123, Model: sd15"
    )
    outcome = off_loop(
        session_import_bytes,
        session,
        actor=alice,
        data=a1111_png(parameters),
        original_name="g.png",
    ).value
    page = open_workspace(new_page, "alice", session, outcome.image_id)
    section = page.get_by_role("region", name="Generation prompt")
    expect(section.locator("#prompt-text")).to_have_text("1girl, smile")
    expect(section.get_by_role("paragraph").filter(has_text="lowres")).to_have_text(
        "lowres, blurry"
    )
    settings = section.locator("#generation")
    for label, value in (
        ("Model", "sd15"),
        ("Sampler", "Euler a"),
        ("Steps", "20"),
        ("Seed", "1234"),
    ):
        expect(settings.locator(f"dt:text-is('{label}') + dd")).to_have_text(value)
    screenshot(page, "workspace-metadata-1280x800")
    assert not serious_violations(page)
    assert page.errors == []
