"""The sessions page's export, built by a job: its bar moves on the page that asked and in the
workspace of everyone in the session, then the file downloads.

The server is a real `serve` whose job worker thread builds the export (the
embedded default: in-memory channel layer), committing progress after every
image so that a small session shows the bar move.
"""

import zipfile

import pytest
from playwright.sync_api import expect

from jobs.models import Job, JobKind, JobState
from tests.e2e.conftest import PHONE, screenshot, sign_in
from tests.e2e.server import LiveServer
from tests.e2e.test_workspace import stocked_session

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

IMAGES = 60


@pytest.fixture(scope="module")
def live_server_proc(django_db_setup, django_db_blocker, media_root, tmp_path_factory):
    with django_db_blocker.unblock():
        server = LiveServer(
            media_root=media_root, log_path=tmp_path_factory.mktemp("logs") / "serve.log"
        )
    server.env.update({"TAGGER_EXPORT_PROGRESS_MS": "0"})
    server.start()
    yield server
    server.stop()


def test_the_export_bar_moves_for_everyone_and_the_file_downloads(new_page, alice, bob):
    session, ids = stocked_session(alice, name="Beach", count=IMAGES, members=[(bob, "viewer")])
    asker, watcher = new_page(), new_page(viewport=PHONE)
    sign_in(asker, "alice")
    asker.goto("/sessions/")
    sign_in(watcher, "bob")
    watcher.goto(f"/sessions/{session.pk}/?image={ids[0]}")
    expect(watcher.locator("#conn-pill")).to_have_attribute("data-state", "online")

    with asker.expect_download(timeout=30_000) as download:
        asker.get_by_role("button", name="Download").click()
        expect(asker.locator(".export-job")).to_be_visible()
        screenshot(asker, "export-job-sessions-1280x800")
        asker.wait_for_function(
            "() => ['running', 'done'].includes("
            "document.querySelector('.export-job').dataset.state)"
        )
        screenshot(asker, "export-job-running-1280x800")
        expect(watcher.locator("#job-bar")).to_be_visible(timeout=15_000)
        screenshot(watcher, "export-job-workspace-390x844")
    assert download.value.suggested_filename == "beach-kohya.zip"
    with zipfile.ZipFile(download.value.path()) as archive:
        assert sum(name.endswith(".png") for name in archive.namelist()) == IMAGES

    expect(asker.locator(".export-job")).to_contain_text("Export ready: beach-kohya.zip")
    expect(asker.get_by_role("link", name="Download again")).to_be_visible()
    expect(watcher.locator("#job-label")).to_contain_text("Export ready: beach-kohya.zip")
    screenshot(asker, "export-job-ready-1280x800")
    job = Job.objects.get(session=session, kind=JobKind.EXPORT)
    assert job.state == JobState.DONE and job.created_by == alice
    for page, seen in (
        (asker, asker.evaluate(f"() => window.taggerExports[{session.pk}].seen")),
        (watcher, watcher.evaluate("() => window.tagger.jobs.seen")),
    ):
        assert seen[-1][:2] == [IMAGES, IMAGES], seen
        assert page.errors == []
    # The bar moved: progress between the start and the end reached the workspace live.
    assert any(
        0 < done < total for done, total, _ in watcher.evaluate("() => window.tagger.jobs.seen")
    )


def test_an_outsider_gets_no_export_file(new_page, alice, dave):
    session, _ = stocked_session(alice, name="Dunes", count=1)
    asker = new_page()
    sign_in(asker, "alice")
    asker.goto("/sessions/")
    with asker.expect_download(timeout=30_000):
        asker.get_by_role("button", name="Download").click()
    job = Job.objects.get(session=session, kind=JobKind.EXPORT)
    outsider = new_page()
    sign_in(outsider, "dave")
    response = outsider.request.get(f"/api/sessions/{session.pk}/exports/{job.pk}/file")
    assert response.status == 404
