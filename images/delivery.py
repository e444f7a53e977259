"""Send a stored file to a client that the caller has already authorized.

The caller decides who may see the file; this module only delivers it, with
validators that let a browser revalidate cheaply (ETag, Last-Modified, 304)
and `Cache-Control: private, no-cache`, so that a shared cache never keeps a
copy and every reuse of the browser's copy comes back here to be authorized
again. With TAGGER_MEDIA_OFFLOAD set, the bytes are left to a front proxy
(nginx's X-Accel-Redirect, Apache/lighttpd's X-Sendfile) that only serves
names this view hands it.

Nothing handed to the client names the stored file: storage names are the
content's sha256, and a name that a client can test is an oracle for "does
this server hold that picture?". The ETag is a keyed digest of the name.
"""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import content_disposition_header, http_date

CACHE_CONTROL = "private, no-cache"
OFFLOAD_HEADERS = {"x-accel-redirect": "X-Accel-Redirect", "x-sendfile": "X-Sendfile"}


class StoredFileMissing(Exception):
    """The storage has no file under the name the row points to."""


@dataclass(frozen=True)
class Delivery:
    """One stored file as it will be handed out."""

    storage_name: str
    # What the client is told the file is called (Content-Disposition).
    download_name: str
    # When the content was stored: content-addressed files never change after.
    stored_at: datetime


def deliver(request: HttpRequest, delivery: Delivery) -> HttpResponse:
    """Answer with the file, a 304 when the client's copy is current, or a proxy hand-off."""
    if not delivery.storage_name:
        raise StoredFileMissing("no stored file")
    etag = _etag(delivery.storage_name)
    last_modified = int(delivery.stored_at.timestamp())
    conditional = get_conditional_response(request, etag=etag, last_modified=last_modified)
    if conditional is None:
        conditional = _full_answer(delivery)
    conditional["ETag"] = etag
    conditional["Last-Modified"] = http_date(last_modified)
    conditional["Cache-Control"] = CACHE_CONTROL
    conditional["X-Content-Type-Options"] = "nosniff"
    return conditional


def _full_answer(delivery: Delivery) -> HttpResponse:
    content_type = mimetypes.guess_type(delivery.storage_name)[0] or "application/octet-stream"
    disposition = content_disposition_header(False, delivery.download_name)
    offload = settings.TAGGER_MEDIA_OFFLOAD
    if offload:
        response = HttpResponse(content_type=content_type)
        response[OFFLOAD_HEADERS[offload]] = _offload_target(offload, delivery.storage_name)
    else:
        try:
            handle = default_storage.open(delivery.storage_name, "rb")
        except (FileNotFoundError, OSError) as exc:
            raise StoredFileMissing(delivery.storage_name) from exc
        response = FileResponse(handle, content_type=content_type)
        if "Content-Length" not in response and handle.size is not None:
            # FileResponse measures seekable files only; a stream from S3 knows its size.
            response["Content-Length"] = str(handle.size)
    # FileResponse would name the file after the handle: the stored, hashed name.
    del response["Content-Disposition"]
    if disposition:
        response["Content-Disposition"] = disposition
    return response


def _offload_target(offload: str, storage_name: str) -> str:
    if offload == "x-sendfile":
        # Apache and lighttpd take a path on disk.
        return str(Path(default_storage.path(storage_name)))
    # nginx takes a URI of an `internal` location aliased to MEDIA_ROOT.
    return settings.TAGGER_MEDIA_OFFLOAD_PREFIX.rstrip("/") + "/" + storage_name


def _etag(storage_name: str) -> str:
    # Keyed, so that the validator is no more an oracle than the name would be.
    key = hashlib.sha256(b"tagger-media-etag:" + settings.SECRET_KEY.encode()).digest()
    digest = hmac.new(key, storage_name.encode(), hashlib.sha256).hexdigest()[:32]
    return f'"{digest}"'
