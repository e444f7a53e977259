"""Two people in the browser: one starts an auto-tagging job, both watch it and its tags arrive
chunk by chunk, and one undo takes the whole job back.

The server is a real `serve`, whose job worker thread runs the job in the
server's process (the embedded default: in-memory channel layer), with a
model slow enough per image (2048 px input) that the bar has time to move.
"""

import time

import pytest
from playwright.sync_api import expect

from jobs.models import Job, JobState
from jobs.services import autotag_enqueue
from sessions_app.models import SessionImageTag
from sessions_app.services.autotag import autotag_options
from tags.models import TagSource
from tests.e2e.conftest import DESKTOP, PHONE, off_loop, screenshot, sign_in
from tests.e2e.server import LiveServer
from tests.e2e.test_workspace import stocked_session
from tests.support.taggers import write_tagger

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MODEL = "wd-slow"
IMAGES = 24


@pytest.fixture(scope="module")
def models_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("tagger-models")
    write_tagger(root / MODEL, size=2048)
    return root


@pytest.fixture(scope="module")
def live_server_proc(django_db_setup, django_db_blocker, media_root, tmp_path_factory, models_root):
    """The module's server, with the tagger model installed and one image per chunk."""
    with django_db_blocker.unblock():
        server = LiveServer(
            media_root=media_root, log_path=tmp_path_factory.mktemp("logs") / "serve.log"
        )
    server.env.update({"TAGGER_MODELS_DIR": str(models_root), "TAGGER_JOB_CHUNK": "1"})
    server.start()
    yield server
    server.stop()


def autotagger_rows(session) -> int:
    return SessionImageTag.objects.filter(
        entry__session=session, source=TagSource.AUTOTAGGER
    ).count()


def test_both_see_the_bar_move_and_the_tags_arrive_and_one_undo_takes_them_back(
    new_page, alice, bob
):
    session, ids = stocked_session(alice, count=IMAGES, members=[(bob, "editor")])
    url = f"/sessions/{session.pk}/?image={ids[0]}"
    starter, watcher = new_page(), new_page(viewport=PHONE)
    for page, user in ((starter, "alice"), (watcher, "bob")):
        sign_in(page, user)
        page.goto(url)
        expect(page.locator("#conn-pill")).to_have_attribute("data-state", "online")

    starter.get_by_role("button", name="Auto-tag…").click()
    dialog = starter.locator("#autotag")
    expect(dialog.get_by_label("Model")).to_have_value(MODEL)
    expect(dialog).to_contain_text("Every image in the session.")
    dialog.get_by_label("General threshold").fill("0.2")
    dialog.get_by_role("button", name="Start").click()

    for page, name in ((starter, "autotag-running-desktop"), (watcher, "autotag-running-phone")):
        expect(page.locator("#job-bar[data-state=running]")).to_be_visible(timeout=30_000)
        expect(page.locator("#job-label")).to_contain_text(f"/ {IMAGES}")
        screenshot(page, name)
    for page in (starter, watcher):
        # The first image's tags arrive with its chunk, while the job goes on.
        expect(page.locator("#chips .chip").first).to_be_visible(timeout=30_000)
        expect(page.locator("#job-bar")).to_have_attribute("data-state", "running")
    job = Job.objects.get(session=session)
    assert job.done < job.total, "the tags arrived only at the job's end"
    screenshot(watcher, "autotag-tags-arriving-phone")
    for page in (starter, watcher):
        expect(page.locator("#job-label")).to_contain_text("done", timeout=60_000)
        seen = page.evaluate("() => window.tagger.jobs.seen")
        # The bar moved: values between the start and the end reached this page live.
        assert any(0 < done < total for done, total, _ in seen), seen
        assert seen[-1][:2] == [IMAGES, IMAGES]
        expect(page.locator("#chips .chip").first).to_be_visible()
        # Tiles and counts are read again once the application's event arrives.
        expect(page.locator("#tag-counts li").first).to_be_visible()
    job = Job.objects.get(session=session)
    assert job.state == JobState.DONE and job.created_by == alice
    assert autotagger_rows(session) > 0
    screenshot(starter, "autotag-done-desktop")
    screenshot(watcher, "autotag-done-phone")

    starter.locator("#grid").focus()
    starter.keyboard.press("z")
    expect(starter.locator(".toast").last).to_contain_text("Undone")
    for page in (starter, watcher):
        expect(page.locator("#chips .chip")).to_have_count(0)
    assert autotagger_rows(session) == 0
    assert not starter.errors and not watcher.errors


def suggestion_rows(session, image_id: int) -> int:
    return SessionImageTag.objects.filter(
        entry__session=session, entry__image_id=image_id, source=TagSource.SUGGESTION
    ).count()


def test_suggestions_show_dashed_and_one_key_accepts_or_dismisses_them(
    new_page, alice, settings, models_root
):
    settings.TAGGER_MODELS_DIR = models_root
    session, ids = stocked_session(alice, name="Dogs", count=2)
    job = off_loop(
        autotag_enqueue,
        session,
        actor=alice,
        image_ids=ids,
        model=MODEL,
        options=autotag_options(
            general_threshold=0.99, character_threshold=0.999, suggest_threshold=0.01
        ),
    ).value
    deadline = time.monotonic() + 60
    while not job.finished and time.monotonic() < deadline:
        time.sleep(0.2)
        job.refresh_from_db()
    assert job.state == JobState.DONE, job.error
    assert all(suggestion_rows(session, image_id) for image_id in ids)

    page = new_page()
    sign_in(page, "alice")
    for image_id, key, name in ((ids[0], "a", "accepted"), (ids[1], "d", "dismissed")):
        page.goto(f"/sessions/{session.pk}/?image={image_id}")
        suggested = page.locator("#chips .chip.source-suggestion")
        expect(suggested.first).to_be_visible()
        if key == "a":
            screenshot(page, "autotag-suggestions-desktop")
            expect(page.locator("#suggestion-hint")).to_be_visible()
            page.set_viewport_size(PHONE)
            page.locator("#chips").scroll_into_view_if_needed()
            screenshot(page, "autotag-suggestions-phone")
            page.set_viewport_size(DESKTOP)
        count = suggested.count()
        page.locator("#grid").focus()
        page.keyboard.press(key)
        expect(page.locator(".toast").last).to_contain_text(name.capitalize())
        expect(suggested).to_have_count(0)
        expect(page.locator("#suggestion-hint")).to_be_hidden()
        assert suggestion_rows(session, image_id) == 0
        manual = SessionImageTag.objects.filter(
            entry__session=session, entry__image_id=image_id, source=TagSource.MANUAL
        ).count()
        assert manual == (count if key == "a" else 0)
    assert not page.errors
