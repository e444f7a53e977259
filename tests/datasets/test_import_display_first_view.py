"""A batch import leaves display renditions to their first request: cheaper per image, and
the panel still gets the same small file, made once, for members only, on disk or in S3."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from PIL import Image as PILImage

from datasets.importing_pipeline import import_files
from images import storage
from images.models import Image
from images.processing import render_display
from images.services import image_display_ensure
from tests.support.images import encoded, jpeg_bytes, photo


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A camera JPEG and a large PNG (both need a rendition), a small JPEG (its own)."""
    folder = tmp_path / "dataset"
    folder.mkdir()
    (folder / "camera.jpg").write_bytes(encoded(photo((4000, 3000)), "JPEG", quality=90))
    (folder / "large.png").write_bytes(encoded(photo((2400, 1600)), "PNG"))
    (folder / "small.jpg").write_bytes(jpeg_bytes((4, 5, 6), size=(640, 480)))
    return folder


def imported(session, alice, folder: Path) -> dict[str, Image]:
    report = import_files(session, actor=alice, files=sorted(folder.iterdir()), workers=2)
    assert report.imported == 3, report
    return {image.original_name: image for image in Image.objects.all()}


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def displays_stored() -> list[str]:
    """File names under MEDIA_ROOT/displays."""
    root = Path(django_settings.MEDIA_ROOT) / "displays"
    return sorted(path.name for path in root.rglob("*") if path.is_file())


def test_the_import_makes_no_rendition_and_the_first_request_makes_it(
    session, alice, as_, bob, folder
):
    images = imported(session, alice, folder)
    assert images["camera.jpg"].display.name == "" and images["large.png"].display.name == ""
    # An original that is its own rendition is known at once: nothing to make later.
    assert images["small.jpg"].display.name == images["small.jpg"].file.name
    assert displays_stored() == []
    for name, size in (("camera.jpg", (1000, 750)), ("large.png", (1200, 800))):
        image = images[name]
        response = as_(bob).client.get(f"/api/images/{image.pk}/display")
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
        original = storage.read_content(image.file.name)
        made = render_display(original, max_pixels=django_settings.TAGGER_MAX_IMAGE_PIXELS)
        assert made is not None and body(response) == made.data
        image.refresh_from_db()
        assert image.display.name == storage.display_name(image.sha256, ".jpg")
        assert PILImage.open(io.BytesIO(made.data)).size == size
    assert len(displays_stored()) == 2


def test_an_outsider_makes_no_rendition(session, alice, as_, dave, folder):
    image = imported(session, alice, folder)["camera.jpg"]
    assert as_(dave).client.get(f"/api/images/{image.pk}/display").status_code == 404
    image.refresh_from_db()
    assert image.display.name == "" and displays_stored() == []


def test_two_first_requests_racing_end_with_one_file_and_one_name(session, alice, folder):
    image = imported(session, alice, folder)["large.png"]
    first, second = Image.objects.get(pk=image.pk), Image.objects.get(pk=image.pk)
    # Both read the row before either made the rendition; the second finishes last.
    made = image_display_ensure(first)
    assert image_display_ensure(second) == made
    assert Image.objects.get(pk=image.pk).display.name == made
    assert displays_stored() == [Path(made).name]


def test_a_rerun_keeps_the_rendition_the_first_request_made(session, alice, as_, bob, folder):
    image = imported(session, alice, folder)["camera.jpg"]
    assert as_(bob).client.get(f"/api/images/{image.pk}/display").status_code == 200
    made = Image.objects.get(pk=image.pk).display.name
    report = import_files(session, actor=alice, files=sorted(folder.iterdir()), workers=1)
    assert report.duplicates == 3
    assert Image.objects.get(pk=image.pk).display.name == made


def test_in_the_bucket_the_first_request_stores_the_rendition_there(
    session, alice, as_, bob, folder, s3_server, s3_bucket, settings
):
    image = imported(session, alice, folder)["large.png"]
    assert not any(key.startswith("displays/") for key in s3_server.keys(s3_bucket))
    response = as_(bob).client.get(f"/api/images/{image.pk}/display")
    assert response.status_code == 200
    image.refresh_from_db()
    assert image.display.name in s3_server.keys(s3_bucket)
    assert s3_server.read(s3_bucket, image.display.name) == body(response)
    local = Path(settings.MEDIA_ROOT)
    assert not local.exists() or not any(path.is_file() for path in local.rglob("*"))
