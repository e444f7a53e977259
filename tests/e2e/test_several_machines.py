"""Two machines: two workers with disks of their own, one PostgreSQL, one Redis, one S3 bucket.

An upload through one worker shows, with its thumbnail, in a browser signed
in on the other, and the other exports it: nothing a worker needs may live
on its own disk.
"""

import io
import os
import random
import zipfile
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import expect

from images.models import Image
from sessions_app import services as session_services
from tests.e2e.conftest import DESKTOP, PHONE, off_loop, screenshot, sign_in
from tests.e2e.test_workspace import picture
from tests.support.workers import workers

pytestmark = [pytest.mark.e2e, pytest.mark.daphne, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: workers on several machines share a database server")


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def machine(tmp_path: Path, name: str) -> dict[str, str]:
    """A worker's own disk: its media and static folders, empty at the start."""
    disk = tmp_path / name
    (disk / "media").mkdir(parents=True)
    return {"MEDIA_ROOT": str(disk / "media"), "STATIC_ROOT": str(disk / "static")}


def page_on(browser, worker, viewport=DESKTOP):
    context = browser.new_context(viewport=viewport, base_url=f"http://127.0.0.1:{worker.port}")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return page


def test_upload_on_one_worker_shows_and_exports_on_the_other(
    postgres, redis_url, s3_server, browser, alice, bob, tmp_path
):
    session = off_loop(session_services.session_create, owner=alice, name="Shared").value
    off_loop(session_services.session_member_add, session, actor=alice, user=bob, role="editor")
    bucket = s3_server.new_bucket()
    shared = {
        **s3_server.env(bucket),
        # One secret for both, as behind a load balancer: a cookie from either works on both.
        "SECRET_KEY": "several-machines-" + "k" * 50,
        "CHANNEL_LAYER_PREFIX": f"t{os.getpid()}-{random.randrange(10**9)}",
        "DEBUG": "true",
    }
    disks = {name: machine(tmp_path, name) for name in ("one", "two")}
    with (
        workers(1, redis_url=redis_url, **shared, **disks["one"]) as (one,),
        workers(1, redis_url=redis_url, **shared, **disks["two"]) as (two,),
    ):
        uploader = page_on(browser, one)
        sign_in(uploader, "alice")
        uploader.get_by_label("Upload images to Shared").set_input_files(
            [{"name": "harbour.png", "mimeType": "image/png", "buffer": picture(3)}]
        )
        expect(uploader.get_by_text("Done: 1 added")).to_be_visible()
        image = Image.objects.get(original_name="harbour.png")

        viewer = page_on(browser, two)
        sign_in(viewer, "bob")
        viewer.goto(f"/sessions/{session.pk}/")
        thumbnail = viewer.locator(f"#tile-{image.pk} img")
        expect(thumbnail).to_have_attribute("src", f"/api/images/{image.pk}/thumbnail")
        # Decoded: the bytes came back from worker two, out of the bucket.
        viewer.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle()
        )
        original = viewer.evaluate(
            "async id => { const r = await fetch(`/api/images/${id}/file`);"
            " return [r.status, (await r.arrayBuffer()).byteLength]; }",
            image.pk,
        )
        assert original == [200, len(picture(3))]
        screenshot(viewer, "several-machines-workspace-1280x800")
        viewer.set_viewport_size(PHONE)
        screenshot(viewer, "several-machines-workspace-390x844")

        viewer.goto("/sessions/")
        with viewer.expect_download() as download:
            viewer.get_by_role("button", name="Download").click()
        with zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes())) as archive:
            assert archive.read("harbour.png") == picture(3)
        assert uploader.errors == viewer.errors == []

    # The export job built its zip into the bucket too, so either worker can hand it over.
    exports = [key for key in s3_server.keys(bucket) if key.startswith("exports/")]
    assert len(exports) == 1 and exports[0].endswith("/shared-kohya.zip")
    assert sorted(s3_server.keys(bucket)) == sorted(
        [image.file.name, image.thumbnail.name, *exports]
    )
    for name in ("one", "two"):
        assert files_under(Path(disks[name]["MEDIA_ROOT"])) == [], name
