"""Content-addressed files in Django's default storage: originals, thumbnails, display renditions.

A file's name is derived from its content's sha256, so saving the same content
twice is a no-op, a rerun after a crash reuses what was written, and two
importers racing on one image end up with one file. Everything goes through
`default_storage` (never raw paths) so that one STORAGES setting can move the
files to S3-compatible storage.
"""

from __future__ import annotations

import re
import threading
import zlib

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Threads of one process may store the same content at once (one picture
# under two names): without a lock, one would see the other's half-written
# file, take it for a cut-short write and delete it mid-write. Striped by
# name. Processes (an import's workers, two imports at once) do not share it:
# there the one that finds a half-written file writes it again, the other's
# write goes to the deleted file, and the last whole write stands.
_LOCKS = tuple(threading.Lock() for _ in range(64))


def original_name(sha256: str, extension: str) -> str:
    """Storage name of an original: ``originals/ab/<sha256><ext>``."""
    return _addressed("originals", sha256, extension)


def thumbnail_name(sha256: str, extension: str) -> str:
    """Storage name of a thumbnail: ``thumbnails/ab/<sha256><ext>``."""
    return _addressed("thumbnails", sha256, extension)


def display_name(sha256: str, extension: str) -> str:
    """Storage name of a display rendition: ``displays/ab/<sha256><ext>``."""
    return _addressed("displays", sha256, extension)


def read_content(name: str) -> bytes:
    """The stored file's bytes; FileNotFoundError (an OSError) when it is not there."""
    with default_storage.open(name, "rb") as handle:
        return handle.read()


def store_content(name: str, data: bytes) -> str:
    """Save ``data`` under ``name`` unless a file of that name and size is already there.

    The name is content-addressed, so an existing file of the right size is
    this content. One of another size is a write cut short (a killed import):
    it is replaced. Returns ``name``.
    """
    with _LOCKS[zlib.crc32(name.encode()) % len(_LOCKS)]:
        if default_storage.exists(name):
            try:
                if default_storage.size(name) == len(data):
                    return name
            except FileNotFoundError:
                pass  # another process took it away meanwhile, to write it again
            default_storage.delete(name)
        # save() checks the name once more and creates the file exclusively:
        # redundant within this process (the lock), but what keeps two
        # processes out of one file, so it stays.
        saved = default_storage.save(name, _whole(data))
    if saved != name:
        # Another process created the same content between our check and our
        # save, and the storage gave us a fresh name: theirs is the same bytes.
        default_storage.delete(saved)
    return name


def is_stored(name: str) -> bool:
    """True when the storage holds a file called ``name``."""
    return bool(name) and default_storage.exists(name)


def _whole(data: bytes) -> ContentFile:
    """The bytes as a File whose chunks() is one piece: one write, no 64 KiB copies."""
    content = ContentFile(data)
    # chunks() reads DEFAULT_CHUNK_SIZE at a time; a read of all of an
    # unmodified BytesIO returns the bytes themselves, without a copy.
    content.DEFAULT_CHUNK_SIZE = max(len(data), 1)
    return content


def _addressed(root: str, sha256: str, extension: str) -> str:
    if not _SHA256.match(sha256):
        raise ValueError(f"not a lowercase hex sha256: {sha256!r}")
    if extension and not re.match(r"^\.[a-z0-9]{1,8}$", extension):
        raise ValueError(f"bad file extension: {extension!r}")
    # One level of 256 buckets, as git does: at 100,000 images a bucket holds
    # ~400 files, and creating a file in a fresh directory costs ~10× one in an
    # existing one (ext4), so a second level (65,536 buckets, nearly every file
    # in a directory of its own) made most saves create two directories.
    return f"{root}/{sha256[:2]}/{sha256}{extension}"
