"""Media on S3-compatible storage (TAGGER_S3_BUCKET): django-storages' S3Storage, read as a stream.

django-storages opens an object for reading by downloading all of it into a
SpooledTemporaryFile that never spills to disk (AWS_S3_MAX_MEMORY_SIZE 0),
after a HEAD of its own: a 60 MB original held in a worker's memory per
request, before the first byte goes out. Here a read is one GET whose body
is handed on as it arrives, so the media view, exports and taggers read
originals in bounded pieces, as they do from a local disk. Writes are
django-storages' own.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from django.core.files.base import File
from storages.backends.s3 import S3Storage
from storages.utils import clean_name


class StreamedS3File(File):
    """An object's body as a read-only, forward-only file; `open()` again starts a new GET."""

    def __init__(self, storage: StreamedS3Storage, name: str) -> None:
        self._storage = storage
        super().__init__(None, name)
        self.open()

    def open(self, mode: str | None = None) -> StreamedS3File:
        if mode not in (None, "rb"):
            raise ValueError("a stored object opens for reading only, as 'rb'")
        if self.file is not None and not self.file.closed:
            self.file.close()
        self.file, self.size = self._storage.get_stream(self.name)
        return self


class StreamedS3Storage(S3Storage):
    """S3Storage whose `open(name, "rb")` streams the object instead of buffering it whole."""

    def _open(self, name: str, mode: str = "rb") -> Any:
        if mode != "rb":
            return super()._open(name, mode)
        return StreamedS3File(self, name)

    def get_stream(self, name: str) -> tuple[Any, int]:
        """The object's body (a botocore StreamingBody) and length; FileNotFoundError if absent."""
        key = self._normalize_name(clean_name(name))
        try:
            answer = self.connection.meta.client.get_object(Bucket=self.bucket_name, Key=key)
        except ClientError as exc:
            if exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
                raise FileNotFoundError(f"no stored object {name!r}") from exc
            raise
        return answer["Body"], answer["ContentLength"]
