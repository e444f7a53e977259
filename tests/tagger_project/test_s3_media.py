"""Media on S3-compatible storage (moto's server): every door stores and reads through the bucket.

Each test has a bucket of its own and a MEDIA_ROOT that must stay empty: a
code path that still wrote or read a local file would leave something there
or find nothing.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from datasets.exporting.rows import image_chunks
from images.models import Image
from sessions_app import services
from tagger_project.s3_storage import StreamedS3File
from tests.support.api import ApiClient, error_of
from tests.support.images import jpeg_bytes, png_bytes
from tests.support.workers import ROOT


def local_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def uploaded(session, as_, bob, s3_bucket) -> Image:
    """cat.png uploaded by bob through the API."""
    files = {"files": [SimpleUploadedFile("cat.png", png_bytes((9, 8, 7), size=(300, 200)))]}
    response = as_(bob).client.post(f"/api/sessions/{session.pk}/images", files)
    assert response.status_code == 200, response.content
    return Image.objects.get(original_name="cat.png")


def test_upload_stores_original_and_thumbnail_in_the_bucket_only(
    uploaded, s3_server, s3_bucket, settings
):
    assert s3_server.keys(s3_bucket) == sorted([uploaded.file.name, uploaded.thumbnail.name])
    assert s3_server.read(s3_bucket, uploaded.file.name) == png_bytes((9, 8, 7), size=(300, 200))
    assert local_files(settings) == []


def test_members_get_file_and_thumbnail_streamed_from_the_bucket(
    uploaded, s3_server, s3_bucket, as_, bob, carol, dave
):
    for kind, key in (("file", uploaded.file.name), ("thumbnail", uploaded.thumbnail.name)):
        url = f"/images/{uploaded.pk}/{kind}"
        stored = s3_server.read(s3_bucket, key)
        for member in (bob, carol):
            response = as_(member).get(url)
            assert response.status_code == 200
            assert response.streaming
            assert body(response) == stored
            assert response["Content-Length"] == str(len(stored))
            assert response["Cache-Control"] == "private, no-cache"
            headers = " ".join(response.headers.values())
            # No storage key, no presigned URL: nothing handed out names the object.
            assert uploaded.sha256[:16] not in headers and s3_bucket not in headers
        again = as_(bob).client.get(f"/api{url}", headers={"If-None-Match": response["ETag"]})
        assert again.status_code == 304
        assert as_(dave).get(url).status_code == 404
        assert ApiClient().get(url).status_code == 401


def test_an_object_missing_from_the_bucket_is_a_clear_404(uploaded, s3_server, s3_bucket, as_, bob):
    s3_server.client().delete_object(Bucket=s3_bucket, Key=uploaded.thumbnail.name)
    response = as_(bob).get(f"/images/{uploaded.pk}/thumbnail")
    assert response.status_code == 404
    assert error_of(response)["message"] == "the image file is missing from storage"


def test_reads_stream_and_a_closed_file_opens_again(uploaded):
    handle = default_storage.open(uploaded.file.name, "rb")
    assert isinstance(handle, StreamedS3File)
    assert handle.size == uploaded.byte_size
    assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    handle.close()
    # An export reads each original through the row's FieldFile, which it may open twice.
    first = b"".join(image_chunks(uploaded))
    assert b"".join(image_chunks(uploaded)) == first == handle.open().read()
    with pytest.raises(FileNotFoundError):
        default_storage.open("originals/00/nothing.png")


def test_import_command_stores_in_the_bucket(alice, s3_server, s3_bucket, settings, tmp_path):
    folder = tmp_path / "dataset"
    folder.mkdir()
    (folder / "a.png").write_bytes(png_bytes((1, 2, 3)))
    (folder / "a.txt").write_text("smile, red hair\n")
    (folder / "b.jpg").write_bytes(jpeg_bytes((4, 5, 6)))
    call_command(
        "import_images",
        str(folder),
        "--session",
        "Imported",
        "--owner",
        "alice",
        "--json",
        stdout=io.StringIO(),
    )
    images = Image.objects.order_by("original_name")
    assert [image.original_name for image in images] == ["a.png", "b.jpg"]
    keys = s3_server.keys(s3_bucket)
    for image in images:
        assert image.file.name in keys and image.thumbnail.name in keys
    assert s3_server.read(s3_bucket, images[0].file.name) == png_bytes((1, 2, 3))
    assert local_files(settings) == []


def test_exports_read_originals_from_the_bucket(uploaded, session, alice, carol, tmp_path):
    original = png_bytes((9, 8, 7), size=(300, 200))
    services.tags_add(session, uploaded.pk, actor=alice, names=["cat"])
    response = ApiClient(carol).get(f"/sessions/{session.pk}/export", format="kohya")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(body(response)))
    assert archive.read("cat.png") == original
    assert archive.read("cat.txt").decode() == "cat"
    call_command(
        "export_dataset", session.name, "--out", str(tmp_path / "out"), stdout=io.StringIO()
    )
    assert (tmp_path / "out" / "cat.png").read_bytes() == original


def settings_in_a_fresh_process(**env: str) -> subprocess.CompletedProcess:
    script = (
        "import json, django; django.setup(); from django.conf import settings;"
        " print(json.dumps(settings.STORAGES['default']))"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tagger_project.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_one_variable_moves_media_to_the_bucket():
    result = settings_in_a_fresh_process(
        TAGGER_S3_BUCKET="media",
        TAGGER_S3_ENDPOINT_URL="http://s3.internal:9000",
        AWS_ACCESS_KEY_ID="key",
        AWS_SECRET_ACCESS_KEY="secret",
    )
    assert result.returncode == 0, result.stderr
    storage = json.loads(result.stdout)
    assert storage["BACKEND"] == "tagger_project.s3_storage.StreamedS3Storage"
    assert storage["OPTIONS"]["bucket_name"] == "media"
    assert storage["OPTIONS"]["endpoint_url"] == "http://s3.internal:9000"
    assert (storage["OPTIONS"]["access_key"], storage["OPTIONS"]["secret_key"]) == ("key", "secret")
    assert storage["OPTIONS"]["default_acl"] is None  # private objects
    unset = settings_in_a_fresh_process(TAGGER_S3_BUCKET="")
    assert json.loads(unset.stdout)["BACKEND"] == "django.core.files.storage.FileSystemStorage"


@pytest.mark.parametrize("offload", ["x-sendfile", "x-accel-redirect"])
def test_a_proxy_hand_off_beside_the_bucket_is_refused(offload):
    result = settings_in_a_fresh_process(TAGGER_S3_BUCKET="media", TAGGER_MEDIA_OFFLOAD=offload)
    assert result.returncode != 0
    assert "TAGGER_MEDIA_OFFLOAD needs media on local disk" in result.stderr
