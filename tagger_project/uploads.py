"""Upload limits enforced while the request streams in, before anything is stored.

Django only limits the non-file part of a request (DATA_UPLOAD_MAX_MEMORY_SIZE);
file parts are streamed to temporary files without a bound. This handler,
first in FILE_UPLOAD_HANDLERS, refuses a body, a file or a file count over
the TAGGER_* limits as soon as it sees it, so a huge upload never fills the disk.
"""

import sys
import warnings

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http.multipartparser import MultiPartParserError
from PIL import Image

# Multipart framing (boundaries, part headers) on top of the file bytes.
FRAMING_ALLOWANCE = 1024 * 1024


class UploadTooLarge(MultiPartParserError):
    """Raised mid-parse; Django marks the body unreadable and the API answers 413."""


class LimitedUploadHandler(FileUploadHandler):
    """Refuse a request over the byte, file-count or per-file limits while it streams."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.files_seen = 0
        max_body = (
            settings.TAGGER_MAX_UPLOAD_BYTES * settings.TAGGER_MAX_UPLOAD_FILES + FRAMING_ALLOWANCE
        )
        if content_length > max_body:
            raise UploadTooLarge(f"the request body is larger than {max_body} bytes")

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.files_seen = getattr(self, "files_seen", 0) + 1
        if self.files_seen > settings.TAGGER_MAX_UPLOAD_FILES:
            raise UploadTooLarge(f"at most {settings.TAGGER_MAX_UPLOAD_FILES} files per request")

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > settings.TAGGER_MAX_UPLOAD_BYTES:
            raise UploadTooLarge(
                f"{self.file_name!r} is larger than {settings.TAGGER_MAX_UPLOAD_BYTES} bytes"
            )
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def image_pixels(fileobj) -> int | None:
    """Width × height from the image header (no decode), or None if it is not an image."""
    try:
        with warnings.catch_warnings():
            # Pillow warns past its own limit; we compare against ours below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(fileobj) as im:
                return im.width * im.height
    except Image.DecompressionBombError:
        # Over twice Pillow's limit, which is at least ours: too many pixels.
        return sys.maxsize
    except Exception:
        # Not an image: the import says so for this file.
        return None
    finally:
        fileobj.seek(0)
