"""Stored originals, thumbnails and display renditions reach members of a session holding
the image, nobody else."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from images import storage
from images.models import Image
from sessions_app import services
from tests.support.api import ApiClient
from tests.support.images import encoded, photo, png_bytes

KINDS = ("file", "thumbnail", "display")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    """Each test stores files under its own folder, never var/media."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def stored(session, alice) -> Image:
    outcome = services.session_import_bytes(
        session, actor=alice, data=png_bytes((1, 2, 3)), original_name="secret cat.png"
    ).value
    assert outcome.status == "imported", outcome
    return Image.objects.get(pk=outcome.image_id)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def media_paths(image: Image) -> list[str]:
    return [f"/media/{image.file.name}", f"/media/{image.thumbnail.name}"]


@pytest.mark.parametrize("debug", [True, False])
def test_storage_names_answer_nobody(stored, as_, alice, dave, settings, debug):
    settings.DEBUG = debug
    for path in media_paths(stored):
        assert Client().get(path).status_code == 404, path
        assert as_(dave).client.get(path).status_code == 404, path
        # Not even a member: the name is a content hash, an oracle for "does it hold X?".
        assert as_(alice).client.get(path).status_code == 404, path


@pytest.mark.parametrize("debug", [True, False])
def test_members_get_the_bytes_outsiders_and_anonymous_do_not(
    stored, as_, bob, carol, dave, settings, debug
):
    settings.DEBUG = debug
    for kind in KINDS:
        url = f"/images/{stored.pk}/{kind}"
        for member in (bob, carol):
            response = as_(member).get(url)
            assert response.status_code == 200, (member, kind)
            assert body(response)
        assert as_(dave).get(url).status_code == 404
        assert ApiClient().get(url).status_code == 401
    assert body(as_(bob).get(f"/images/{stored.pk}/file")) == stored.file.open("rb").read()


def test_no_content_hash_in_what_clients_are_handed(stored, as_, bob, session):
    detail = as_(bob).get(f"/sessions/{session.pk}/images/{stored.pk}")
    listing = as_(bob).get(f"/sessions/{session.pk}/images")
    for answer in (detail, listing):
        assert answer.status_code == 200
        assert stored.sha256 not in answer.content.decode()
    assert detail.json()["file_url"] == f"/api/images/{stored.pk}/file"
    for kind in KINDS:
        response = as_(bob).get(f"/images/{stored.pk}/{kind}")
        headers = " ".join(f"{name}: {value}" for name, value in response.headers.items())
        assert stored.sha256 not in headers, headers
        assert stored.sha256[:16] not in headers, headers
    disposition = as_(bob).get(f"/images/{stored.pk}/file")["Content-Disposition"]
    assert disposition == 'inline; filename="secret cat.png"'


def test_removed_member_loses_access_at_the_next_request(stored, as_, alice, bob, session):
    url = f"/images/{stored.pk}/thumbnail"
    first = as_(bob).get(url)
    assert first.status_code == 200
    services.session_member_remove(session, actor=alice, user=bob)
    # Even a revalidation with the right ETag is authorized again, not answered 304.
    again = as_(bob).client.get(f"/api{url}", headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 404


def test_caching_headers_and_conditional_requests(stored, as_, bob):
    client = as_(bob).client
    for kind in KINDS:
        url = f"/api/images/{stored.pk}/{kind}"
        response = client.get(url)
        assert response["Cache-Control"] == "private, no-cache"
        assert response["ETag"].startswith('"') and response["Last-Modified"]
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Type"] in ("image/png", "image/jpeg", "image/webp")
        same = client.get(url, headers={"If-None-Match": response["ETag"]})
        assert same.status_code == 304 and not body(same)
        assert same["ETag"] == response["ETag"]
        since = client.get(url, headers={"If-Modified-Since": response["Last-Modified"]})
        assert since.status_code == 304
        changed = client.get(url, headers={"If-None-Match": '"something-else"'})
        assert changed.status_code == 200 and body(changed)
    file_etag = client.get(f"/api/images/{stored.pk}/file")["ETag"]
    assert file_etag != client.get(f"/api/images/{stored.pk}/thumbnail")["ETag"]


@pytest.mark.parametrize(
    ("mode", "header"), [("x-accel-redirect", "X-Accel-Redirect"), ("x-sendfile", "X-Sendfile")]
)
def test_transfer_handed_to_a_front_proxy(stored, as_, bob, dave, settings, mode, header):
    settings.TAGGER_MEDIA_OFFLOAD = mode
    settings.TAGGER_MEDIA_OFFLOAD_PREFIX = "/protected-media/"
    response = as_(bob).client.get(f"/api/images/{stored.pk}/file")
    assert response.status_code == 200
    assert body(response) == b""
    if mode == "x-accel-redirect":
        assert response[header] == f"/protected-media/{stored.file.name}"
    else:
        assert response[header] == str(Path(settings.MEDIA_ROOT) / stored.file.name)
    assert response["ETag"] and response["Cache-Control"] == "private, no-cache"
    # The proxy only ever sees names of files the view has authorized.
    refused = as_(dave).client.get(f"/api/images/{stored.pk}/file")
    assert refused.status_code == 404 and header not in refused


def test_staff_preview_through_the_same_view(stored, staff):
    client = Client()
    client.force_login(staff)
    response = client.get(f"/api/images/{stored.pk}/thumbnail")
    assert response.status_code == 200 and body(response)


def test_the_display_of_a_large_png_is_a_small_jpeg(session, alice, as_, bob):
    data = encoded(photo((2400, 1600)), "PNG")
    outcome = services.session_import_bytes(
        session, actor=alice, data=data, original_name="big.png"
    ).value
    image = Image.objects.get(pk=outcome.image_id)
    response = as_(bob).client.get(f"/api/images/{image.pk}/display")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-cache"
    assert response["Content-Disposition"] == 'inline; filename="big-display.jpg"'
    shown = body(response)
    assert len(shown) < len(data) / 5
    assert image.display.name.startswith("displays/") and image.display.name.endswith(".jpg")
    again = as_(bob).client.get(
        f"/api/images/{image.pk}/display", headers={"If-None-Match": response["ETag"]}
    )
    assert again.status_code == 304


def test_an_image_stored_before_renditions_gets_one_on_first_request(session, alice, as_, bob):
    data = encoded(photo((2400, 1600)), "PNG")
    outcome = services.session_import_bytes(
        session, actor=alice, data=data, original_name="old.png"
    ).value
    image = Image.objects.get(pk=outcome.image_id)
    made = image.display.name
    storage.default_storage.delete(made)
    Image.objects.filter(pk=image.pk).update(display="")  # as a row from before
    first = as_(bob).client.get(f"/api/images/{image.pk}/display")
    assert first.status_code == 200 and first["Content-Type"] == "image/jpeg"
    image.refresh_from_db()
    assert image.display.name == made
    assert body(first) == storage.read_content(made)


def test_a_missing_original_without_a_rendition_is_a_404(session, alice, as_, bob, stored):
    Image.objects.filter(pk=stored.pk).update(display="")
    storage.default_storage.delete(stored.file.name)
    assert as_(bob).get(f"/images/{stored.pk}/display").status_code == 404
