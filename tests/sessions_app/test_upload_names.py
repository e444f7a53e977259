"""Upload parts whose file name is not UTF-8.

A browser sends UTF-8, but scripts and old tools send Latin-1 or raw bytes;
such a part must still get its result row, never vanish from the answer.
django.http.multipartparser decodes each part header as UTF-8 and drops one
it cannot decode; tagger_project.multipart_names re-encodes such headers first.
It also gives back the blank line of a part that has headers and no body.
"""

import json
import urllib.request

import pytest

from tests.support.images import png_bytes
from tests.support.workers import workers
from tests.support.ws import token_for

pytestmark = pytest.mark.django_db

BOUNDARY = "tagger-test-boundary"


def _multipart(parts: list[tuple[bytes, bytes]]) -> bytes:
    body = b""
    for filename, content in parts:
        body += (
            f"--{BOUNDARY}\r\n".encode()
            + b'Content-Disposition: form-data; name="files"; filename="'
            + filename
            + b'"\r\nContent-Type: image/png\r\n\r\n'
            + content
            + b"\r\n"
        )
    return body + f"--{BOUNDARY}--\r\n".encode()


def test_a_part_with_a_non_utf8_name_gets_its_result(session, as_, bob):
    body = _multipart(
        [(b"caf\xe9.png", png_bytes((1, 2, 3))), (b"\xff\xfe.png", png_bytes((4, 5, 6)))]
    )
    response = as_(bob).client.post(
        f"/api/sessions/{session.pk}/images",
        data=body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["imported"] == 2, answer
    assert len(answer["items"]) == 2
    for item in answer["items"]:
        assert item["status"] == "imported"
        assert item["name"]  # some readable name, never empty


def test_the_latin1_name_is_read_as_latin1(session, as_, bob):
    body = _multipart([(b"caf\xe9 au lait.png", png_bytes((7, 8, 9)))])
    response = as_(bob).client.post(
        f"/api/sessions/{session.pk}/images",
        data=body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert response.status_code == 200, response.content
    assert response.json()["items"][0]["name"] == "caf\u00e9 au lait.png"


@pytest.mark.daphne
@pytest.mark.django_db(transaction=True)
def test_a_real_serve_reads_the_latin1_name(session, bob, settings, tmp_path):
    """The same through daphne's ASGI request, whose body Django spools first."""
    token = token_for(bob)
    body = _multipart([(b"na\xefve.png", png_bytes((10, 11, 12)))])
    with workers(1, MEDIA_ROOT=str(tmp_path / "media")) as (worker,):
        request = urllib.request.Request(
            f"http://127.0.0.1:{worker.port}/api/sessions/{session.pk}/images",
            data=body,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            },
        )
        with urllib.request.urlopen(request, timeout=20) as response:
            answer = json.loads(response.read())
    assert [item["name"] for item in answer["items"]] == ["na\u00efve.png"]
    assert answer["items"][0]["status"] == "imported"


def test_an_empty_part_without_its_blank_line_gets_its_result(session, as_, bob):
    """RFC 2046 lets a bodiless part leave out the blank line, as werkzeug writes an
    empty file; Django dropped such a part and answered "files: Field required"."""
    body = (
        f"\r\n--{BOUNDARY}\r\n".encode()
        + b'Content-Disposition: form-data; name="files"; filename="empty.png"\r\n'
        + b"Content-Type: application/octet-stream\r\n"
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    response = as_(bob).client.post(
        f"/api/sessions/{session.pk}/images",
        data=body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    )
    assert response.status_code == 200, response.content
    assert response.json()["items"] == [
        {"name": "empty.png", "status": "skipped", "image_id": None, "reason": "empty file"}
    ]
