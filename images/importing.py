"""Find image files in folders and process them in a thread pool, in order, memory bounded.

No database here: the caller's single writer thread stores each result.
Pillow, hashlib and zlib release the GIL while they work, so threads use
every core without forking, and a thread pool keeps results in process.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from images.processing import ImageRejected, Limits, ProcessedImage, process_image_file
from images.services import StoredFiles, image_files_store

logger = logging.getLogger(__name__)

# Files that travel beside images (captions, per-image metadata): read with
# their image, never imported or reported on their own.
SIDECAR_SUFFIXES = frozenset({".txt", ".caption", ".json"})


@dataclass(frozen=True)
class FileResult:
    """A processed image, with the storage names of its files, or the reason it was refused."""

    path: Path
    processed: ProcessedImage | None = None
    reason: str = ""
    files: StoredFiles | None = None


def find_image_files(roots: Sequence[Path]) -> Iterator[Path]:
    """Yield candidate image files under the roots, recursively, in sorted order.

    A root that is a file is yielded as given. In folders, hidden files and
    folders (a leading dot) and sidecar files are passed over; everything else
    is a candidate, recognized later by its content, not its extension.
    """
    for root in roots:
        if not root.is_dir():
            yield root
            continue
        for directory, subdirectories, filenames in os.walk(root):
            subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
            for filename in sorted(filenames):
                if filename.startswith(".") or is_sidecar(filename):
                    continue
                yield Path(directory) / filename


def is_sidecar(filename: str) -> bool:
    """True for caption and metadata files that belong to an image beside them."""
    return Path(filename).suffix.lower() in SIDECAR_SUFFIXES


def process_and_store(path: Path, limits: Limits) -> FileResult:
    """Process one file and write its original and thumbnail (worker thread).

    The display rendition is left to the first request for it
    (images.services.image_display_ensure): a batch brings in thousands of
    files that are each opened in the panel later, if ever, and making it
    here cost a 12 MP JPEG a decode at 1/4 scale instead of 1/8, plus an
    encode and a write (bench/import_steps.py).
    """
    try:
        processed = process_image_file(
            path,
            max_pixels=limits.max_pixels,
            max_bytes=limits.max_bytes,
            thumb_size=limits.thumb_size,
            display_size=limits.display_size,
            make_display=False,
        )
    except ImageRejected as rejected:
        return FileResult(path, reason=rejected.reason)
    except Exception as error:  # one odd file must not stop a 10,000-file import
        logger.exception("unexpected error processing %s", path)
        return FileResult(path, reason=f"cannot process: {type(error).__name__}")
    # Content-addressed and idempotent, so doing it here (in parallel, before
    # the row exists) is safe: a crash leaves files the rerun reuses.
    return FileResult(path, processed=processed, files=image_files_store(processed))


def process_in_order(
    paths: Iterable[Path],
    task: Callable[[Path], FileResult],
    *,
    workers: int,
    window: int | None = None,
) -> Iterator[FileResult]:
    """Run ``task`` over ``paths`` on ``workers`` threads, yielding results in input order.

    At most ``window`` files (default 2 per worker, plus 2) are in flight or
    waiting to be consumed, so memory stays bounded however many files there
    are; in-order results keep session positions and duplicate counting
    deterministic.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    window = window or 2 * workers + 2
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="import")
    pending: deque[Future[FileResult]] = deque()
    try:
        for path in paths:
            pending.append(pool.submit(task, path))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
